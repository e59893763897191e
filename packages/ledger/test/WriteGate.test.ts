/**
 * The write gate admits waiters in arrival order, hands the permit on when a holder finishes, fails
 * or is interrupted, drops a waiter that is interrupted before its turn, and tells its owner when
 * the last holder leaves. (Effect's own semaphore
 * fails the first test: the newcomer takes the permit ahead of the waiters.)
 */
import { WriteGate } from "@clawbounties/ledger"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"

describe("WriteGate", () => {
  it.effect("admits waiters first come, first served, even when newcomers arrive on every release", () =>
    Effect.gen(function* () {
      const gate = WriteGate.makeFifo()
      const order: Array<number> = []
      const release = yield* Deferred.make<void>()
      const first = yield* Effect.fork(gate.withPermit(Deferred.await(release)))
      yield* Effect.yieldNow()
      const waiters = []
      for (let i = 0; i < 5; i++) {
        waiters.push(yield* Effect.fork(gate.withPermit(Effect.sync(() => order.push(i)))))
        yield* Effect.yieldNow()
      }
      // A barging newcomer would start the moment the permit is released; it must queue instead.
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(first)
      const late = yield* Effect.fork(gate.withPermit(Effect.sync(() => order.push(99))))
      for (const waiter of waiters) yield* Fiber.join(waiter)
      yield* Fiber.join(late)
      assert.deepStrictEqual(order, [0, 1, 2, 3, 4, 99])
    }))

  it.effect("passes the permit on after a failure and after an interruption of the holder", () =>
    Effect.gen(function* () {
      const gate = WriteGate.makeFifo()
      const failed = yield* Effect.exit(gate.withPermit(Effect.fail("boom")))
      assert.isTrue(Exit.isFailure(failed))
      const holder = yield* Effect.fork(gate.withPermit(Effect.never))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(holder)
      assert.strictEqual(yield* gate.withPermit(Effect.succeed("free")), "free")
    }))

  it.effect("forgets a waiter interrupted before its turn", () =>
    Effect.gen(function* () {
      const gate = WriteGate.makeFifo()
      const release = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(gate.withPermit(Deferred.await(release)))
      yield* Effect.yieldNow()
      const ran: Array<string> = []
      const cancelled = yield* Effect.fork(gate.withPermit(Effect.sync(() => ran.push("cancelled"))))
      const next = yield* Effect.fork(gate.withPermit(Effect.sync(() => ran.push("next"))))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(cancelled)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      yield* Fiber.join(next)
      assert.deepStrictEqual(ran, ["next"])
      assert.strictEqual(yield* gate.withPermit(Effect.succeed("free")), "free")
    }))

  it.effect("runs onIdle when the last holder leaves with no one waiting, not on a hand-over", () =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const gate = WriteGate.makeFifo({ onIdle: () => events.push(`idle, held: ${gate.isHeld()}`) })
      const release = yield* Deferred.make<void>()
      const first = yield* Effect.fork(gate.withPermit(Deferred.await(release)))
      yield* Effect.yieldNow()
      const second = yield* Effect.fork(gate.withPermit(Effect.sync(() => events.push("second"))))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      // Still held while onIdle runs, so no one can slip in before it finishes.
      assert.deepStrictEqual(events, ["second", "idle, held: true"])
      assert.isFalse(gate.isHeld())
    }))
})
