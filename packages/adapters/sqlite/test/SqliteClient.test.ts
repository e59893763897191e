/**
 * The SQLite client's own promises: it takes the write lock when a transaction begins (so another
 * process's writer makes it wait, not fail), leaves the connection usable after a failed COMMIT,
 * reads integers the way each statement asks, and keeps the statement forms @effect/sql offers.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import * as SqliteClient from "@clawbounties/adapter-sqlite/SqliteClient"
import { Chunk, Context, Deferred, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { spawn } from "node:child_process"
import { createRequire } from "node:module"
import { join } from "node:path"
import { tempDir } from "./helpers.js"

const memory = SqliteClient.layer({ filename: ":memory:" })

/**
 * Another process that takes the file's write lock, says so on stdout, holds it for `millis` and
 * commits a row. Resolves once it holds the lock; the returned promise ends with the process.
 */
const otherWriter = (filename: string, millis: number) =>
  Effect.async<{ readonly done: Promise<number | null> }>((resume) => {
    const betterSqlite = createRequire(import.meta.url).resolve("better-sqlite3")
    const script = `
      const Database = require(${JSON.stringify(betterSqlite)})
      const db = new Database(${JSON.stringify(filename)})
      db.exec("BEGIN IMMEDIATE")
      db.exec("INSERT INTO notes (body) VALUES ('other process')")
      process.stdout.write("locked\\n")
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${millis})
      db.exec("COMMIT")
      db.close()`
    const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] })
    const done = new Promise<number | null>((resolve) => child.on("exit", resolve))
    child.stdout.once("data", () => resume(Effect.succeed({ done })))
  })

