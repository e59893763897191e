/**
 * Outermost transactions, one at a time, in arrival order: for stores with a single writer.
 *
 * @effect/sql-sqlite-node guards its one connection with an Effect semaphore. That semaphore lets
 * a newcomer take a just-released permit ahead of the fiber the release woke, and the woken fiber
 * goes to the back of the queue again. Under load most commands took milliseconds while a few
 * waited a second (a 500-job simulation: p50 26 ms, p95 926 ms). Behind this gate the permit is
 * handed to the longest waiter, so waiting is bounded by the queue ahead of you.
 *
 * The holder also runs without yielding to other fibers (Effect otherwise yields every 2048
 * operations). A synchronous driver gives it nothing to wait for, so a yield only let other
 * fibers' work run while the one writer's lock stayed held.
 *
 * The SQLite adapter provides the gate; PostgreSQL, with a pool and row locks, does without.
 * `Transaction.run` passes through it when it is present. An integrator who brings their own
 * single-writer `SqlClient` should provide `WriteGate.layer` beside it.
 */
import { Context, Effect, Layer } from "effect"

export interface WriteGateService {
  readonly withPermit: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export class WriteGate extends Context.Tag("@clawbounties/ledger/WriteGate")<WriteGate, WriteGateService>() {}

interface Waiter {
  granted: boolean
  resume: () => void
}

const UNBOUNDED_OPS = Number.MAX_SAFE_INTEGER

/** A first-in, first-out mutex that hands ownership straight to the next waiter on release. */
export const makeFifo = (): WriteGateService => {
  let held = false
  const queue: Array<Waiter> = []

  const release = () => {
    const next = queue.shift()
    if (next === undefined) {
      held = false
      return
    }
    next.granted = true
    next.resume()
  }

  /** Waits for the permit; `waiter` records whether it was granted, for the interrupt handler. */
  const acquire = (waiter: Waiter): Effect.Effect<void> =>
    Effect.async<void>((resume) => {
      if (!held) {
        held = true
        waiter.granted = true
        return resume(Effect.void)
      }
      queue.push(waiter)
      waiter.resume = () => resume(Effect.void)
      // Interrupted while waiting: leave the queue. A permit granted meanwhile is passed on below.
      return Effect.sync(() => {
        if (!waiter.granted) queue.splice(queue.indexOf(waiter), 1)
      })
    })

  return {
    withPermit: (effect) =>
      Effect.uninterruptibleMask((restore) => {
        const waiter: Waiter = { granted: false, resume: () => {} }
        return restore(acquire(waiter)).pipe(
          Effect.onInterrupt(() => Effect.sync(() => { if (waiter.granted) release() })),
          Effect.zipRight(Effect.ensuring(restore(Effect.withMaxOpsBeforeYield(effect, UNBOUNDED_OPS)), Effect.sync(release)))
        )
      })
  }
}

export const layer: Layer.Layer<WriteGate> = Layer.sync(WriteGate, makeFifo)
