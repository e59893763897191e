/** `npx clawbounties-sim --total 200 --max-concurrency 10 --seed 42 [--target http://127.0.0.1:8787]` */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Logger, LogLevel } from "effect"
import * as Cli from "../Cli.js"

Command.run(Cli.sim, { name: "clawbounties-sim", version: "0.0.0" })(process.argv).pipe(
  // The engine logs each deadline sweep; the run's own output is the summary.
  Logger.withMinimumLogLevel(LogLevel.Warning),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: false })
)
