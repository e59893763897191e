/**
 * PostgreSQL storage: the `SqlClient` layer from @effect/sql-pg, with the migrations of every
 * package that has tables, and the transaction helper that retries serialization failures and
 * deadlocks.
 *
 * The engine runs at READ COMMITTED (PostgreSQL's default) and never reads-then-writes a balance in
 * the application without a lock: it locks the rows it changes with `SELECT ... FOR UPDATE` in a
 * fixed order (idempotency keys, then holds, then balances by account, bucket, currency), and a
 * `CHECK` forbids negative balances as a backstop. See ledger-notes §5 for why.
 */
import { SqlClient } from "@effect/sql"
import type { MigrationError } from "@effect/sql/Migrator"
import { SqlError } from "@effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import { DirectExecution, Migrations, Transaction } from "@clawbounties/ledger"
import { Config, type ConfigError, Duration, Effect, Layer, Redacted } from "effect"
import pg from "pg"
import * as PreparedStatements from "./PreparedStatements.js"

export interface Options {
  /** `postgres://user@host:5432/db`. */
  readonly url: string | Redacted.Redacted
  /**
   * The migration sets to run, in order: the ledger's alone by default. For the whole engine pass
   * the marketplace's `Engine.migrations`; without its tables every marketplace command fails.
   */
  readonly migrations?: ReadonlyArray<Migrations.MigrationSet> | undefined
  /** Pool size, 10 by default. */
  readonly maxConnections?: number | undefined
  readonly applicationName?: string | undefined
  /**
   * Statement texts each connection prepares once and reuses (`PreparedStatements`),
   * {@link DEFAULT_PREPARED_STATEMENTS} by default; 0 sends every statement unnamed, as a pooler in
   * transaction mode needs.
   */
  readonly preparedStatements?: number | undefined
  /** How long to wait for the first connection at start-up, 5 s by default. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /**
   * The `lock_timeout` of every connection, {@link DEFAULT_LOCK_TIMEOUT} by default: how long a
   * statement waits for a lock another transaction holds before it fails (`DatabaseTimeout`). 0 sets
   * none, leaving the role's or database's setting (PostgreSQL's default: wait for ever).
   */
  readonly lockTimeout?: Duration.DurationInput | undefined
  /**
   * The `statement_timeout` of every connection, {@link DEFAULT_STATEMENT_TIMEOUT} by default; 0 sets
   * none, as for `lockTimeout`.
   */
  readonly statementTimeout?: Duration.DurationInput | undefined
}

export const DEFAULT_PREPARED_STATEMENTS = 256

/**
 * PostgreSQL waits for a lock, and runs a statement, for as long as it takes. A request stuck
 * behind a row lock would hold its pool connection as long as the lock is held, and a few such
 * requests starve the pool. A command takes milliseconds, so waiting 5 s for a lock means the holder
 * is stuck or very slow; 30 s bounds any statement, reconcile and large sweeps included.
 */
export const DEFAULT_LOCK_TIMEOUT = Duration.seconds(5)
export const DEFAULT_STATEMENT_TIMEOUT = Duration.seconds(30)

/** The tables every deployment needs, in dependency order. */
export const defaultMigrations: ReadonlyArray<Migrations.MigrationSet> = [Migrations.ledger]

/** Checks the isolation level the engine's locking is designed for. */
const checkIsolation = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ level: string }>`SELECT current_setting('default_transaction_isolation') AS level`
  const level = rows[0]?.level
  if (level !== "read committed") {
    yield* Effect.logWarning(
      `PostgreSQL default_transaction_isolation is '${level}'; the engine is designed for READ COMMITTED with row locks (it stays correct, with more retries)`
    )
  }
})

/** PostgreSQL counts whole milliseconds: rounded up, so a tiny timeout does not become 0 (none). */
const wholeMillis = (duration: Duration.DurationInput): number => Math.ceil(Duration.toMillis(duration))

/**
 * The pool, checked with one query so a wrong URL fails at start-up, and ended with the scope.
 * Its clients prepare statements unless `preparedStatements` is 0.
 */
const pool = (options: Options) =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const maxStatements = options.preparedStatements ?? DEFAULT_PREPARED_STATEMENTS
      const created = new pg.Pool({
        connectionString: typeof options.url === "string" ? options.url : Redacted.value(options.url),
        max: options.maxConnections ?? 10,
        application_name: options.applicationName ?? "clawbounties",
        connectionTimeoutMillis: Duration.toMillis(options.connectTimeout ?? Duration.seconds(5)),
        // Sent in the startup packet of each connection, so they are in force from its first
        // statement, cost no round trip, and leave the statements it prepares untouched. pg sends
        // none for 0. They take precedence over ALTER ROLE/DATABASE ... SET.
        lock_timeout: wholeMillis(options.lockTimeout ?? DEFAULT_LOCK_TIMEOUT),
        statement_timeout: wholeMillis(options.statementTimeout ?? DEFAULT_STATEMENT_TIMEOUT),
        ...(maxStatements > 0 ? { Client: PreparedStatements.clientClass(maxStatements) } : {})
      })
      // An idle client's error (the server restarted) is the pool's to handle: it drops the client.
      created.on("error", () => {})
      return Effect.tryPromise({
        try: () => created.query("SELECT 1").then(() => created),
        catch: (cause) => {
          void created.end()
          // pg's messages name the host and the user, never the password.
          const reason = cause instanceof Error && cause.message !== "" ? `: ${cause.message}` : ""
          return new SqlError({ cause, message: `Failed to connect to PostgreSQL${reason}` })
        }
      })
    }),
    (created) => Effect.promise(() => created.end()).pipe(Effect.timeoutOption(1000))
  )

/** `SqlClient` (and `PgClient`) on `url`, migrated. */
export const layer = (
  options: Options
): Layer.Layer<SqlClient.SqlClient | PgClient.PgClient, ConfigError.ConfigError | SqlError | MigrationError> =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      yield* checkIsolation
      yield* Migrations.run(options.migrations ?? defaultMigrations)
    })
  ).pipe(
    Layer.provideMerge(DirectExecution.layer),
    Layer.provideMerge(PgClient.layerFromPool({ acquire: pool(options), applicationName: options.applicationName ?? "clawbounties" }))
  )

/** Reads `DATABASE_URL`. */
export const layerConfig = (
  migrations: ReadonlyArray<Migrations.MigrationSet> = defaultMigrations
): Layer.Layer<SqlClient.SqlClient | PgClient.PgClient, ConfigError.ConfigError | SqlError | MigrationError> =>
  Layer.unwrapEffect(
    Effect.map(Config.redacted("DATABASE_URL"), (url) => layer({ url, migrations }))
  )

/**
 * Runs `effect` as one transaction, retried (a bounded number of times) on serialization failures
 * (40001) and deadlocks (40P01) when it is the outermost transaction. The same helper the ledger
 * uses; it is dialect-agnostic, so library code can call `Transaction.run` from the ledger package.
 */
export const withRetry = Transaction.run

/** True for the SQLSTATEs worth retrying. */
export const isRetryable = Transaction.isRetryable
