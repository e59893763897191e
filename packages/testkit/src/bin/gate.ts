/** `npx clawbounties-gate --target http://127.0.0.1:8787 [--operator-token ...]` */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Logger, LogLevel } from "effect"
import * as Cli from "../Cli.js"

Command.run(Cli.gate, { name: "clawbounties-gate", version: "0.0.0" })(process.argv).pipe(
  Logger.withMinimumLogLevel(LogLevel.Warning),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: false })
)
