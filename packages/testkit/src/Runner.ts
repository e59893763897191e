/**
 * The batch runner: drives a planned set of jobs ({@link Simulation.plan}) through a {@link Target}
 * with bounded, adaptive concurrency ({@link Backpressure}), retries retryable failures with the same
 * idempotency key, then lets the deadlines act (silent requesters, abandoning workers), verifies every
 * job's final state and money, and checks the invariants. It returns the per-job records and the
 * summary; {@link Artifacts} writes them.
 *
 * Phases: funding preflight → the wave (every job's active steps) → the deadline phase (time moves
 * past the short per-bounty deadlines of silent and abandoned jobs, one sweep, then the follow-ups)
 * → final verification (each job's bounty and escrow) → invariants. Time moves only in the deadline
 * phase, after the wave, so no other job is affected by it.
 */
import { Quote } from "@clawbounties/fees"
import { Cause, Clock, Effect, Either, Exit, Fiber, Option } from "effect"
import * as Backpressure from "./Backpressure.js"
import * as Builders from "./Builders.js"
import type * as Invariants from "./Invariants.js"
import * as Keys from "./Keys.js"
import * as Simulation from "./Simulation.js"
import * as Stats from "./Stats.js"
import { classify, type Principal, type Target, TargetError, transportCodes } from "./Target.js"

type Json = Record<string, unknown>

export interface StepRecord {
  readonly step: string
  readonly ok: boolean
  /** The error code of a failed step, or of an expected refusal. */
  readonly code?: string
  /** For steps that must be refused (a forged proof): the code they must be refused with. */
  readonly expected?: string
  readonly attempts: number
  readonly fault?: { readonly kind: string; readonly fired: boolean }
}

export interface JobRecord {
  readonly job_id: string
  readonly plan: Simulation.JobPlan
  readonly requester_did: string
  readonly worker_did: string
  steps: Array<StepRecord>
  refs: { bounty_id: string | null; escrow_id: string | null; submission_ids: Array<string>; dispute_id: string | null }
  money: { buyer_total_minor: string | null; worker_net_minor: string | null; platform_fee_minor: string | null; worker_paid_minor: string; fee_paid_minor: string; refunded_minor: string }
  outcome: {
    status: "succeeded" | "failed" | "skipped"
    bounty_status: string | null
    escrow_status: string | null
    expected_status: string
    stuck_job: boolean
    stuck_escrow: boolean
    first_error: string | null
  }
  timings: { job_ms: number; steps_ms: Array<number> }
  /** Internal: what the deadline phase must do for this job. */
  pending?: "reopen" | "auto_approve" | undefined
  /** Internal: when the step that started the deadline ended (ms, runner clock). */
  pendingSince?: number | undefined
}

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
  readonly jobs: ReadonlyArray<JobRecord>
}

export type Summary = ReturnType<typeof summarise>

/** "hold", "VIOLATED", or "not checked" for a run that stopped before its checks. */
export const invariantsVerdict = (summary: Summary): string =>
  !summary.invariants.checked ? "not checked (the run stopped before its checks)" : summary.invariants.ok ? "hold" : "VIOLATED"

const TERMINAL = new Set(["approved", "rejected", "resolved", "cancelled", "expired"])
const ACTIVE_ESCROW = new Set(["held", "frozen"])

const str = (value: unknown): string | null => (typeof value === "string" ? value : null)
const field = (json: Json | undefined, path: ReadonlyArray<string>): string | null => {
  let at: unknown = json
  for (const key of path) at = typeof at === "object" && at !== null ? (at as Json)[key] : undefined
  return str(at)
}
const big = (value: string | null): bigint => (value === null ? 0n : BigInt(value))

const nowMs = Effect.map(Clock.currentTimeNanos, (ns) => Number(ns) / 1e6)

/** Money of a settled job, derived independently from the fee snapshot (the engine's rule). */
export const settle = (job: { readonly worker_net: bigint; readonly fee: bigint; readonly total: bigint }, bps: number) => {
  const share = BigInt(bps)
  const paid = (job.worker_net * share) / 10_000n
  // The fee follows what the worker got, rounded up: a share that rounds to nothing pays none.
  const feeShare = job.worker_net === 0n ? 0n : (job.fee * paid + job.worker_net - 1n) / job.worker_net
  const fee = feeShare > job.fee ? job.fee : feeShare
  return { paid, fee, refund: job.total - paid - fee }
}

/**
 * What any correct settlement satisfies, whatever its formula (the rule above restates the engine's
 * formula, so it alone cannot catch a wrong one): the worker gets at most its net, the fee at most the
 * snapshot's; nothing paid means no fee, the whole net means the whole fee; and the fee is never a
 * larger share of the full fee than the payout is of the net, plus one unit of rounding.
 */
