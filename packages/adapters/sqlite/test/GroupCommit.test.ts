/**
 * Group commit: transactions queued behind one share its COMMIT, yet each behaves as if it ran
 * alone. Its result arrives only once another connection can see its work; a member that fails or
 * is interrupted undoes only its own work; a failed COMMIT fails only the member that caused it. Outside
 * a transaction, a read runs on a reader connection that sees committed work only, and a write
 * never runs inside an uncommitted group.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import * as SqliteClient from "@clawbounties/adapter-sqlite/SqliteClient"
import Database from "better-sqlite3"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Option } from "effect"
import { join } from "node:path"
import { tempDir } from "./helpers.js"

/** A client on a fresh file with a `notes` table, and the sizes of the COMMITs it has run. */
const fileClient = (options?: { readonly maxGroupSize?: number }) =>
  Effect.gen(function* () {
    const filename = join(yield* tempDir, "group.db")
    const commits: Array<number> = []
    const waited: Array<boolean> = []
    const context = yield* Layer.build(SqliteClient.layer({
      filename,
      ...options,
      onCommit: (n, wait) => {
        commits.push(n)
        waited.push(wait)
      }
    }))
    const sql = Context.get(context, SqlClient.SqlClient)
    yield* sql`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`
    return { sql, filename, commits, waited }
  })

const ids = (sql: SqlClient.SqlClient) =>
  Effect.map(sql<{ id: number }>`SELECT id FROM notes ORDER BY id`, (rows) => rows.map((row) => row.id))

/** Twenty callers, each inserting its note in a transaction of its own; `seen` checks each on return. */
const twentyCallers = (sql: SqlClient.SqlClient, seen: (id: number) => boolean) =>
  Effect.forEach(Array.from({ length: 20 }, (_, i) => i + 1), (id) =>
    Effect.flatMap(sql.withTransaction(sql`INSERT INTO notes (id, body) VALUES (${id}, 'note')`), () =>
      Effect.sync(() => assert.isTrue(seen(id), `note ${id} returned before it was committed`))), { concurrency: "unbounded", discard: true })

