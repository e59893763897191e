/**
 * `Transaction.run` retries a transaction that failed retryably, and with `RetryBackoff` provided it
 * waits on `Clock` before each retry: a random wait under a ceiling that doubles per retry. Under
 * `TestClock` nothing happens until the clock moves, so the waits are seen exactly.
 */
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, TestClock } from "effect"
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
