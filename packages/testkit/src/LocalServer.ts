/**
 * A real `@clawbounties/server` on loopback for tests and local runs: a SQLite file or a PostgreSQL
 * database, a known operator token, the background scheduler off (runs drive sweeps through the operator route), and
 * a restart that cuts connections in flight (no grace) and serves the same database on the same
 * port again, which is what the `server_restart` fault needs.
 *
 * Marketplace settings come from `Config` as in production (`BOUNTY_MIN_DEADLINE`, ...): set them in
 * the environment before `start` to shorten deadlines for a test. Rate limits are off unless given:
 * a simulation sends hundreds of requests a second from one address and a few principals, and
 * several runs share one server.
 */
import { Tokens } from "@clawbounties/marketplace"
import { RateLimits, Server } from "@clawbounties/server"
import { Effect, Layer, Option } from "effect"

export type Options = {
  /** At least 32 characters. */
  readonly operatorToken: string
  /** 0 (default) picks a free port on the first start; restarts reuse it. */
  readonly port?: number | undefined
  /** Per-caller rate limits; `RateLimits.off` by default. */
  readonly rateLimits?: RateLimits.Settings | undefined
} & (
  /** A SQLite file, created and migrated if missing. */
  | { readonly file: string }
  /** A PostgreSQL URL; the database must exist, and is migrated. */
  | { readonly databaseUrl: string }
)

export interface LocalServer {
  readonly url: string
  readonly operatorToken: string
  /** Cuts every connection, stops, and starts again on the same port and database. */
  readonly restart: () => Promise<void>
  readonly close: () => Promise<void>
}

export const start = async (options: Options): Promise<LocalServer> => {
  const operatorToken = Layer.succeed(Tokens.OperatorToken, {
    hash: Option.some(Buffer.from(Tokens.hashToken(options.operatorToken), "base64url"))
  })
  const boot = (port: number) =>
    Server.start({
      host: "127.0.0.1",
      port,
      bodyLimitBytes: 1024 * 1024,
      engine: {
        store: "databaseUrl" in options ? { _tag: "postgres", url: options.databaseUrl } : { _tag: "sqlite", filename: options.file },
        operatorToken
      },
      scheduler: { interval: "1 hour", enabled: false },
      shutdownGrace: 0,
      rateLimits: Effect.runSync(RateLimits.make(options.rateLimits ?? RateLimits.off))
    })
  let running = await boot(options.port ?? 0)
  const port = running.port
  return {
    url: running.url,
    operatorToken: options.operatorToken,
    restart: async () => {
      await running.close()
      running = await boot(port)
    },
    close: () => running.close()
  }
}