describe("group commit", () => {
  it.scoped("concurrent transactions share COMMITs, and each returns only once another connection sees it", () =>
    Effect.gen(function* () {
      const { commits, filename, sql } = yield* fileClient()
      const reader = new Database(filename, { readonly: true })
      yield* Effect.addFinalizer(() => Effect.sync(() => reader.close()))
      const count = reader.prepare("SELECT COUNT(*) AS n FROM notes WHERE id = ?")
      yield* twentyCallers(sql, (id) => (count.get(id) as { n: number }).n === 1)
      assert.strictEqual(commits.reduce((a, b) => a + b, 0), 20)
      assert.isBelow(commits.length, 5, `commits: ${commits.join(", ")}`)
    }))

  it.scoped("a lone writer commits at once; a second writer turns waiting for others back on", () =>
    Effect.gen(function* () {
      const { commits, sql, waited } = yield* fileClient()
      const insert = (id: number) => sql.withTransaction(sql`INSERT INTO notes (id, body) VALUES (${id}, 'note')`)
      // One fiber, twelve transactions in a row: the first eight wait a turn, then it is the lone writer.
      for (let id = 1; id <= 12; id++) yield* insert(id)
      assert.deepStrictEqual(waited, [...Array(8).fill(true), ...Array(4).fill(false)])
      // Another fiber writes: the next COMMITs wait for others to join again.
      yield* Effect.fork(insert(13)).pipe(Effect.flatMap(Fiber.join))
      yield* insert(14)
      assert.deepStrictEqual(waited.slice(12), [true, true])
      assert.deepStrictEqual(commits, Array(14).fill(1))
      assert.deepStrictEqual(yield* ids(sql), Array.from({ length: 14 }, (_, i) => i + 1))
    }))

  it.scoped("with a group size of 1 every transaction commits on its own", () =>
    Effect.gen(function* () {
      const { commits, sql } = yield* fileClient({ maxGroupSize: 1 })
      yield* twentyCallers(sql, () => true)
      assert.deepStrictEqual(commits, Array.from({ length: 20 }, () => 1))
    }))

  it.scoped("a member that fails or is interrupted undoes only its own work", () =>
    Effect.gen(function* () {
      const { commits, sql } = yield* fileClient()
      const go = yield* Deferred.make<void>()
      const hanging = yield* Deferred.make<void>()
      const insert = (id: number) => sql`INSERT INTO notes (id, body) VALUES (${id}, 'note')`
      // The first holds the connection until `go`, so the others queue behind it and join its group.
      const first = yield* Effect.fork(sql.withTransaction(Effect.zipRight(insert(1), Deferred.await(go))))
      yield* Effect.yieldNow()
      const failing = yield* Effect.fork(sql.withTransaction(Effect.zipRight(insert(2), Effect.fail("refused"))))
      const interrupted = yield* Effect.fork(sql.withTransaction(
        Effect.zipRight(insert(3), Effect.zipRight(Deferred.succeed(hanging, undefined), Effect.never))
      ))
      const last = yield* Effect.fork(sql.withTransaction(insert(4)))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(go, undefined)
      yield* Deferred.await(hanging)
      yield* Fiber.interrupt(interrupted)
      yield* Fiber.join(first)
      yield* Fiber.join(last)
      assert.strictEqual(yield* Effect.flip(Fiber.join(failing)), "refused")
      assert.deepStrictEqual(yield* ids(sql), [1, 4])
      assert.deepStrictEqual(commits, [4])
    }))

  it.scoped("a failed group COMMIT runs each member again alone: only the one that broke it dies", () =>
    Effect.gen(function* () {
      const { commits, sql } = yield* fileClient()
      yield* sql`PRAGMA foreign_keys = ON`
      yield* sql`CREATE TABLE parents (id INTEGER PRIMARY KEY)`
      yield* sql`CREATE TABLE children (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)`
      yield* sql`INSERT INTO parents (id) VALUES (1)`
      const runs: Array<number> = []
      const child = (id: number, parent: number) =>
        Effect.zipRight(Effect.sync(() => runs.push(id)), sql`INSERT INTO children (id, parent) VALUES (${id}, ${parent})`)
      // Child 2's parent does not exist: the deferred foreign key fails the group's COMMIT.
      const exits = yield* Effect.forEach([child(1, 1), child(2, 99), child(3, 1)], (body) =>
        Effect.exit(sql.withTransaction(body)), { concurrency: "unbounded" })
      assert.isTrue(Exit.isSuccess(exits[0]!) && Exit.isSuccess(exits[2]!))
      assert.isTrue(Exit.isFailure(exits[1]!) && exits[1].cause._tag === "Die")
      const children = yield* sql<{ id: number }>`SELECT id FROM children ORDER BY id`
      assert.deepStrictEqual(children.map((row) => row.id), [1, 3])
      assert.deepStrictEqual(runs, [1, 2, 3, 1, 2, 3])
      assert.deepStrictEqual(commits, [1, 1])
    }))

  it.scoped("a read outside a transaction sees committed work only, without waiting for the writer", () =>
    Effect.gen(function* () {
      const { commits, sql } = yield* fileClient()
      const go = yield* Deferred.make<void>()
      const first = yield* Effect.fork(sql.withTransaction(Effect.zipRight(sql`INSERT INTO notes (id, body) VALUES (1, 'a')`, Deferred.await(go))))
      yield* Effect.yieldNow()
      const second = yield* Effect.fork(sql.withTransaction(sql`INSERT INTO notes (id, body) VALUES (2, 'b')`))
      yield* Effect.yieldNow()
      // The writer is held by the first transaction: the read neither waits for it nor sees its work.
      const read = yield* Effect.fork(ids(sql))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
      const early = yield* Fiber.poll(read)
      assert.isTrue(Option.isSome(early) && Exit.isSuccess(early.value), "the read waited for the writer")
      assert.deepStrictEqual(yield* Fiber.join(read), [])
      yield* Deferred.succeed(go, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      assert.deepStrictEqual(yield* ids(sql), [1, 2])
      assert.deepStrictEqual(commits, [2])
    }))

  it.scoped("a write outside a transaction commits the open group before it runs", () =>
    Effect.gen(function* () {
      const { commits, sql } = yield* fileClient()
      const events: Array<string> = []
      const go = yield* Deferred.make<void>()
      const first = yield* Effect.fork(sql.withTransaction(Effect.zipRight(sql`INSERT INTO notes (id, body) VALUES (1, 'a')`, Deferred.await(go))))
      yield* Effect.yieldNow()
      const second = yield* Effect.fork(sql.withTransaction(sql`INSERT INTO notes (id, body) VALUES (2, 'b')`))
      // A write that reads like a query: it must still take the writer.
      const write = yield* Effect.fork(Effect.tap(
        sql`WITH next AS (SELECT MAX(id) + 1 AS id FROM notes) INSERT INTO notes (id, body) SELECT id, 'c' FROM next`,
        () => Effect.sync(() => events.push(`write after ${commits.length} commit(s)`))
      ))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(go, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      yield* Fiber.join(write)
      assert.deepStrictEqual(events, ["write after 1 commit(s)"])
      assert.deepStrictEqual(commits, [2])
      assert.deepStrictEqual(yield* ids(sql), [1, 2, 3])
    }))
})
