/**
 * A fresh PostgreSQL database per test file, dropped afterwards, for any package's tests.
 *
 * ```ts
 * const pg = await PgTestDatabase.probe()
 * describe.skipIf(!pg.available)(`postgres ${pg.reason}`, () => {
 *   layer(PgTestDatabase.layer({ prefix: "ledger" }))("postgres", (it) => suite(it))
 * })
 * ```
 *
 * Without a reachable server the tests skip with the reason in their name, except when `CI=true`:
 * then `probe` throws, so a CI run never passes by skipping. The server is `PG_TEST_URL`
 * (default `postgres://postgres@127.0.0.1:5432/postgres`, trust auth as on the project machines).
 */
import { randomBytes } from "node:crypto"
import { SqlClient } from "@effect/sql"
import type { MigrationError } from "@effect/sql/Migrator"
import type { SqlError } from "@effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import type { Migrations } from "@clawbounties/ledger"
import { type ConfigError, Duration, Effect, Layer, Redacted } from "effect"
import * as Postgres from "./Postgres.js"

export const adminUrl = (): string => process.env.PG_TEST_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"

const withDatabase = (url: string, database: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

export interface Probe {
  readonly available: boolean
  /** Why PostgreSQL tests are skipped, or "" when they run. */
  readonly reason: string
}

/** Checks the server once; throws when unreachable under `CI=true`. */
export const probe = async (): Promise<Probe> => {
  const outcome = await Effect.runPromise(Effect.either(admin("SELECT 1")))
  if (outcome._tag === "Right") return { available: true, reason: "" }
  const cause = outcome.left.cause
  const reason = `(skipped: PostgreSQL unreachable at ${adminUrl()}: ${cause instanceof Error ? cause.message : outcome.left.message})`
  if (process.env.CI === "true") throw new Error(`CI=true requires PostgreSQL: ${reason}`)
  return { available: false, reason }
}

/** One statement on the admin database, on a connection of its own. */
const admin = (statement: string): Effect.Effect<void, SqlError> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)).pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(adminUrl()), maxConnections: 1, connectTimeout: Duration.seconds(3) })),
    Effect.asVoid
  )

/** Creates `<prefix>_<random>` and drops it (WITH FORCE) when the scope closes. */
export const database = (prefix = "test") =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const name = `${prefix.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}_${randomBytes(5).toString("hex")}`
      yield* admin(`CREATE DATABASE ${name}`)
      return { name, url: withDatabase(adminUrl(), name) }
    }),
    ({ name }) => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).pipe(Effect.ignore)
  )

export interface LayerOptions {
  readonly prefix?: string | undefined
  readonly migrations?: ReadonlyArray<Migrations.MigrationSet> | undefined
  readonly maxConnections?: number | undefined
  /** See `Postgres.Options.preparedStatements`. */
  readonly preparedStatements?: number | undefined
}

/** A migrated `SqlClient` on a database of its own, dropped when the layer is released. */
export const layer = (
  options: LayerOptions = {}
): Layer.Layer<SqlClient.SqlClient | PgClient.PgClient, ConfigError.ConfigError | SqlError | MigrationError> =>
  Layer.unwrapScoped(
    Effect.map(database(options.prefix), ({ url }) =>
      Postgres.layer({
        url,
        migrations: options.migrations,
        maxConnections: options.maxConnections ?? 20,
        preparedStatements: options.preparedStatements
      }))
  )
