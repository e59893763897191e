/**
 * Injected database faults go through the store's own commit path: on a SQLite file, transactions
 * that run side by side share COMMITs (`GroupCommit`), and a member that fails before its COMMIT is
 * rolled back alone while the others' work stays. A simulation under faults tests that path, not a
 * simpler one built for the faults.
 */
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Faults } from "../src/index.js"

describe("Faults", () => {
  it.live("armed faults ride the store's shared COMMITs: a failed member is rolled back alone, an after-commit one is written", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "faults-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const commits: Array<number> = []
      const store = Faults.wrap(Sqlite.layer({ filename: join(dir, "faults.db"), onCommit: (members) => void commits.push(members) }))
      yield* Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE t (n INTEGER PRIMARY KEY)`
        const insert = (n: number) => sql.withTransaction(Effect.zipRight(sql`INSERT INTO t (n) VALUES (${n})`, sql`SELECT 1 AS ok`))
        const exits = yield* Effect.all([
          Effect.exit(insert(1)),
          Effect.map(Faults.armed("db_before_commit", 1, insert(2)), ({ exit, fired }) => (assert.isTrue(fired), exit)),
          Effect.map(Faults.armed("db_after_commit", 1, insert(3)), ({ exit, fired }) => (assert.isTrue(fired), exit)),
          Effect.exit(insert(4))
        ], { concurrency: "unbounded" })
        assert.deepStrictEqual(exits.map((e) => e._tag), ["Success", "Failure", "Failure", "Success"])
        assert.isTrue(exits.slice(1, 3).every((e) => e._tag === "Failure" && Faults.isInjected(Cause.squash(e.cause))))
        // A lost COMMIT reply is a defect, as a failed COMMIT is: no one knows whether it committed.
        assert.isTrue(exits[2]!._tag === "Failure" && Cause.isDie(exits[2]!.cause))
        const rows = yield* sql<{ n: number }>`SELECT n FROM t ORDER BY n`
        assert.deepStrictEqual(rows.map((r) => Number(r.n)), [1, 3, 4])
      }).pipe(Effect.provide(store), Effect.scoped)
      assert.isTrue(commits.some((members) => members > 1), `commits: ${JSON.stringify(commits)}`)
    }).pipe(Effect.scoped))
})