describe("SqliteClient", () => {
  it.scoped("a transaction that reads then writes waits for another process's writer, then commits", () =>
    Effect.gen(function* () {
      const filename = join(yield* tempDir, "shared.db")
      const sql = Context.get(yield* Layer.build(SqliteClient.layer({ filename })), SqlClient.SqlClient)
      yield* sql`PRAGMA busy_timeout = 5000`
      yield* sql`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`
      const other = yield* otherWriter(filename, 300)
      // With a deferred BEGIN the read would pin a snapshot, and the write after the other
      // process's commit would fail at once with SQLITE_BUSY_SNAPSHOT.
      yield* sql.withTransaction(Effect.gen(function* () {
        const [{ count }] = yield* sql<{ count: number }>`SELECT COUNT(*) AS count FROM notes`
        yield* sql`INSERT INTO notes (body) VALUES (${`after ${count}`})`
      }))
      assert.strictEqual(yield* Effect.promise(() => other.done), 0)
      const rows = yield* sql<{ body: string }>`SELECT body FROM notes ORDER BY id`
      assert.deepStrictEqual(rows.map((r) => r.body), ["other process", "after 1"])
    }))

  it.effect("a COMMIT that fails is rolled back and dies; the connection stays usable", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`PRAGMA foreign_keys = ON`
      yield* sql`CREATE TABLE parents (id INTEGER PRIMARY KEY)`
      yield* sql`CREATE TABLE children (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)`
      // The deferred foreign key is checked at COMMIT, which fails.
      const exit = yield* Effect.exit(sql.withTransaction(sql`INSERT INTO children (id, parent) VALUES (1, 42)`))
      assert.isTrue(Exit.isFailure(exit) && exit.cause._tag === "Die")
      yield* sql.withTransaction(Effect.zipRight(sql`INSERT INTO parents (id) VALUES (42)`, sql`INSERT INTO children (id, parent) VALUES (2, 42)`))
      const rows = yield* sql<{ id: number }>`SELECT id FROM children`
      assert.deepStrictEqual(rows.map((r) => r.id), [2])
    }).pipe(Effect.provide(memory)))

  it.scoped("closing the client while a transaction is half done keeps none of it, and commits the finished ones", () =>
    Effect.gen(function* () {
      const filename = join(yield* tempDir, "closing.db")
      const scope = yield* Scope.make()
      const sql = Context.get(yield* Layer.buildWithScope(SqliteClient.layer({ filename }), scope), SqlClient.SqlClient)
      yield* sql`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`
      const firstWritten = yield* Deferred.make<void>()
      const resume = yield* Deferred.make<void>()
      // Two transactions in one group: the first finishes, the second stops half-way through.
      const finished = yield* Effect.fork(sql.withTransaction(sql`INSERT INTO notes (body) VALUES ('finished')`))
      const halfDone = yield* Effect.fork(sql.withTransaction(Effect.gen(function* () {
        yield* sql`INSERT INTO notes (body) VALUES ('first half')`
        yield* Deferred.succeed(firstWritten, undefined)
        yield* Deferred.await(resume)
        yield* sql`INSERT INTO notes (body) VALUES ('second half')`
      })))
      yield* Deferred.await(firstWritten)
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(finished)))
      // Its second half runs on the closed connection: it fails rather than reporting success.
      yield* Deferred.succeed(resume, undefined)
      assert.isTrue(Exit.isFailure(yield* Fiber.await(halfDone)))

      const reopened = Context.get(yield* Layer.build(SqliteClient.layer({ filename })), SqlClient.SqlClient)
      const rows = yield* reopened<{ body: string }>`SELECT body FROM notes ORDER BY id`
      assert.deepStrictEqual(rows.map((r) => r.body), ["finished"])
    }))

  it.scoped("a second client on a file this process has open is refused, naming why; once the first closes it opens", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const filename = join(dir, "once.db")
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(SqliteClient.layer({ filename }), scope)
      // Its writer would wait for the first one's lock while blocking the thread the first needs
      // to commit: every contended transaction stalled for the busy timeout, then failed.
      const second = yield* Effect.flip(Layer.build(SqliteClient.layer({ filename: `${dir}/./once.db` })))
      assert.include(second.message, "already open in this process")
      yield* Scope.close(scope, Exit.void)
      const sql = Context.get(yield* Layer.build(SqliteClient.layer({ filename })), SqlClient.SqlClient)
      assert.deepStrictEqual(yield* sql`SELECT 1 AS one`, [{ one: 1 }])
    }))

  it.effect("integers come back as bigint only for statements run with SafeIntegers", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const read = sql<{ n: unknown }>`SELECT 9007199254740993 AS n`
      const safe = yield* read.pipe(Effect.provideService(SqlClient.SafeIntegers, true))
      const plain = yield* read
      assert.strictEqual(safe[0]!.n, 9007199254740993n)
      assert.strictEqual(typeof plain[0]!.n, "number")
    }).pipe(Effect.provide(memory)))

  it.effect("keeps the statement forms: values, raw, stream, unprepared, and a small statement cache", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`
      const raw = yield* sql`INSERT INTO notes (body) VALUES ('a'), ('b')`.raw
      assert.strictEqual((raw as { changes: number }).changes, 2)
      assert.deepStrictEqual(yield* sql`SELECT id, body FROM notes ORDER BY id`.values, [[1, "a"], [2, "b"]])
      const streamed = yield* Stream.runCollect(sql<{ body: string }>`SELECT body FROM notes ORDER BY id`.stream)
      assert.deepStrictEqual(Chunk.toArray(streamed).map((r) => r.body), ["a", "b"])
      assert.deepStrictEqual(yield* sql.unsafe("SELECT body FROM notes WHERE id = ?", [2]).unprepared, [{ body: "b" }])
      for (let i = 0; i < 40; i++) yield* sql.unsafe(`SELECT ${i} AS n`)
      assert.deepStrictEqual(yield* sql.unsafe("SELECT body FROM notes WHERE id = ?", [1]), [{ body: "a" }])
    }).pipe(Effect.provide(SqliteClient.layer({ filename: ":memory:", statementCacheSize: 16 }))))
})