export const settlementProperties = (jobId: string, net: bigint, fullFee: bigint, reported: { readonly paid: bigint; readonly fee: bigint }): ReadonlyArray<string> => {
  const { fee, paid } = reported
  const broken = (why: string) => [`${jobId}: paid ${paid}/fee ${fee} of net ${net}/fee ${fullFee}: ${why}`]
  if (paid < 0n || paid > net) return broken("the payout is outside 0..net")
  if (fee < 0n || fee > fullFee) return broken("the fee is outside 0..the snapshot's")
  if (paid === 0n && fee !== 0n) return broken("a fee on nothing paid")
  if (paid === net && fee !== fullFee) return broken("the whole net without the whole fee")
  if (net > 0n && (fee - 1n) * net >= fullFee * paid && fee > 0n) return broken("the fee is a larger share than the payout")
  return []
}

/** The share (bps) of the worker in a job's final status, or null when the money is still held. */
const workerShare = (job: JobRecord): number | null => {
  switch (job.outcome.bounty_status) {
    case "approved":
      return 10_000
    case "resolved":
      return job.plan.split_bps ?? 0
    case "rejected":
    case "cancelled":
    case "expired":
      return 0
    default:
      return null
  }
}

export const run = (options: Options): Effect.Effect<Result> =>
  Effect.gen(function* () {
    const { config, target } = options
    const ns = options.namespace ?? `seed-${config.seed}`
    const keySeed = options.keySeed ?? ns
    const startedAt = yield* Clock.currentTimeMillis
    const started = yield* nowMs
    const progress = (p: Omit<Progress, "total">) => options.onProgress?.({ ...p, total: config.total })
    const adjustments: Array<string> = []

    // ---------------------------------------------------------------------------------------------
    // The plan, adjusted to what the target can do.
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
    const plan = yield* Simulation.plan(effective)
    const restartAt = target.restart === undefined ? null : yield* Simulation.restartAt(effective)

    const gate = Backpressure.make({ max: config.maxConcurrency, initial: config.initialConcurrency, backpressure: config.backpressure })
    const retries: Record<string, number> = {}
    const examples = new ErrorExamples()
    const restarts: Array<{ at_job: string; ok: boolean; ms: number; error?: string }> = []

    const backoff = (attempt: number) =>
      target.capabilities.clock === "manual"
        ? Effect.yieldNow()
        : Effect.sleep(Math.min(config.retry.maxDelayMs, config.retry.baseDelayMs * 2 ** (attempt - 1)))

    const errorOf = <A>(exit: Exit.Exit<A, TargetError>): TargetError =>
      Exit.isFailure(exit)
        ? Option.getOrElse(Cause.failureOption(exit.cause), () =>
          new TargetError({ code: transportCodes.DEFECT, status: null, message: Cause.pretty(exit.cause), retryable: false }))
        : new TargetError({ code: transportCodes.DEFECT, status: null, message: "not a failure", retryable: false })

    /** One step with retries (same request, same key); records it on the job. */
    const step = (
      job: JobRecord,
      name: string,
      call: Effect.Effect<Json, TargetError>,
      opts: { readonly faultStep?: Simulation.FaultStep; readonly expect?: string } = {}
    ): Effect.Effect<Json | undefined> =>
      Effect.gen(function* () {
        const start = yield* nowMs
        const fault = opts.faultStep !== undefined && job.plan.fault?.step === opts.faultStep ? job.plan.fault : undefined
        let fired = false
        for (let attempt = 1; ; attempt++) {
          const attemptStart = yield* nowMs
          const { result, fired: didFire } = yield* target.withFault(attempt === 1 ? fault : undefined, call)
          fired = fired || didFire
          const end = yield* nowMs
          const record = (r: Omit<StepRecord, "step" | "attempts" | "fault">) => {
            job.steps.push({ step: name, ...r, attempts: attempt, ...(fault === undefined ? {} : { fault: { kind: fault.kind, fired } }) })
            job.timings.steps_ms.push(Math.round((end - start) * 100) / 100)
          }
          if (Exit.isSuccess(result)) {
            gate.observe(end - attemptStart, false)
            if (opts.expect !== undefined) {
              // A forged proof accepted is the worst outcome there is: recorded as its own failure.
              record({ ok: false, code: "FORGED_PROOF_ACCEPTED", expected: opts.expect })
              return undefined
            }
            record({ ok: true })
            return result.value
          }
          const error = errorOf(result)
          if (opts.expect !== undefined && error.code === opts.expect) {
            gate.observe(end - attemptStart, false)
            record({ ok: true, code: error.code, expected: opts.expect })
            return (error.details ?? {}) as Json
          }
          gate.observe(end - attemptStart, error.retryable)
          if (error.retryable && attempt < config.retry.attempts) {
            retries[error.code] = (retries[error.code] ?? 0) + 1
            yield* backoff(attempt)
            continue
          }
          record({ ok: false, code: error.code, ...(opts.expect === undefined ? {} : { expected: opts.expect }) })
          examples.note(error.code, job.plan.index, error.message)
          return undefined
        }
      })

    // ---------------------------------------------------------------------------------------------
    // Principals and the funding preflight.
    progress({ done: 0, succeeded: 0, failed: 0, limit: gate.limit(), phase: "preflight" })
    const preflightStart = yield* nowMs
    // Keys are derived once: a worker signs every proof of its jobs with the same key.
    const workerKeys = Array.from({ length: config.workers }, (_, i) => Keys.derive(keySeed, `worker/${i}`))
    const setup = yield* Effect.either(Effect.gen(function* () {
      const operator = yield* target.operator
      const requesters = yield* Effect.forEach(
        Array.from({ length: config.requesters }, (_, i) => i),
        (i) => target.register(Keys.derive(keySeed, `requester/${i}`), "requester"),
        { concurrency: Math.min(4, config.maxConcurrency) }
      )
      const workers = yield* Effect.forEach(
        Array.from({ length: config.workers }, (_, i) => i),
        (i) => target.register(workerKeys[i]!, "worker"),
        { concurrency: Math.min(4, config.maxConcurrency) }
      )
      return { operator, requesters, workers }
    }))
    if (Either.isLeft(setup)) {
      const error = setup.left
      const jobs = plan.map((p) => skipped(p, "", "", `SETUP_FAILED:${error.code}`))
      const summary = summarise({ config: effective, target, startedAt, wallMs: (yield* nowMs) - started, waveMs: 0, jobs, gate, retries, examples, restarts, adjustments, funding: { ok: false, error: error.code, message: error.message }, deadlinePhase: null, invariants: [], ns })
      return { summary, jobs }
    }
    const { operator, requesters, workers } = setup.right

    const need = requesters.map(() => 0n)
    for (const job of plan) {
      const quoted = Quote.quote({
        product: "clawbounties",
        policy_id: "bounties_v1",
        amount_minor: BigInt(job.reward_minor),
        currency: "USD",
        params: { is_code_bounty: false, closure_type: job.closure_type, min_proof_tier: "self" }
      })
      need[job.requester]! += Either.isRight(quoted) ? quoted.right.quote.buyer_total_minor : BigInt(job.reward_minor)
    }
    const funded = requesters.map(() => 0n)
    const fundingErrors: Array<string> = []
    if (config.funding.enabled) {
      yield* Effect.forEach(requesters, (r, i) => {
        const amount = (need[i]! * BigInt(Math.round(config.funding.factor * 1000))) / 1000n
        if (amount <= 0n) return Effect.void
        return Effect.match(target.credit(operator, r.did, amount, `${ns}:fund:${i}`), {
          onFailure: (e) => void fundingErrors.push(`${r.did}: ${e.code}`),
          onSuccess: () => void (funded[i] = amount)
        })
      }, { concurrency: Math.min(4, config.maxConcurrency), discard: true })
    }
    const available = yield* Effect.forEach(requesters, (r) =>
      Effect.match(target.balances(r, r.did), { onFailure: () => -1n, onSuccess: (b) => b.A }), { concurrency: 4 })
    const shortfalls = requesters.flatMap((r, i) =>
      available[i]! < need[i]! ? [{ did: r.did, required_minor: need[i]!.toString(), available_minor: available[i]!.toString() }] : [])
    const fundingOk = shortfalls.length === 0 && fundingErrors.length === 0
    const funding = {
      ok: fundingOk,
      policy: config.funding.policy,
      decision: fundingOk ? "proceed" : config.funding.policy === "abort" ? "aborted" : "continued",
      funded: config.funding.enabled,
      factor: config.funding.factor,
      required_minor: need.reduce((a, b) => a + b, 0n).toString(),
      credited_minor: funded.reduce((a, b) => a + b, 0n).toString(),
      shortfalls: shortfalls.slice(0, 20),
      shortfall_count: shortfalls.length,
      errors: fundingErrors.slice(0, 20),
      ms: Math.round(((yield* nowMs) - preflightStart) * 100) / 100
    }

    const jobs: Array<JobRecord> = plan.map((p) => ({
      job_id: p.job_id,
      plan: p,
      requester_did: requesters[p.requester]!.did,
      worker_did: workers[p.worker]!.did,
      steps: [],
      refs: { bounty_id: null, escrow_id: null, submission_ids: [], dispute_id: null },
      money: { buyer_total_minor: null, worker_net_minor: null, platform_fee_minor: null, worker_paid_minor: "0", fee_paid_minor: "0", refunded_minor: "0" },
      outcome: { status: "failed", bounty_status: null, escrow_status: null, expected_status: Simulation.expectedStatus(p), stuck_job: false, stuck_escrow: false, first_error: null },
      timings: { job_ms: 0, steps_ms: [] }
    }))

    if (!fundingOk && config.funding.policy === "abort") {
      for (const job of jobs) {
        job.outcome.status = "skipped"
        job.outcome.first_error = "FUNDING_PREFLIGHT_FAILED"
      }
      const summary = summarise({ config: effective, target, startedAt, wallMs: (yield* nowMs) - started, waveMs: 0, jobs, gate, retries, examples, restarts, adjustments, funding, deadlinePhase: null, invariants: [], ns })
      return { summary, jobs }
    }

    // ---------------------------------------------------------------------------------------------
    // The wave.
    let done = 0
    let succeededSoFar = 0
    let failedSoFar = 0
    const reportWave = (job: JobRecord) => {
      done++
      if (job.steps.every((s) => s.ok)) succeededSoFar++
      else failedSoFar++
      progress({ done, succeeded: succeededSoFar, failed: failedSoFar, limit: gate.limit(), phase: "wave" })
    }

    const active = (job: JobRecord) =>
      Effect.gen(function* () {
        const p = job.plan
        const requester = requesters[p.requester]!
        const worker = workers[p.worker]!
        const key = (s: string) => `${ns}:${p.job_id}:${s}`
        const posted = yield* step(job, "post", target.post(requester, {
          title: `Simulated job ${p.job_id}`,
          description: `Batch simulation ${ns}, job ${p.job_id}: summarise and recommend.`,
          reward: { amount_minor: p.reward_minor, currency: "USD" },
          closure_type: p.closure_type,
          difficulty_scalar: 1,
          is_code_bounty: false,
          min_proof_tier: "self",
          tags: ["research", "testkit"],
          metadata: { simulation: ns, job_id: p.job_id },
          ...(p.abandon
            ? { deadlines: { work_within_seconds: config.deadlineSeconds } }
            : p.decision === "silent"
            ? { deadlines: { review_within_seconds: config.deadlineSeconds } }
            : {}),
          idempotency_key: key("post")
        }), { faultStep: "post" })
        if (posted === undefined) return
        const bountyId = field(posted, ["bounty_id"])!
        job.refs.bounty_id = bountyId
        job.refs.escrow_id = field(posted, ["escrow_id"])
        job.money.buyer_total_minor = field(posted, ["all_in_cost", "total_minor"])
        job.money.platform_fee_minor = field(posted, ["all_in_cost", "platform_fee_minor"])
        job.money.worker_net_minor = field(posted, ["worker_net_minor"])

        const accepted = yield* step(job, "accept", target.accept(worker, bountyId, { idempotency_key: key("accept") }), { faultStep: "accept" })
        if (accepted === undefined) return
        if (p.abandon) {
          job.pending = "reopen"
          job.pendingSince = yield* nowMs
          return
        }
        const issuedAt = yield* target.now
        const workerKey = workerKeys[p.worker]!
        if (p.invalid_first) {
          const refused = yield* step(job, "submit_invalid", target.submit(worker, bountyId, {
            proof_bundle_envelope: Builders.proofBundle(workerKey, { runId: `${p.job_id}_forged`, issuedAt, tamper: true }),
            artifacts: [],
            idempotency_key: key("submit-invalid")
          }), { expect: "SUBMISSION_INVALID" })
          const invalidId = field(refused, ["submission_id"])
          if (invalidId !== null) job.refs.submission_ids.push(invalidId)
        }
        const submitted = yield* step(job, "submit", target.submit(worker, bountyId, {
          proof_bundle_envelope: Builders.proofBundle(workerKey, { runId: p.job_id, issuedAt }),
          artifacts: [],
          result_summary: `Findings for ${p.job_id}.`,
          idempotency_key: key("submit")
        }), { faultStep: "submit" })
        if (submitted === undefined) return
        const submissionId = field(submitted, ["submission_id"])!
        job.refs.submission_ids.push(submissionId)

        const listed = yield* step(job, "list_submissions", target.listSubmissions(requester, bountyId))
        const underReview = ((listed?.submissions ?? []) as ReadonlyArray<Json>).find((s) => s.status === "pending_review")
        if (listed !== undefined && field(underReview, ["submission_id"]) !== submissionId) {
          job.steps.push({ step: "review_listing", ok: false, code: "SUBMISSION_NOT_LISTED", attempts: 1 })
          job.timings.steps_ms.push(0)
        }
        yield* step(job, "get_submission", target.getSubmission(requester, submissionId))

        switch (p.decision) {
          case "approve": {
            const approved = yield* step(job, "approve", target.approve(requester, bountyId, { submission_id: submissionId, idempotency_key: key("approve") }), { faultStep: "approve" })
            if (approved !== undefined) {
              job.money.worker_paid_minor = field(approved, ["worker_paid_minor"]) ?? "0"
              job.money.fee_paid_minor = field(approved, ["platform_fee_minor"]) ?? "0"
            }
            return
          }
          case "reject": {
            const rejected = yield* step(job, "reject", target.reject(requester, bountyId, {
              submission_id: submissionId,
              reason: "Does not answer the brief.",
              idempotency_key: key("reject")
            }), { faultStep: "reject" })
            if (rejected === undefined) return
            const disputeId = field(rejected, ["dispute_id"])!
            job.refs.dispute_id = disputeId
            const resolved = yield* step(job, "resolve_dispute", target.resolveDispute(operator, disputeId, {
              outcome: p.dispute_outcome,
              ...(p.split_bps === null ? {} : { worker_share_bps: p.split_bps }),
              note: `simulation ${ns}`,
              idempotency_key: key("resolve")
            }), { faultStep: "resolve" })
            if (resolved !== undefined) {
              job.money.worker_paid_minor = field(resolved, ["worker_amount_minor"]) ?? "0"
              job.money.fee_paid_minor = field(resolved, ["platform_fee_minor"]) ?? "0"
              job.money.refunded_minor = field(resolved, ["refund_minor"]) ?? "0"
            }
            return
          }
          case "silent":
            job.pending = "auto_approve"
            job.pendingSince = yield* nowMs
            return
          case null:
            return
        }
      })

    const waveStart = yield* nowMs
    // The restart runs beside the jobs. Not a child of its job's fiber, which would interrupt it
    // (unrecorded, half done) when that job ends first: the wave waits for it instead.
    let restarting: Fiber.RuntimeFiber<void> | undefined
    yield* Effect.forEach(jobs, (job) =>
      Effect.gen(function* () {
        yield* gate.acquire
        if (restartAt !== null && job.plan.index === restartAt && target.restart !== undefined) {
          const restart = target.restart
          restarting = yield* Effect.forkDaemon(Effect.gen(function* () {
            const t0 = yield* nowMs
            const exit = yield* Effect.exit(restart)
            restarts.push({ at_job: job.job_id, ok: Exit.isSuccess(exit), ms: Math.round((yield* nowMs) - t0), ...(Exit.isFailure(exit) ? { error: errorOf(exit).code } : {}) })
          }))
        }
        const t0 = yield* nowMs
        yield* active(job).pipe(Effect.ensuring(gate.release))
        job.timings.job_ms = (yield* nowMs) - t0
        gate.jobDone()
        reportWave(job)
      }), { concurrency: "unbounded", discard: true })
    if (restarting !== undefined) yield* Fiber.join(restarting)
    const waveMs = (yield* nowMs) - waveStart

    // ---------------------------------------------------------------------------------------------
    // The deadline phase.
    const pending = jobs.filter((j) => j.pending !== undefined)
    let deadlinePhase: Json | null = null
    if (pending.length > 0) {
      progress({ done, succeeded: succeededSoFar, failed: failedSoFar, limit: gate.limit(), phase: "deadlines" })
      const phaseStart = yield* nowMs
      if (target.capabilities.clock === "manual") {
        yield* target.advance(config.deadlineSeconds + 1)
      } else {
        const latest = Math.max(...pending.map((j) => j.pendingSince ?? 0))
        const waitMs = latest + (config.deadlineSeconds + 1) * 1000 - (yield* nowMs)
        if (waitMs > 0) yield* Effect.sleep(Math.ceil(waitMs))
      }
      const sweep = yield* Effect.either(target.sweep(operator))
      const followUp = (job: JobRecord) =>
        Effect.gen(function* () {
          const t0 = yield* nowMs
          const bountyId = job.refs.bounty_id!
          const requester = requesters[job.plan.requester]!
          const seen = yield* step(job, job.pending === "reopen" ? "await_reopen" : "await_auto_approve", target.getBounty(requester, bountyId))
          const status = field(seen, ["status"])
          const wanted = job.pending === "reopen" ? "open" : "approved"
          if (seen !== undefined && status !== wanted) {
            const last = job.steps[job.steps.length - 1]!
            job.steps[job.steps.length - 1] = { ...last, ok: false, code: `UNEXPECTED_STATUS_${String(status).toUpperCase()}` }
          } else if (seen !== undefined && job.pending === "reopen") {
            const cancelled = yield* step(job, "cancel", target.cancel(requester, bountyId, { reason: "worker abandoned the job", idempotency_key: `${ns}:${job.plan.job_id}:cancel` }), { faultStep: "cancel" })
            if (cancelled !== undefined) job.money.refunded_minor = field(cancelled, ["refunded_minor"]) ?? "0"
          } else if (seen !== undefined) {
            job.money.worker_paid_minor = job.money.worker_net_minor ?? "0"
            job.money.fee_paid_minor = job.money.platform_fee_minor ?? "0"
          }
          job.timings.job_ms += (yield* nowMs) - t0
          job.pending = undefined
        })
      yield* Effect.forEach(pending, (job) => Effect.acquireUseRelease(gate.acquire, () => followUp(job), () => gate.release), { concurrency: "unbounded", discard: true })
      deadlinePhase = {
        jobs: pending.length,
        reopen: pending.filter((j) => j.plan.abandon).length,
        auto_approve: pending.filter((j) => !j.plan.abandon).length,
        advanced_seconds: config.deadlineSeconds + 1,
        clock: target.capabilities.clock,
        sweep: Either.isRight(sweep) ? sweep.right : { error: sweep.left.code },
        ms: Math.round(((yield* nowMs) - phaseStart) * 100) / 100
      }
    }

    // ---------------------------------------------------------------------------------------------
    // Final verification of every job that got a bounty.
    progress({ done, succeeded: succeededSoFar, failed: failedSoFar, limit: gate.limit(), phase: "verify" })
    yield* Effect.forEach(jobs, (job) =>
      job.refs.bounty_id === null ? Effect.void : Effect.gen(function* () {
        const requester = requesters[job.plan.requester]!
        const bounty = yield* Effect.either(target.getBounty(requester, job.refs.bounty_id!))
        job.outcome.bounty_status = Either.isRight(bounty) ? field(bounty.right, ["status"]) : null
        if (job.refs.escrow_id !== null) {
          const escrow = yield* Effect.either(target.getEscrow(requester, job.refs.escrow_id))
          job.outcome.escrow_status = Either.isRight(escrow) ? field(escrow.right, ["status"]) : null
        }
      }), { concurrency: config.maxConcurrency, discard: true })

    for (const job of jobs) {
      const firstError = job.steps.find((s) => !s.ok)
      job.outcome.first_error = firstError?.code ?? null
      job.outcome.stuck_job = job.outcome.bounty_status !== null && !TERMINAL.has(job.outcome.bounty_status)
      job.outcome.stuck_escrow = job.outcome.escrow_status !== null && ACTIVE_ESCROW.has(job.outcome.escrow_status)
      const reachedPlan = job.outcome.bounty_status === job.outcome.expected_status
      job.outcome.status = firstError === undefined && reachedPlan ? "succeeded" : "failed"
      if (firstError === undefined && !reachedPlan) {
        job.outcome.first_error = `UNEXPECTED_FINAL_STATUS_${String(job.outcome.bounty_status).toUpperCase()}`
      }
    }

    // ---------------------------------------------------------------------------------------------
    // Invariants: the target's own (reconcile), the money of our participants, the engine's records.
    progress({ done, succeeded: succeededSoFar, failed: failedSoFar, limit: gate.limit(), phase: "invariants" })
    const invariants: Array<Invariants.Result> = []
    const reconciled = yield* Effect.either(target.reconcile(operator))
    invariants.push(Either.isRight(reconciled)
      ? { name: "ledger_reconcile_via_target", ok: reconciled.right.ok, violations: reconciled.right.discrepancies.slice(0, 20).map((d) => `${d.kind}: ${d.detail}`) }
      : { name: "ledger_reconcile_via_target", ok: false, violations: [`reconcile unavailable: ${reconciled.left.code}`] })
    invariants.push(yield* balancesMatch(target, operator, requesters, workers, funded, jobs, target.capabilities.records))
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

    const summary = summarise({
      config: effective, target, startedAt, wallMs: (yield* nowMs) - started, waveMs, jobs, gate, retries, examples, restarts, adjustments, funding, deadlinePhase, invariants, ns
    })
    progress({ done, succeeded: summary.totals.succeeded, failed: summary.totals.failed, limit: gate.limit(), phase: "done" })
    for (const job of jobs) {
      delete job.pending
      delete job.pendingSince
    }
    return { summary, jobs }
  })

