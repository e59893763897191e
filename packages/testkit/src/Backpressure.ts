/**
 * Bounded concurrency with adaptive backpressure: a gate of at most `limit` jobs in flight, where
 * the limit grows by one after `limit` clean steps (additive increase) and is multiplied down on a
 * retryable error or a step slower than the latency target (multiplicative decrease), at most once
 * per cooldown. Waiters are woken in arrival order, with no timers, so an in-process run whose
 * limit never changes interleaves identically every time.
 */
import { Deferred, Effect, Exit, FiberId } from "effect"
import type { Backpressure } from "./Simulation.js"

export interface Event {
  readonly at_job: number
  readonly from: number
  readonly to: number
  readonly reason: "retryable_error" | "latency" | "increase"
}

export interface Gate {
  readonly acquire: Effect.Effect<void>
  readonly release: Effect.Effect<void>
  /** A step finished: `ms` long, failed retryably or not. */
  readonly observe: (ms: number, retryableFailure: boolean) => void
  /** A job finished (cooldowns count jobs). */
  readonly jobDone: () => void
  readonly limit: () => number
  readonly stats: () => { readonly limit: number; readonly min_limit: number; readonly max_limit: number; readonly decreases: number; readonly increases: number; readonly events: ReadonlyArray<Event> }
}

export const make = (options: { readonly max: number; readonly initial?: number | undefined; readonly backpressure: Backpressure }): Gate => {
  const max = Math.max(1, Math.floor(options.max))
  let limit = Math.min(max, Math.max(1, Math.floor(options.initial ?? max)))
  let active = 0
  let clean = 0
  let jobsDone = 0
  let lastDecreaseAt = -Infinity
  let minSeen = limit
  let maxSeen = limit
  let decreases = 0
  let increases = 0
  const events: Array<Event> = []
  const waiters: Array<Deferred.Deferred<void>> = []

  const wake = () => {
    while (active < limit && waiters.length > 0) {
      active++
      Deferred.unsafeDone(waiters.shift()!, Exit.void)
    }
  }
  const setLimit = (to: number, reason: Event["reason"]) => {
    if (to === limit) return
    if (events.length < 200) events.push({ at_job: jobsDone, from: limit, to, reason })
    limit = to
    minSeen = Math.min(minSeen, limit)
    maxSeen = Math.max(maxSeen, limit)
    wake()
  }

  return {
    acquire: Effect.suspend(() => {
      if (active < limit && waiters.length === 0) {
        active++
        return Effect.void
      }
      const waiter = Deferred.unsafeMake<void>(FiberId.none)
      waiters.push(waiter)
      return Deferred.await(waiter)
    }),
    release: Effect.sync(() => {
      active--
      wake()
    }),
    observe: (ms, retryableFailure) => {
      if (!options.backpressure.enabled) return
      const congested = retryableFailure || ms > options.backpressure.latencyTargetMs
      if (congested) {
        clean = 0
        if (jobsDone - lastDecreaseAt >= options.backpressure.cooldownJobs) {
          lastDecreaseAt = jobsDone
          decreases++
          setLimit(Math.max(1, Math.floor(limit * options.backpressure.decreaseFactor)), retryableFailure ? "retryable_error" : "latency")
        }
        return
      }
      clean++
      if (clean >= limit && limit < max) {
        clean = 0
        increases++
        setLimit(limit + 1, "increase")
      }
    },
    jobDone: () => {
      jobsDone++
    },
    limit: () => limit,
    stats: () => ({ limit, min_limit: minSeen, max_limit: maxSeen, decreases, increases, events })
  }
}
