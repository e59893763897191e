/**
 * Transactions on the SQLite adapter.
 *
 * - Statements that skip @effect/sql's per-statement span (`DirectExecution`) still behave as
 *   statements: inside a transaction they run on its connection (a rollback undoes them, a savepoint
 *   scopes them), they nest as fragments, and outside a transaction they run on the connection the
 *   client hands out, or as @effect/sql runs them when it hands out none.
 * - `Transaction.run` queues behind the client's first-in, first-out lock: with an Effect
 *   semaphore instead, the late arrival in the last test overtakes the waiters.
 */
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import * as SqliteClient from "@clawbounties/adapter-sqlite/SqliteClient"
import { DirectExecution, Transaction } from "@clawbounties/ledger"
import { Deferred, Effect, Fiber, Tracer } from "effect"

const setup = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`
  return sql
})

const bodies = (sql: SqlClient.SqlClient) =>
  Effect.map(sql<{ body: string }>`SELECT body FROM notes ORDER BY id`, (rows) => rows.map((r) => r.body))

/** Runs `effect` under a tracer that records the names of the spans it opens. */
const recordingSpans = (names: Array<string>) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.tracer, (base) =>
    Effect.withTracer(effect, Tracer.make({
      span: (name, ...rest) => {
        names.push(name)
        return base.span(name, ...rest)
      },
      context: base.context
    })))

describe("DirectExecution", () => {
  it.effect("no statement (nor the transaction) opens a span, inside a transaction or outside", () =>
    Effect.gen(function* () {
      const sql = yield* setup
      const names: Array<string> = []
      yield* sql.withTransaction(Effect.gen(function* () {
        yield* sql`INSERT INTO notes (body) VALUES ('one')`
        yield* sql.unsafe("INSERT INTO notes (body) VALUES (?)", ["two"])
      })).pipe(recordingSpans(names))
      // Outside a transaction the SQLite client hands out its connection (`OutsideTransactions`).
      assert.deepStrictEqual(yield* bodies(sql).pipe(recordingSpans(names)), ["one", "two"])
      assert.deepStrictEqual(names, [])
    }).pipe(Effect.provide(Sqlite.layerMemory([]))))

  it.effect("outside a transaction, a client that hands out no connection keeps @effect/sql's span", () =>
    Effect.gen(function* () {
      const inner = yield* SqlClient.SqlClient
      const call = inner as unknown as (...args: Array<unknown>) => unknown
      const bare = Object.assign((...args: Array<unknown>) => call(...args), inner, { [DirectExecution.OutsideTransactions]: undefined })
      const sql = yield* setup.pipe(Effect.provideService(SqlClient.SqlClient, DirectExecution.wrap(bare as unknown as SqlClient.SqlClient)))
      const names: Array<string> = []
      yield* sql`INSERT INTO notes (body) VALUES ('one')`.pipe(recordingSpans(names))
      assert.deepStrictEqual(names, ["sql.execute"])
    }).pipe(Effect.provide(SqliteClient.layer({ filename: ":memory:" }))))

  it.effect("a rollback undoes statements run directly on the transaction's connection", () =>
    Effect.gen(function* () {
      const sql = yield* setup
      yield* sql`INSERT INTO notes (body) VALUES ('outside')`
      const failed = yield* Effect.either(sql.withTransaction(Effect.gen(function* () {
        yield* sql`INSERT INTO notes (body) VALUES (${"inside"})`
        yield* sql.unsafe("INSERT INTO notes (body) VALUES (?)", ["unsafe inside"])
        assert.deepStrictEqual(yield* bodies(sql), ["outside", "inside", "unsafe inside"])
        return yield* Effect.fail("abort")
      })))
      assert.strictEqual(failed._tag, "Left")
      assert.deepStrictEqual(yield* bodies(sql), ["outside"])
    }).pipe(Effect.provide(Sqlite.layerMemory([]))))

  it.effect("a failed savepoint undoes only its own statements", () =>
    Effect.gen(function* () {
      const sql = yield* setup
      yield* sql.withTransaction(Effect.gen(function* () {
        yield* sql`INSERT INTO notes (body) VALUES ('kept')`
        yield* Effect.either(sql.withTransaction(Effect.zipRight(sql`INSERT INTO notes (body) VALUES ('undone')`, Effect.fail("inner"))))
      }))
      assert.deepStrictEqual(yield* bodies(sql), ["kept"])
    }).pipe(Effect.provide(Sqlite.layerMemory([]))))

  it.effect("statements nest as fragments and helpers keep working", () =>
    Effect.gen(function* () {
      const sql = yield* setup
      yield* sql.withTransaction(sql`INSERT INTO notes ${sql.insert([{ body: "a" }, { body: "b" }, { body: "c" }])}`)
      const where = sql`body IN ${sql.in(["a", "c"])}`
      const rows = yield* sql.withTransaction(sql<{ body: string }>`SELECT body FROM notes WHERE ${where} ORDER BY id`)
      assert.deepStrictEqual(rows.map((r) => r.body), ["a", "c"])
    }).pipe(Effect.provide(Sqlite.layerMemory([]))))
})

describe("Transaction.run on SQLite", () => {
  it.effect("queues outermost transactions in arrival order", () =>
    Effect.gen(function* () {
      const sql = yield* setup
      const release = yield* Deferred.make<void>()
      const first = yield* Effect.fork(Transaction.run(Effect.zipRight(Deferred.await(release), sql`INSERT INTO notes (body) VALUES ('first')`)))
      yield* Effect.yieldNow()
      const waiting = []
      for (const body of ["second", "third", "fourth"]) {
        waiting.push(yield* Effect.fork(Transaction.run(sql`INSERT INTO notes (body) VALUES (${body})`)))
        yield* Effect.yieldNow()
      }
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(first)
      const late = yield* Effect.fork(Transaction.run(sql`INSERT INTO notes (body) VALUES ('late')`))
      for (const fiber of waiting) yield* Fiber.join(fiber)
      yield* Fiber.join(late)
      assert.deepStrictEqual(yield* bodies(sql), ["first", "second", "third", "fourth", "late"])
    }).pipe(Effect.provide(Sqlite.layerMemory([]))))
})
