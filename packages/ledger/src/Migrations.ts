/**
 * Migrations per package and dialect. Each package with tables exports a `MigrationSet`; an adapter
 * runs the sets it is given, in order, each into its own migrations table (`ledger_migrations`, ...),
 * with `Migrator.fromRecord` from @effect/sql.
 */
import { Migrator, SqlClient } from "@effect/sql"
import type { MigrationError } from "@effect/sql/Migrator"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import pg0001 from "./migrations/pg/0001_ledger.js"
import sqlite0001 from "./migrations/sqlite/0001_ledger.js"
import feePostingsByEntry from "./migrations/0002_fee_postings_by_entry.js"

export type MigrationRecord = Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>>

export interface MigrationSet {
  /** The package, for logs. */
  readonly name: string
  /** Its own migrations table, so packages number their migrations independently. */
  readonly table: string
  readonly sqlite: MigrationRecord
  readonly pg: MigrationRecord
}

/** The ledger's tables: accounts, balances, entries, postings, holds, idempotency. */
export const ledger: MigrationSet = {
  name: "ledger",
  table: "ledger_migrations",
  sqlite: { "0001_ledger": sqlite0001, "0002_fee_postings_by_entry": feePostingsByEntry },
  pg: { "0001_ledger": pg0001, "0002_fee_postings_by_entry": feePostingsByEntry }
}

/** Runs the sets in order for the client's dialect. Returns the migrations applied, per set. */
export const run = (
  sets: ReadonlyArray<MigrationSet>
): Effect.Effect<ReadonlyArray<{ readonly set: string; readonly applied: ReadonlyArray<string> }>, MigrationError | SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const dialect = sql.onDialectOrElse({ pg: () => "pg" as const, sqlite: () => "sqlite" as const, orElse: () => undefined })
    if (dialect === undefined) return yield* Effect.dieMessage("Migrations: only SQLite and PostgreSQL are supported")
    // @effect/sql's Migrator creates a migrations table when a probe finds none, so replicas starting
    // together on a fresh PostgreSQL database each created it and all but one failed on the catalog
    // (23505). The tables are created here first, one process at a time; the Migrator's own lock on
    // the table then serializes the migrations.
    if (dialect === "pg") {
      yield* sql.withTransaction(Effect.gen(function* () {
        yield* sql`SELECT pg_advisory_xact_lock(hashtext('clawbounties/migrations'))`
        for (const set of sets) {
          yield* sql`CREATE TABLE IF NOT EXISTS ${sql(set.table)} (
            migration_id integer primary key,
            created_at timestamp with time zone not null default now(),
            name text not null
          )`
        }
      }))
    }
    const migrate = Migrator.make({})
    return yield* Effect.forEach(sets, (set) =>
      migrate({ loader: Migrator.fromRecord(set[dialect]), table: set.table }).pipe(
        Effect.map((applied) => ({ set: set.name, applied: applied.map(([id, name]) => `${id}_${name}`) })),
        Effect.tap(({ applied }) =>
          applied.length > 0 ? Effect.logDebug(`migrated ${set.name}: ${applied.join(", ")}`) : Effect.void
        )
      ))
  })