const skipped = (plan: Simulation.JobPlan, requesterDid: string, workerDid: string, reason: string): JobRecord => ({
  job_id: plan.job_id,
  plan,
  requester_did: requesterDid,
  worker_did: workerDid,
  steps: [],
  refs: { bounty_id: null, escrow_id: null, submission_ids: [], dispute_id: null },
  money: { buyer_total_minor: null, worker_net_minor: null, platform_fee_minor: null, worker_paid_minor: "0", fee_paid_minor: "0", refunded_minor: "0" },
  outcome: { status: "skipped", bounty_status: null, escrow_status: null, expected_status: Simulation.expectedStatus(plan), stuck_job: false, stuck_escrow: false, first_error: reason },
  timings: { job_ms: 0, steps_ms: [] }
})

/**
 * Every participant's balances equal what the jobs' final states imply, derived here from the fee
 * snapshots with the settlement rule (not read back from the engine's answers), and the platform's
 * fee pool too when the store is ours alone.
 */
const balancesMatch = (
  target: Target,
  operator: Principal,
  requesters: ReadonlyArray<Principal>,
  workers: ReadonlyArray<Principal>,
  funded: ReadonlyArray<bigint>,
  jobs: ReadonlyArray<JobRecord>,
  platformIsOurs: boolean
) =>
  Effect.gen(function* () {
    const expected = new Map<string, { A: bigint; H: bigint }>()
    const at = (did: string) => expected.get(did) ?? (expected.set(did, { A: 0n, H: 0n }), expected.get(did)!)
    requesters.forEach((r, i) => (at(r.did).A += funded[i]!))
    workers.forEach((w) => at(w.did))
    let fees = 0n
    const violations: Array<string> = []
    for (const job of jobs) {
      if (job.money.buyer_total_minor === null) continue
      const total = big(job.money.buyer_total_minor)
      const share = workerShare(job)
      const requester = at(job.requester_did)
      if (share === null) {
        requester.A -= total
        requester.H += total
        continue
      }
      const settled = settle({ worker_net: big(job.money.worker_net_minor), fee: big(job.money.platform_fee_minor), total }, share)
      requester.A -= settled.paid + settled.fee
      at(job.worker_did).A += settled.paid
      fees += settled.fee
      const reported = { paid: big(job.money.worker_paid_minor), fee: big(job.money.fee_paid_minor) }
      if (job.outcome.status === "succeeded" && (reported.paid !== settled.paid || reported.fee !== settled.fee)) {
        violations.push(`${job.job_id}: engine reported paid ${reported.paid}/fee ${reported.fee}, settlement rule gives ${settled.paid}/${settled.fee}`)
      }
      if (job.outcome.status === "succeeded") violations.push(...settlementProperties(job.job_id, big(job.money.worker_net_minor), big(job.money.platform_fee_minor), reported))
    }
    for (const [did, want] of expected) {
      const got = yield* Effect.either(target.balances(operator, did))
      if (Either.isLeft(got)) {
        violations.push(`${did}: balances unavailable (${got.left.code})`)
        continue
      }
      if (got.right.A !== want.A || got.right.H !== want.H) {
        violations.push(`${did}: A ${got.right.A} H ${got.right.H}, expected A ${want.A} H ${want.H}`)
      }
    }
    if (platformIsOurs) {
      const platform = yield* Effect.either(target.balances(operator, "platform:fees"))
      const got = Either.isRight(platform) ? platform.right.F : -1n
      if (got !== fees) violations.push(`platform:fees F ${got}, expected ${fees}`)
    }
    return {
      name: "balances_match_outcomes",
      ok: violations.length === 0,
      violations: violations.slice(0, 20),
      facts: { participants: expected.size, expected_fees_minor: fees.toString() }
    } satisfies Invariants.Result
  })

