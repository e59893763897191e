/**
 * The batch runner: drives a planned set of jobs ({@link Simulation.plan}) through a {@link Target}
 * with bounded, adaptive concurrency ({@link Backpressure}), retries retryable failures with the same
 * idempotency key, then lets the deadlines act (silent requesters, abandoning workers), verifies every
 * job's final state and money, and checks the invariants. It returns the per-job records and the
 * summary; {@link Artifacts} writes them. A job's steps are in `JobSteps`, the preflight in
 * `Preflight`, the money check in `MoneyCheck`, the summary in `Summary`.
 *
 * Phases: funding preflight → the wave (every job's active steps) → the deadline phase (time moves
 * past the short per-bounty deadlines of silent and abandoned jobs, one sweep, then the follow-ups)
 * → final verification (each job's bounty and escrow) → invariants. Time moves only in the deadline
 * phase, after the wave, so no other job is affected by it.
 */
import { Clock, Effect, Either, Exit, Fiber } from "effect"
import * as Backpressure from "./Backpressure.js"
import * as Deterministic from "./Deterministic.js"
import type * as Invariants from "./Invariants.js"
import * as JobRecord from "./JobRecord.js"
import * as JobSteps from "./JobSteps.js"
import * as MoneyCheck from "./MoneyCheck.js"
import * as Preflight from "./Preflight.js"
import * as Simulation from "./Simulation.js"
import { ErrorExamples, summarise, type Summary } from "./Summary.js"
import type { Target } from "./Target.js"

export type { JobRecord, StepRecord } from "./JobRecord.js"
export { settle, settlementProperties } from "./MoneyCheck.js"
export { invariantsVerdict, type Summary } from "./Summary.js"

export interface Progress {
  readonly done: number
  readonly total: number
  readonly succeeded: number
  readonly failed: number
  readonly limit: number
  readonly phase: "preflight" | "wave" | "deadlines" | "verify" | "invariants" | "done"
}

export interface Options {
  readonly config: Simulation.Config
  readonly target: Target
  /**
   * Prefix of idempotency keys and key derivation labels. In-process the seed alone (a fresh
   * database each run); against a long-lived server, add something unique per run so a second run
   * with the same seed does not replay the first one's commands.
   */
  readonly namespace?: string | undefined
  /**
   * What the principals' keys are derived from; the namespace by default. The namespace is public
   * (bounty descriptions, the summary), so against a shared server pass a secret: whoever can
   * derive a requester's key can register its DID again, take a token, and spend its funding.
   */
  readonly keySeed?: string | undefined
  /** Checks on the engine's own records (in-process targets), run after the final sweep. */
  readonly engineChecks?: Effect.Effect<ReadonlyArray<Invariants.Result>> | undefined
  readonly onProgress?: ((progress: Progress) => void) | undefined
}

export interface Result {
  readonly summary: Summary
  readonly jobs: ReadonlyArray<JobRecord.JobRecord>
}

/** The plan's config, with what the target cannot do taken out, and a line saying so for each. */
const adjustTo = (target: Target, config: Simulation.Config) => {
  const adjustments: Array<string> = []
  let effective = config
  const unsupported = config.faults.kinds.filter((k) => !target.capabilities.faults.includes(k))
  if (unsupported.length > 0) {
    adjustments.push(`fault kinds not supported by this target were dropped: ${unsupported.join(", ")}`)
    effective = { ...effective, faults: { ...effective.faults, kinds: config.faults.kinds.filter((k) => target.capabilities.faults.includes(k)) } }
  }
  if (!target.capabilities.sweep && (config.decisions.silent > 0 || config.abandonShare > 0)) {
    adjustments.push("the target offers no deadline sweep: silent requesters approve instead and no worker abandons")
    effective = { ...effective, decisions: { ...effective.decisions, approve: effective.decisions.approve + effective.decisions.silent, silent: 0 }, abandonShare: 0 }
  }
  return { effective, adjustments }
}

/**
 * A job's commands number the ids they make within the job (in-process, where the testkit's id
 * service makes them), so the ids a job gets do not depend on which jobs ran beside it: the same
 * seed gives the same `jobs.ndjson` whatever the concurrency limit did.
 */
