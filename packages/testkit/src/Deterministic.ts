/**
 * Deterministic building blocks: a manual clock for runs outside `it.effect` (where `TestClock` is
 * not available), a seeded `Random`, the counter `IdGen` (with id scopes for concurrent work),
 * seeded entropy, and `TestClock` helpers for tests. With these, everything the engine draws (time,
 * ids, nonces, token secrets) comes from the seed and the sequence of commands.
 */
import { Ids } from "@clawbounties/domain"
import { Entropy } from "@clawbounties/marketplace"
import { Clock, DateTime, Duration, Effect, Layer, Random, TestClock } from "effect"

/** 2026-01-01T00:00:00Z: where simulated time starts unless a run says otherwise. */
export const EPOCH_MILLIS = Date.UTC(2026, 0, 1)

/**
 * A clock that only moves when told to. `sleep` advances it instead of waiting, so code that
 * sleeps under it finishes at once, at the right simulated time.
 */
export interface ManualClock extends Clock.Clock {
  /** Moves time forward (never backward). */
  readonly advance: (duration: Duration.DurationInput) => Effect.Effect<void>
  /** The current simulated time as an ISO string. */
  readonly nowIso: () => string
}

export const manualClock = (startMillis: number = EPOCH_MILLIS): ManualClock => {
  let now = startMillis
  const advanceBy = (millis: number) => {
    if (millis > 0) now += millis
  }
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    currentTimeMillis: Effect.sync(() => now),
    unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
    sleep: (duration) => Effect.sync(() => advanceBy(Duration.toMillis(duration))),
    advance: (duration) => Effect.sync(() => advanceBy(Duration.toMillis(Duration.decode(duration)))),
    nowIso: () => DateTime.formatIso(DateTime.unsafeMake(now))
  }
}

/** A `Random` seeded with `seed`: the same seed draws the same sequence. */
export const random = (seed: number | string): Random.Random => Random.make(seed)

/** Provides a seeded `Random` to everything under it. */
export const layerRandom = (seed: number | string): Layer.Layer<never> => Layer.setRandom(random(seed))

/**
 * Runs `effect` with the ids the counter `IdGen` makes numbered within scope `scope` (a positive
 * integer, such as a job's number): `sub_j00017n001` is the first submission id made in scope 17,
 * whatever runs beside it (`Ids.IdScope`).
 */
export const withIdScope = (scope: number) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locally(effect, Ids.IdScope, scope)

/** Counter ids: `bty_000001`, ... per prefix, or within a scope (see {@link withIdScope}). */
export const layerIds: Layer.Layer<Ids.IdGen> = Ids.IdGen.layerCounter

/** Token secrets and challenge nonces from the fiber's `Random` (tests and simulations only). */
export const layerEntropy: Layer.Layer<Entropy.Entropy> = Entropy.Entropy.layerSeeded

/**
 * Everything deterministic at once: counter ids, seeded entropy, a seeded `Random`. Combine with
 * `TestClock` (inside `it.effect`) or {@link manualClock} (elsewhere).
 */
export const layer = (seed: number | string = 0): Layer.Layer<Ids.IdGen | Entropy.Entropy> =>
  Layer.mergeAll(layerIds, layerEntropy, layerRandom(seed))

// -------------------------------------------------------------------------------------------------
// TestClock helpers (inside `it.effect`, where TestClock is the clock)

/** Moves the test clock past `duration` by one second: a deadline of exactly `duration` is then due. */
export const passDeadline = (duration: Duration.DurationInput): Effect.Effect<void> =>
  TestClock.adjust(Duration.sum(Duration.decode(duration), Duration.seconds(1)))

/** Sets the test clock to an ISO instant. */
export const setTime = (iso: string): Effect.Effect<void> =>
  TestClock.setTime(DateTime.toEpochMillis(DateTime.unsafeMake(iso)))

/** The current time (test or manual clock) as an ISO string. */
export const nowIso: Effect.Effect<string> = Effect.map(DateTime.now, DateTime.formatIso)
