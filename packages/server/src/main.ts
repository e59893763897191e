/**
 * `npm start`: the API on HOST:PORT (127.0.0.1:8787) over SQLite under ./data (or PostgreSQL with a
 * `postgres://` DATABASE_URL), with the deadline scheduler running. Without OPERATOR_TOKEN, an
 * operator token is generated once, kept in ./data/operator-token (mode 0600) and reused; its path
 * is printed, never the token.
 */
import { Tokens } from "@clawbounties/marketplace"
import { Cause, Config as EffectConfig, ConfigError, Effect, Exit, Layer, Option, Runtime } from "effect"
import { randomBytes } from "node:crypto"
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import * as Config from "./Config.js"
import * as Engine from "./Engine.js"
import * as OpenApi from "./OpenApi.js"
import * as RateLimits from "./RateLimits.js"
import * as Server from "./Server.js"

const fail = (lines: ReadonlyArray<string>): never => {
  for (const line of lines) process.stderr.write(`clawbounties: ${line}\n`)
  process.exit(1)
}

/** The configured token, or the one kept under the data directory (created on first start). */
const operatorToken = (dataDir: string): { readonly layer: Layer.Layer<Tokens.OperatorToken, unknown>; readonly where: string } => {
  // Only whether it is set: `Tokens.layer` reads and checks the value itself.
  const configured = Effect.runSync(Effect.option(EffectConfig.string("OPERATOR_TOKEN")))
  if (Option.isSome(configured)) return { layer: Tokens.layer, where: "from OPERATOR_TOKEN" }
  const file = resolve(join(dataDir, "operator-token"))
  let token = ""
  try {
    if (existsSync(file)) {
      token = readFileSync(file, "utf8").trim()
      if (token.length < Tokens.MIN_OPERATOR_TOKEN_LENGTH) fail([`${file}: the operator token is shorter than ${Tokens.MIN_OPERATOR_TOKEN_LENGTH} characters`])
      if (!Tokens.isPresentable(token)) fail([`${file}: the operator token must be visible ASCII only (no spaces or other characters a bearer token cannot carry)`])
    } else {
      mkdirSync(dataDir, { recursive: true })
      token = `cbt_operator_${randomBytes(32).toString("base64url")}`
      writeFileSync(file, `${token}\n`, { mode: 0o600, flag: "wx" })
    }
    chmodSync(file, 0o600)
  } catch (error) {
    fail([`bad setting DATA_DIR: cannot keep the operator token in ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)}); set OPERATOR_TOKEN or choose another DATA_DIR`])
  }
  const hash = Buffer.from(Tokens.hashToken(token), "base64url")
  return { layer: Layer.succeed(Tokens.OperatorToken, { hash: Option.some(hash) }), where: `in ${file}` }
}

/**
 * A start-up failure as one line. A SqlError's message says only which step failed ("Failed to
 * execute statement"); the database's reason ("cannot execute CREATE TABLE in a read-only
 * transaction") is its cause's message, which names no password.
 */
const startFailure = (error: unknown): string => {
  const cause = Runtime.isFiberFailure(error) ? error[Runtime.FiberFailureCauseId] : undefined
  const failure = Cause.isCause(cause) ? Option.getOrElse(Cause.failureOption(cause), () => error) : error
  const message = failure instanceof Error ? failure.message : error instanceof Error ? error.message : String(error)
  const reason = (failure as { readonly cause?: unknown } | null)?.cause
  const detail = reason instanceof Error && reason.message !== "" && !message.includes(reason.message) ? `: ${reason.message}` : ""
  return `${message}${detail}`.replace(/\s*\n\s*/g, " ")
}

const main = async () => {
  const settings = await Effect.runPromiseExit(Config.config)
  if (Exit.isFailure(settings)) {
    fail(Config.configErrorsOf(settings.cause).map((line) => `bad setting ${line}`))
    return
  }
  const config = settings.value
  const operator = operatorToken(config.dataDir)
  const store = Engine.storeOf(config)

  let running: Server.Running
  try {
    running = await Server.start({
      host: config.host,
      port: config.port,
      bodyLimitBytes: config.bodyLimitBytes,
      engine: { store, operatorToken: operator.layer },
      scheduler: { interval: config.sweepInterval, enabled: true, webhookInterval: config.webhookDeliveryInterval },
      rateLimits: Effect.runSync(RateLimits.make(config.rateLimits))
    })
  } catch (error) {
    // A bad engine setting (BOUNTY_*, OPERATOR_TOKEN, ...) arrives as a ConfigError in the cause.
    const cause = Runtime.isFiberFailure(error) ? error[Runtime.FiberFailureCauseId] : Cause.isCause(error) ? error : (error as { cause?: unknown })?.cause
    const lines = Cause.isCause(cause) ? Config.configErrorsOf(cause) : ConfigError.isConfigError(error) ? Config.describeConfigError(error) : []
    fail(lines.length > 0 ? lines.map((line) => `bad setting ${line}`) : [`could not start: ${startFailure(error)}`])
    return
  }

  const storage = store._tag === "sqlite" ? `SQLite ${resolve(store.filename)}` : "PostgreSQL (DATABASE_URL)"
  process.stdout.write([
    `clawbounties listening on ${running.url}`,
    `  API reference  ${running.url}${OpenApi.DOCS_PATH}`,
    `  OpenAPI        ${running.url}${OpenApi.DOCUMENT_PATH}`,
    `  storage        ${storage}`,
    `  operator token ${operator.where}`,
    ""
  ].join("\n"))

  const stop = (signal: string) => {
    process.stdout.write(`clawbounties: ${signal}, finishing requests in flight\n`)
    running.close().then(
      () => process.exit(0),
      (error) => fail([`shutdown failed: ${error instanceof Error ? error.message : String(error)}`])
    )
  }
  process.once("SIGTERM", () => stop("SIGTERM"))
  process.once("SIGINT", () => stop("SIGINT"))
}

void main()
