/**
 * SQLite storage, the embedded default: our `SqlClient` over better-sqlite3 (`SqliteClient`), tuned
 * for money, with the migrations of every package that has tables.
 *
 * - WAL (set by the client), `synchronous=FULL`: a committed transfer survives a power loss.
 * - `foreign_keys=ON`: postings reference real entries and balances.
 * - `busy_timeout`: another process holding the write lock makes us wait, not fail at once.
 * - `temp_store=MEMORY`: every command runs in a savepoint (`GroupCommit`), and SQLite keeps the
 *   pages a savepoint may roll back in a statement journal. On disk that was a temporary file per
 *   transaction and two thirds of all writes (239k of the 371k `pwrite` calls of a 1000-job simulation);
 *   it is never needed after a crash, so memory is the right place for it.
 * - One writer connection per process. Its transactions queue in arrival order and begin with
 *   `BEGIN IMMEDIATE`, so other processes writing the same file wait for the lock up front; those
 *   started while one is open share its COMMIT (`GroupCommit`). On a file, reads outside a
 *   transaction use a second, read-only connection.
 * - Statements run on their connection directly, inside a transaction or not (`DirectExecution`).
 * - Money columns are read with `SqlClient.SafeIntegers` by the packages that own them.
 */
import { SqlClient } from "@effect/sql"
import type { MigrationError } from "@effect/sql/Migrator"
import type { SqlError } from "@effect/sql/SqlError"
import { DirectExecution, Migrations } from "@clawbounties/ledger"
import { Config, type ConfigError, Effect, Layer } from "effect"
import * as SqliteClient from "./SqliteClient.js"

export interface Options {
  /** A file path, or `:memory:` for tests. */
  readonly filename: string
  /**
   * The migration sets to run, in order: the ledger's alone by default. For the whole engine pass
   * the marketplace's `Engine.migrations`; without its tables every marketplace command fails.
   */
  readonly migrations?: ReadonlyArray<Migrations.MigrationSet> | undefined
  /** How long to wait for another process's write lock, 5 s by default. */
  readonly busyTimeoutMillis?: number | undefined
  /** Transactions that may share one COMMIT, 32 by default; 1 commits each on its own. */
  readonly maxGroupSize?: number | undefined
  /** Called after each COMMIT with the number of transactions that shared it (for metrics). */
  readonly onCommit?: ((transactions: number, waited: boolean) => void) | undefined
}

/** What the layers provide. */
export type Services = SqlClient.SqlClient

/** The tables every deployment needs, in dependency order. */
export const defaultMigrations: ReadonlyArray<Migrations.MigrationSet> = [Migrations.ledger]

/** Sets the pragmas money needs on the client's (single) connection. */
export const configure = (options?: { readonly busyTimeoutMillis?: number | undefined }) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const timeout = Math.max(0, Math.trunc(options?.busyTimeoutMillis ?? 5000))
    yield* sql.unsafe(`PRAGMA busy_timeout = ${timeout}`)
    yield* sql.unsafe("PRAGMA synchronous = FULL")
    yield* sql.unsafe("PRAGMA foreign_keys = ON")
    yield* sql.unsafe("PRAGMA temp_store = MEMORY")
  })

/** `SqlClient` on `filename`, configured and migrated. */
export const layer = (
  options: Options
): Layer.Layer<Services, ConfigError.ConfigError | SqlError | MigrationError> =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      yield* configure(options)
      yield* Migrations.run(options.migrations ?? defaultMigrations)
    })
  ).pipe(
    Layer.provideMerge(DirectExecution.layer),
    Layer.provideMerge(SqliteClient.layer({ filename: options.filename, maxGroupSize: options.maxGroupSize, onCommit: options.onCommit }))
  )

/** A fresh in-memory database: the fast, real store for tests. */
export const layerMemory = (
  migrations: ReadonlyArray<Migrations.MigrationSet> = defaultMigrations
): Layer.Layer<Services, ConfigError.ConfigError | SqlError | MigrationError> =>
  layer({ filename: ":memory:", migrations })

/**
 * Reads the file name from `SQLITE_FILE` (default `clawbounties.db`), the setting the packaged
 * server reads. A blank value is refused: better-sqlite3 would open a temporary database for it,
 * deleted when the process exits.
 */
export const layerConfig = (
  migrations: ReadonlyArray<Migrations.MigrationSet> = defaultMigrations
): Layer.Layer<Services, ConfigError.ConfigError | SqlError | MigrationError> =>
  Layer.unwrapEffect(
    Effect.map(
      Config.string("SQLITE_FILE").pipe(
        Config.validate({ message: "SQLITE_FILE must not be empty", validation: (value) => value.trim() !== "" }),
        Config.withDefault("clawbounties.db")
      ),
      (filename) => layer({ filename, migrations })
    )
  )
