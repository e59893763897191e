/** `npx clawbounties-sim --total 200 --max-concurrency 10 --seed 42 [--target http://127.0.0.1:8787]` */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Logger, LogLevel } from "effect"
import * as Cli from "../Cli.js"

Command.run(Cli.sim, { name: "clawbounties-sim", version: "0.0.0" })(process.argv).pipe(
  // The engine logs each deadline sweep; the run's own output is the summary.
  Logger.withMinimumLogLevel(LogLevel.Warning),
  // One line for an unclean run or a blocked gate (the summary is already printed), exit code 1.
  Effect.tapError((error) => (error instanceof Error ? Console.error(error.message) : Effect.void)),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
