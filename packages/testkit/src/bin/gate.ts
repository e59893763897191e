/** `npx clawbounties-gate --target http://127.0.0.1:8787 [--operator-token ...]` */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Logger, LogLevel } from "effect"
import * as Cli from "../Cli.js"

Command.run(Cli.gate, { name: "clawbounties-gate", version: "0.0.0" })(process.argv).pipe(
  Logger.withMinimumLogLevel(LogLevel.Warning),
  // One line for an unclean run or a blocked gate (the summary is already printed), exit code 1.
  Effect.tapError((error) => (error instanceof Error ? Console.error(error.message) : Effect.void)),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
