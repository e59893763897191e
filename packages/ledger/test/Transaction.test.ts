/**
 * `Transaction.run` retries a transaction that failed retryably, and with `RetryBackoff` provided it
 * waits on `Clock` before each retry: a random wait under a ceiling that doubles per retry. Under
 * `TestClock` nothing happens until the clock moves, so the waits are seen exactly.
 *
 * `Transaction.afterCommit` runs its effect once the outermost transaction committed, never for one
 * that rolled back, and on SQLite only after the group COMMIT that a transaction may share.
 */
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option, TestClock } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Transaction from "../src/Transaction.js"

/** An effect that fails like a busy SQLite database `failures` times, then succeeds; counts its runs. */
const busyFor = (failures: number) => {
  let runs = 0
  const effect = Effect.suspend(() => {
    runs++
    return runs <= failures ? Effect.fail(new SqlError({ cause: { code: "SQLITE_BUSY" }, message: "database is locked" })) : Effect.succeed("done")
  })
  return { effect, runs: () => runs }
}

const store = Sqlite.layerMemory().pipe(Layer.orDie)

describe("Transaction.run", () => {
  it.effect("without RetryBackoff, retries at once", () =>
    Effect.gen(function* () {
      const busy = busyFor(3)
      assert.strictEqual(yield* Transaction.run(busy.effect), "done")
      assert.strictEqual(busy.runs(), 4)
    }).pipe(Effect.provide(store)))

  it.effect("gives up after its retries with the last failure", () =>
    Effect.gen(function* () {
      const busy = busyFor(10)
      const error = yield* Effect.flip(Transaction.run(busy.effect, { retries: 2 }))
      assert.strictEqual(error.message, "database is locked")
      assert.strictEqual(busy.runs(), 3)
    }).pipe(Effect.provide(store)))

  it.effect("with RetryBackoff.jittered, each retry waits on Clock, under a ceiling that doubles", () =>
    Effect.gen(function* () {
      const busy = busyFor(3)
      const fiber = yield* Effect.fork(Transaction.run(busy.effect))
      yield* Effect.yieldNow()
      // The clock in steps of 1 ms: when did each retry run?
      const retriedAt: Array<number> = []
      for (let now = 1; now <= 200 && retriedAt.length < 3; now++) {
        const before = busy.runs()
        yield* TestClock.adjust(1)
        for (let run = before; run < busy.runs(); run++) retriedAt.push(now)
      }
      assert.strictEqual(yield* Fiber.join(fiber), "done")
      assert.strictEqual(busy.runs(), 4)
      // Ceilings with base 10 ms: 20, 40 and 80 ms after the previous run (1 ms steps round up).
      const waits = retriedAt.map((at, i) => at - (i === 0 ? 0 : retriedAt[i - 1]!))
      waits.forEach((wait, i) => assert.isAtMost(wait, 10 * 2 ** (i + 1) + 1, `retry ${i + 1} waited ${wait} ms`))
      // And they are waits: with none, all three retries would have run before the clock moved.
      assert.isAbove(retriedAt[2]!, 0)
    }).pipe(Effect.provide(Layer.merge(store, Transaction.RetryBackoff.jittered({ base: "10 millis", cap: "1 second" })))))
})

describe("Transaction.afterCommit", () => {
  /** Records `name` in `log` when it runs. */
  const note = (log: Array<string>, name: string) => Transaction.afterCommit(Effect.sync(() => log.push(name)))

  it.effect("runs after the outermost COMMIT, in order, and never for a transaction that rolled back", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      yield* Transaction.run(Effect.gen(function* () {
        yield* note(log, "first")
        yield* note(log, "second")
        log.push("body done")
      }))
      assert.deepStrictEqual(log, ["body done", "first", "second"])

      log.length = 0
      const failed = yield* Effect.flip(Transaction.run(Effect.zipRight(note(log, "rolled back"), Effect.fail("no"))))
      assert.strictEqual(failed, "no")
      assert.deepStrictEqual(log, [])
    }).pipe(Effect.provide(store)))

  it.effect("an attempt that is retried runs nothing: only the attempt that committed does", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      let runs = 0
      yield* Transaction.run(Effect.gen(function* () {
        runs++
        yield* note(log, `attempt ${runs}`)
        if (runs < 3) return yield* new SqlError({ cause: { code: "SQLITE_BUSY" }, message: "database is locked" })
      }))
      assert.deepStrictEqual(log, ["attempt 3"])
    }).pipe(Effect.provide(store)))

  it.effect("a savepoint's effects wait for the outer COMMIT, and go with the savepoint if it rolls back", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      yield* Transaction.run(Effect.gen(function* () {
        yield* Transaction.run(note(log, "kept"))
        yield* Effect.ignore(Transaction.run(Effect.zipRight(note(log, "undone"), Effect.fail("no"))))
        assert.deepStrictEqual(log, [], "ran before the outer COMMIT")
      }))
      assert.deepStrictEqual(log, ["kept"])
    }).pipe(Effect.provide(store)))

  it.effect("outside any transaction it runs at once; in one opened without `run` it is dropped", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const log: Array<string> = []
      yield* note(log, "alone")
      assert.deepStrictEqual(log, ["alone"])
      yield* sql.withTransaction(note(log, "unseen COMMIT"))
      assert.deepStrictEqual(log, ["alone"])
    }).pipe(Effect.provide(store)))

  it.scoped("on SQLite, a transaction sharing a group COMMIT runs its effects only after that COMMIT", () =>
    Effect.gen(function* () {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "ledger-after-commit-"))),
        (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
      const log: Array<string> = []
      const context = yield* Layer.build(Sqlite.layer({ filename: join(dir, "group.db"), onCommit: (n) => log.push(`COMMIT of ${n}`) }))
      log.length = 0 // the migrations' COMMIT
      const inFirst = yield* Deferred.make<void>()
      const endFirst = yield* Deferred.make<void>()
      const inSecond = yield* Deferred.make<void>()
      const endSecond = yield* Deferred.make<void>()
      const member = (name: string, entered: Deferred.Deferred<void>, end: Deferred.Deferred<void>) =>
        Effect.fork(Transaction.run(Effect.gen(function* () {
          yield* note(log, `${name} after commit`)
          yield* Deferred.succeed(entered, undefined)
          yield* Deferred.await(end)
        })).pipe(Effect.provide(context)))
      // The second queues while the first holds the connection, so it joins the first one's group.
      const first = yield* member("first", inFirst, endFirst)
      yield* Deferred.await(inFirst)
      const second = yield* member("second", inSecond, endSecond)
      yield* Effect.yieldNow()
      yield* Deferred.succeed(endFirst, undefined)
      yield* Deferred.await(inSecond)
      // The first one's body is done, but its COMMIT waits for the second: nothing ran yet.
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
      assert.isTrue(Option.isNone(yield* Fiber.poll(first)))
      assert.deepStrictEqual(log, [])
      yield* Deferred.succeed(endSecond, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      assert.deepStrictEqual(log, ["COMMIT of 2", "first after commit", "second after commit"])
    }))
})
