/**
 * The deadline scheduler: `Deadlines.sweep` every interval, and `Webhooks.deliverDue` every webhook
 * interval, in the runtime's scope (so disposing the runtime stops both). A failed sweep is logged and counted and the next one runs as planned;
 * the status is kept for the operators' sweep-status route.
 */
import { Deadlines, Webhooks } from "@clawbounties/marketplace"
import { Cause, Context, DateTime, Duration, Effect, Layer, Option, Ref, Schedule } from "effect"
import type * as Engine from "./Engine.js"
import * as Http from "./Http.js"

export interface Status {
  readonly running: boolean
  readonly interval_ms: number
  readonly runs: number
  readonly failures: number
  readonly last_started_at: string | null
  readonly last_finished_at: string | null
  readonly last_report: Deadlines.SweepReport | null
  readonly last_error: string | null
}

export interface Service {
  readonly status: Effect.Effect<Status>
  /** Runs one sweep now (operators), recorded like the scheduled ones. */
  readonly runNow: Effect.Effect<Deadlines.SweepReport, Deadlines.SweepError, Engine.Services>
}

export class Scheduler extends Context.Tag("@clawbounties/server/Scheduler")<Scheduler, Service>() {}

export interface Options {
  readonly interval: Duration.DurationInput
  /** False: no background sweeps and no webhook deliveries (tests drive them). */
  readonly enabled: boolean
  /** How often due webhook deliveries are made; 5 seconds when omitted. */
  readonly webhookInterval?: Duration.DurationInput | undefined
}

export const DEFAULT_WEBHOOK_INTERVAL = Duration.seconds(5)

const nowIso = Effect.map(DateTime.now, DateTime.formatIso)

export const layer = (options: Options): Layer.Layer<Scheduler, never, Engine.Services> =>
  Layer.scoped(
    Scheduler,
    Effect.gen(function* () {
      const context = yield* Effect.context<Engine.Services>()
      const state = yield* Ref.make<Status>({
        running: options.enabled,
        interval_ms: Duration.toMillis(Duration.decode(options.interval)),
        runs: 0,
        failures: 0,
        last_started_at: null,
        last_finished_at: null,
        last_report: null,
        last_error: null
      })
      // One sweep at a time: an operator's run-now never overlaps a scheduled one.
      const lock = yield* Effect.makeSemaphore(1)

      const sweepOnce = lock.withPermits(1)(Effect.gen(function* () {
        const startedAt = yield* nowIso
        const exit = yield* Effect.exit(Deadlines.sweep())
        const finishedAt = yield* nowIso
        if (exit._tag === "Success") {
          yield* Ref.update(state, (s) => ({
            ...s,
            runs: s.runs + 1,
            last_started_at: startedAt,
            last_finished_at: finishedAt,
            last_report: exit.value,
            last_error: null
          }))
          return exit.value
        }
        // A database out of reach fails every sweep until it is back: one line each, not a stack trace.
        const failure = Cause.failureOption(exit.cause)
        const unavailable = Option.isSome(failure) && Http.isDatabaseUnavailable(failure.value)
        if (unavailable) yield* Effect.logWarning("deadline sweep failed: the database is unavailable")
        else yield* Effect.logError("deadline sweep failed", exit.cause)
        yield* Ref.update(state, (s) => ({
          ...s,
          runs: s.runs + 1,
          failures: s.failures + 1,
          last_started_at: startedAt,
          last_finished_at: finishedAt,
          // Only the kind of failure: causes may carry SQL text, which does not belong in a response.
          last_error: Cause.isInterruptedOnly(exit.cause)
            ? "interrupted"
            : unavailable
            ? "the database is unavailable"
            : "sweep failed (see the server log)"
        }))
        return yield* Effect.failCause(exit.cause)
      }))

      if (options.enabled) {
        yield* sweepOnce.pipe(
          Effect.provide(context),
          // Every cause, defects included (a corrupt record dies): `Effect.ignore` lets a defect end
          // the loop, and no deadline would fire again. (`sweepOnce` has logged and counted it.)
          Effect.catchAllCause(() => Effect.void),
          Effect.repeat(Schedule.spaced(options.interval)),
          Effect.forkScoped
        )
        // Webhook deliveries beside the sweep, on their own schedule: a slow endpoint never delays a
        // deadline. Each replica runs its own loop; claims keep them from sending one attempt twice.
        yield* Webhooks.deliverDue().pipe(
          Effect.provide(context),
          Effect.catchAllCause((cause) => {
            const failure = Cause.failureOption(cause)
            return Option.isSome(failure) && Http.isDatabaseUnavailable(failure.value)
              ? Effect.logWarning("webhook delivery failed: the database is unavailable")
              : Effect.logError("webhook delivery failed", cause)
          }),
          Effect.repeat(Schedule.spaced(options.webhookInterval ?? DEFAULT_WEBHOOK_INTERVAL)),
          Effect.forkScoped
        )
        yield* Effect.addFinalizer(() => Ref.update(state, (s) => ({ ...s, running: false })))
      }
      return { status: Ref.get(state), runNow: sweepOnce }
    })
  )
