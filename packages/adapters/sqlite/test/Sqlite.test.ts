import { Sqlite } from "@clawbounties/adapter-sqlite"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer } from "effect"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

describe("Sqlite.layer", () => {
  it.live("a file database gets WAL, synchronous=FULL, foreign keys, a busy timeout, in-memory temp files and the ledger tables; reopening migrates nothing twice", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "adapter-sqlite-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const filename = join(dir, "db.sqlite")
      const inspect = Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const pragma = (name: string) => Effect.map(sql.unsafe<Record<string, unknown>>(`PRAGMA ${name}`), (rows) => Object.values(rows[0]!)[0])
        return {
          journal: yield* pragma("journal_mode"),
          synchronous: yield* pragma("synchronous"),
          foreignKeys: yield* pragma("foreign_keys"),
          busyTimeout: yield* pragma("busy_timeout"),
          tempStore: yield* pragma("temp_store"),
          migrations: (yield* sql<{ name: string }>`SELECT name FROM ledger_migrations ORDER BY migration_id`).map((r) => r.name),
          tables: (yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'ledger_%' ORDER BY name`).map((r) => r.name)
        }
      })
      const first = yield* inspect.pipe(Effect.provide(Sqlite.layer({ filename })))
      assert.deepStrictEqual(first, {
        journal: "wal",
        synchronous: 2,
        foreignKeys: 1,
        busyTimeout: 5000,
        tempStore: 2,
        migrations: ["ledger", "fee_postings_by_entry"],
        tables: ["ledger_accounts", "ledger_balances", "ledger_entries", "ledger_holds", "ledger_idempotency", "ledger_migrations", "ledger_postings"]
      })
      const second = yield* inspect.pipe(Effect.provide(Sqlite.layer({ filename })))
      assert.deepStrictEqual(second.migrations, ["ledger", "fee_postings_by_entry"])
    }).pipe(Effect.scoped))

  it.live("the migration list is a parameter: an empty list creates no tables", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const tables = yield* sql`SELECT name FROM sqlite_master WHERE type = 'table'`
      assert.strictEqual(tables.length, 0)
    }).pipe(Effect.provide(Sqlite.layerMemory([]))))
})

describe("Sqlite.layerConfig", () => {
  const withEnv = (entries: ReadonlyArray<readonly [string, string]>) =>
    Layer.provide(Sqlite.layerConfig(), Layer.setConfigProvider(ConfigProvider.fromMap(new Map(entries))))

  it.live("reads the file from SQLITE_FILE, the setting the packaged server reads", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "adapter-sqlite-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const filename = join(dir, "from-env.db")
      yield* Effect.provide(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1`), withEnv([["SQLITE_FILE", filename]]))
      assert.isTrue(existsSync(filename))
    }).pipe(Effect.scoped))

  it.live("refuses a blank SQLITE_FILE, which would open a temporary database that vanishes at exit", () =>
    Effect.gen(function* () {
      for (const blank of ["", "  "]) {
        const exit = yield* Effect.exit(Effect.provide(SqlClient.SqlClient, withEnv([["SQLITE_FILE", blank]])))
        assert.isTrue(Exit.isFailure(exit) && String(exit.cause).includes("SQLITE_FILE must not be empty"), String(exit))
      }
    }).pipe(Effect.scoped))
})