const count = <K extends string>(values: ReadonlyArray<K>) =>
  values.reduce<Record<string, number>>((acc, v) => ((acc[v] = (acc[v] ?? 0) + 1), acc), {})

const sortKeys = <V>(record: Record<string, V>): Record<string, V> =>
  Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)))

/**
 * The message behind each failing code, from the earliest job it failed in (not the first to fail
 * in time, which depends on scheduling), so a rerun with the same seed reports the same message.
 */
class ErrorExamples {
  readonly #byCode = new Map<string, { readonly index: number; readonly message: string }>()
  note(code: string, jobIndex: number, message: string): void {
    const known = this.#byCode.get(code)
    if (known === undefined || jobIndex < known.index) this.#byCode.set(code, { index: jobIndex, message })
  }
  byCode(): Record<string, string> {
    return Object.fromEntries([...this.#byCode].map(([code, { message }]) => [code, message]))
  }
}

const rateLimited = (target: Target) => {
  const waits = target.rateLimitWaits?.() ?? { waits: 0, waitedMs: 0 }
  return { waits: waits.waits, waited_ms: Math.round(waits.waitedMs) }
}

const summarise = (input: {
  readonly config: Simulation.Config
  readonly target: Target
  readonly startedAt: number
  readonly wallMs: number
  readonly waveMs: number
  readonly jobs: ReadonlyArray<JobRecord>
  readonly gate: Backpressure.Gate
  readonly retries: Record<string, number>
  readonly examples: ErrorExamples
  readonly restarts: ReadonlyArray<unknown>
  readonly adjustments: ReadonlyArray<string>
  readonly funding: unknown
  readonly deadlinePhase: unknown
  readonly invariants: ReadonlyArray<Invariants.Result>
  readonly ns: string
}) => {
  const { jobs } = input
  const steps: Record<string, { ok: number; failed: number; expected_refusals: number; attempts: number; samples: Array<number> }> = {}
  jobs.forEach((job) => job.steps.forEach((s, i) => {
    const entry = steps[s.step] ?? (steps[s.step] = { ok: 0, failed: 0, expected_refusals: 0, attempts: 0, samples: [] })
    if (s.ok) entry.ok++
    else entry.failed++
    if (s.ok && s.expected !== undefined) entry.expected_refusals++
    entry.attempts += s.attempts
    if (s.ok) entry.samples.push(job.timings.steps_ms[i] ?? 0)
  }))
  const failedSteps = jobs.flatMap((j) => j.steps.filter((s) => !s.ok).map((s) => s.code ?? "UNKNOWN"))
  const jobErrors = jobs.flatMap((j) => (j.outcome.first_error === null ? [] : [j.outcome.first_error]))
  // Throughput and job latency count succeeded jobs only: a failed job is mostly a quick refusal,
  // and counting it flattered both (117 of 200 jobs failing at post doubled the jobs per second).
  const completed = jobs.filter((j) => j.outcome.status === "succeeded")
  const byClosure: Record<string, { jobs: number; succeeded: number; failed: number; skipped: number }> = {}
  for (const job of jobs) {
    const entry = byClosure[job.plan.closure_type] ?? (byClosure[job.plan.closure_type] = { jobs: 0, succeeded: 0, failed: 0, skipped: 0 })
    entry.jobs++
    entry[job.outcome.status]++
  }
  const stuckJobs = jobs.filter((j) => j.outcome.stuck_job)
  const stuckEscrows = jobs.filter((j) => j.outcome.stuck_escrow)
  const sum = (pick: (j: JobRecord) => string | null) => jobs.reduce((acc, j) => acc + big(pick(j)), 0n).toString()
  const faultsPlanned = jobs.filter((j) => j.plan.fault !== null)
  const faultSteps = jobs.flatMap((j) => j.steps.filter((s) => s.fault !== undefined))
  const wallSeconds = input.wallMs / 1000
  const succeeded = jobs.filter((j) => j.outcome.status === "succeeded").length
  return {
    schema: "clawbounties.simulation.summary.v1" as const,
    run: {
      started_at: new Date(input.startedAt).toISOString(),
      seed: input.config.seed,
      namespace: input.ns,
      target: { kind: input.target.kind, label: input.target.label },
      config: input.config,
      adjustments: input.adjustments
    },
    totals: {
      jobs: jobs.length,
      succeeded,
      failed: jobs.filter((j) => j.outcome.status === "failed").length,
      skipped: jobs.filter((j) => j.outcome.status === "skipped").length
    },
    throughput: {
      wall_ms: Math.round(input.wallMs),
      wave_ms: Math.round(input.waveMs),
      jobs_per_second: wallSeconds > 0 ? Math.round((completed.length / wallSeconds) * 100) / 100 : 0,
      wave_jobs_per_second: input.waveMs > 0 ? Math.round((completed.length / (input.waveMs / 1000)) * 100) / 100 : 0
    },
    job_latency_ms: Stats.latency(completed.map((j) => j.timings.job_ms)),
    steps: sortKeys(Object.fromEntries(Object.entries(steps).map(([name, s]) => [name, {
      ok: s.ok,
      failed: s.failed,
      expected_refusals: s.expected_refusals,
      retried_attempts: s.attempts - s.ok - s.failed,
      latency_ms: Stats.latency(s.samples)
    }]))),
    error_buckets: {
      /** Failed steps by the error code they ended with. */
      by_code: sortKeys(count(failedSteps)),
      /** The same, by class (INSUFFICIENT_FUNDS is its own class). */
      by_class: sortKeys(count(failedSteps.map(classify))),
      /** Failed or skipped jobs by their first error. */
      jobs_by_first_error: sortKeys(count(jobErrors)),
      insufficient_funds: failedSteps.filter((c) => c === "INSUFFICIENT_FUNDS").length,
      /** Per code, the message of its failure in the earliest job: a code alone rarely says why. */
      examples: sortKeys(input.examples.byCode())
    },
    retries: {
      by_code: sortKeys(input.retries),
      total: Object.values(input.retries).reduce((a, b) => a + b, 0),
      /** Requests sent again after the server's `Retry-After` (HTTP), apart from the retries above. */
      rate_limited: rateLimited(input.target)
    },
    closure_types: sortKeys(byClosure),
    decisions: {
      approve: jobs.filter((j) => j.plan.decision === "approve").length,
      reject: jobs.filter((j) => j.plan.decision === "reject").length,
      silent: jobs.filter((j) => j.plan.decision === "silent").length,
      abandon: jobs.filter((j) => j.plan.abandon).length,
      invalid_first: jobs.filter((j) => j.plan.invalid_first).length,
      dispute_outcomes: sortKeys(count(jobs.flatMap((j) => (j.plan.dispute_outcome === null ? [] : [j.plan.dispute_outcome]))))
    },
    terminal_states: sortKeys(count(jobs.flatMap((j) => (j.outcome.bounty_status === null ? [] : [j.outcome.bounty_status])))),
    escrow_states: sortKeys(count(jobs.flatMap((j) => (j.outcome.escrow_status === null ? [] : [j.outcome.escrow_status])))),
    stuck: {
      jobs: stuckJobs.length,
      escrows: stuckEscrows.length,
      jobs_sample: stuckJobs.slice(0, 10).map((j) => ({ job_id: j.job_id, bounty_id: j.refs.bounty_id, status: j.outcome.bounty_status })),
      escrows_sample: stuckEscrows.slice(0, 10).map((j) => ({ job_id: j.job_id, escrow_id: j.refs.escrow_id, status: j.outcome.escrow_status }))
    },
    money: {
      buyer_totals_minor: sum((j) => j.money.buyer_total_minor),
      worker_paid_minor: sum((j) => j.money.worker_paid_minor),
      platform_fees_minor: sum((j) => j.money.fee_paid_minor),
      refunded_minor: sum((j) => j.money.refunded_minor)
    },
    funding_preflight: input.funding,
    deadline_phase: input.deadlinePhase,
    faults: {
      planned: faultsPlanned.length,
      fired: faultSteps.filter((s) => s.fault!.fired).length,
      by_kind: sortKeys(count(faultSteps.filter((s) => s.fault!.fired).map((s) => s.fault!.kind))),
      jobs_with_fault_succeeded: faultsPlanned.filter((j) => j.outcome.status === "succeeded").length,
      restarts: input.restarts
    },
    backpressure: { ...input.gate.stats(), max_concurrency: input.config.maxConcurrency },
    // A run that stopped before its checks (setup failed, funding aborted) checked nothing: not ok,
    // and not "violated" either.
    invariants: { checked: input.invariants.length > 0, ok: input.invariants.length > 0 && input.invariants.every((r) => r.ok), results: input.invariants }
  }
}