const inJobScope = (job: JobRecord.JobRecord) => Deterministic.withIdScope(job.plan.index + 1)

export const run = (options: Options): Effect.Effect<Result> =>
  Effect.gen(function* () {
    const { config, target } = options
    const ns = options.namespace ?? `seed-${config.seed}`
    const startedAt = yield* Clock.currentTimeMillis
    const started = yield* JobSteps.nowMs
    const { adjustments, effective } = adjustTo(target, config)
    const plan = yield* Simulation.plan(effective)
    const restartAt = target.restart === undefined ? null : yield* Simulation.restartAt(effective)

    const gate = Backpressure.make({ max: config.maxConcurrency, initial: config.initialConcurrency, backpressure: config.backpressure })
    const retries: Record<string, number> = {}
    const examples = new ErrorExamples()
    const restarts: Array<{ at_job: string; ok: boolean; ms: number; error?: string }> = []
    let done = 0
    let succeededSoFar = 0
    let failedSoFar = 0
    const progress = (phase: Progress["phase"]) =>
      options.onProgress?.({ done, succeeded: succeededSoFar, failed: failedSoFar, limit: gate.limit(), phase, total: config.total })
    const finish = (input: { readonly jobs: ReadonlyArray<JobRecord.JobRecord>; readonly waveMs: number; readonly funding: unknown; readonly deadlinePhase: unknown; readonly invariants: ReadonlyArray<Invariants.Result> }) =>
      Effect.map(JobSteps.nowMs, (now) =>
        summarise({ ...input, config: effective, target, startedAt, wallMs: now - started, gate, retries, examples, restarts, adjustments, ns }))

    // ---------------------------------------------------------------------------------------------
    // Principals and the funding preflight.
    progress("preflight")
    const preflightStart = yield* JobSteps.nowMs
    const registered = yield* Effect.either(Preflight.register(target, config, options.keySeed ?? ns))
    if (Either.isLeft(registered)) {
      const error = registered.left
      const jobs = plan.map((p) => JobRecord.make(p, "", "", `SETUP_FAILED:${error.code}`))
      const summary = yield* finish({ jobs, waveMs: 0, funding: { ok: false, error: error.code, message: error.message }, deadlinePhase: null, invariants: [] })
      return { summary, jobs }
    }
    const principals = registered.right
    const { operator, requesters, workers } = principals
    const funding = yield* Preflight.fund({ target, config, plan, principals, ns, startedMs: preflightStart })
    const fundingAborts = !funding.ok && config.funding.policy === "abort"
    const jobs = plan.map((p) =>
      JobRecord.make(p, requesters[p.requester]!.did, workers[p.worker]!.did, fundingAborts ? "FUNDING_PREFLIGHT_FAILED" : undefined))
    if (fundingAborts) {
      const summary = yield* finish({ jobs, waveMs: 0, funding: funding.report, deadlinePhase: null, invariants: [] })
      return { summary, jobs }
    }
    const steps = JobSteps.make({ config, target, gate, ns, ...principals, retries, examples })

    // ---------------------------------------------------------------------------------------------
    // The wave.
    const waveStart = yield* JobSteps.nowMs
    // The restart runs beside the jobs. Not a child of its job's fiber, which would interrupt it
    // (unrecorded, half done) when that job ends first: the wave waits for it instead.
    let restarting: Fiber.RuntimeFiber<void> | undefined
    yield* Effect.forEach(jobs, (job) =>
      Effect.gen(function* () {
        yield* gate.acquire
        if (restartAt !== null && job.plan.index === restartAt && target.restart !== undefined) {
          const restart = target.restart
          restarting = yield* Effect.forkDaemon(Effect.gen(function* () {
            const t0 = yield* JobSteps.nowMs
            const exit = yield* Effect.exit(restart)
            restarts.push({ at_job: job.job_id, ok: Exit.isSuccess(exit), ms: Math.round((yield* JobSteps.nowMs) - t0), ...(Exit.isFailure(exit) ? { error: JobSteps.errorOf(exit).code } : {}) })
          }))
        }
        const t0 = yield* JobSteps.nowMs
        yield* steps.active(job).pipe(inJobScope(job), Effect.ensuring(gate.release))
        job.timings.job_ms = (yield* JobSteps.nowMs) - t0
        gate.jobDone()
        done++
        if (job.steps.every((s) => s.ok)) succeededSoFar++
        else failedSoFar++
        progress("wave")
      }), { concurrency: "unbounded", discard: true })
    if (restarting !== undefined) yield* Fiber.join(restarting)
    const waveMs = (yield* JobSteps.nowMs) - waveStart

    // ---------------------------------------------------------------------------------------------
    // The deadline phase: time moves past the short deadlines of the silent and abandoned jobs, one
    // sweep applies them, and each such job is followed up.
    const pending = jobs.filter((j) => j.pending !== undefined)
    let deadlinePhase: Record<string, unknown> | null = null
    if (pending.length > 0) {
      progress("deadlines")
      const phaseStart = yield* JobSteps.nowMs
      if (target.capabilities.clock === "manual") {
        yield* target.advance(config.deadlineSeconds + 1)
      } else {
        const latest = Math.max(...pending.map((j) => j.pendingSince ?? 0))
        const waitMs = latest + (config.deadlineSeconds + 1) * 1000 - (yield* JobSteps.nowMs)
        if (waitMs > 0) yield* Effect.sleep(Math.ceil(waitMs))
      }
      const sweep = yield* Effect.either(target.sweep(operator))
      yield* Effect.forEach(pending, (job) => Effect.acquireUseRelease(gate.acquire, () => steps.followUp(job).pipe(inJobScope(job)), () => gate.release), { concurrency: "unbounded", discard: true })
      deadlinePhase = {
        jobs: pending.length,
        reopen: pending.filter((j) => j.plan.abandon).length,
        auto_approve: pending.filter((j) => !j.plan.abandon).length,
        advanced_seconds: config.deadlineSeconds + 1,
        clock: target.capabilities.clock,
        sweep: Either.isRight(sweep) ? sweep.right : { error: sweep.left.code },
        ms: Math.round(((yield* JobSteps.nowMs) - phaseStart) * 100) / 100
      }
    }

    // ---------------------------------------------------------------------------------------------
    // Final verification of every job that got a bounty.
    progress("verify")
    yield* Effect.forEach(jobs, steps.readFinalState, { concurrency: config.maxConcurrency, discard: true })
    jobs.forEach(JobRecord.conclude)

    // ---------------------------------------------------------------------------------------------
    // Invariants: the target's own (reconcile), the money of our participants, the engine's records.
    progress("invariants")
    const invariants: Array<Invariants.Result> = []
    const reconciled = yield* Effect.either(target.reconcile(operator))
    invariants.push(Either.isRight(reconciled)
      ? { name: "ledger_reconcile_via_target", ok: reconciled.right.ok, violations: reconciled.right.discrepancies.slice(0, 20).map((d) => `${d.kind}: ${d.detail}`) }
      : { name: "ledger_reconcile_via_target", ok: false, violations: [`reconcile unavailable: ${reconciled.left.code}`] })
    invariants.push(yield* MoneyCheck.balancesMatch(target, operator, requesters, workers, funding.credited, jobs, target.capabilities.records))
    invariants.push({
      name: "no_stuck_jobs_or_escrows",
      ok: jobs.every((j) => !j.outcome.stuck_job && !j.outcome.stuck_escrow),
      violations: jobs.filter((j) => j.outcome.stuck_job || j.outcome.stuck_escrow).slice(0, 20)
        .map((j) => `${j.job_id}: bounty ${j.outcome.bounty_status}, escrow ${j.outcome.escrow_status}`)
    })
    if (options.engineChecks !== undefined) {
      if (target.capabilities.sweep) yield* Effect.ignore(target.sweep(operator))
      invariants.push(...(yield* options.engineChecks))
    }

    const summary = yield* finish({ jobs, waveMs, funding: funding.report, deadlinePhase, invariants })
    options.onProgress?.({ done, succeeded: summary.totals.succeeded, failed: summary.totals.failed, limit: gate.limit(), phase: "done", total: config.total })
    for (const job of jobs) {
      delete job.pending
      delete job.pendingSince
    }
    return { summary, jobs }
  })
