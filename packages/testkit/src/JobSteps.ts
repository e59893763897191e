/**
 * A job's conversation with the target, as the runner's wave and deadline phase hold it: each step
 * a request retried with the same idempotency key while it fails retryably, and recorded on the job
 * (attempts, fault, the code it ended with, its time); the active story of a job (post, accept,
 * submit, then what its requester decided); the follow-up once its deadline passed; and the read of
 * its final state.
 */
import { Cause, Clock, Effect, Either, Exit, Option } from "effect"
import type * as Backpressure from "./Backpressure.js"
import * as Builders from "./Builders.js"
import type { JobRecord, StepRecord } from "./JobRecord.js"
import type * as Keys from "./Keys.js"
import type * as Simulation from "./Simulation.js"
import type { ErrorExamples } from "./Summary.js"
import { type Principal, type Target, TargetError, transportCodes } from "./Target.js"

type Json = Record<string, unknown>

/** The string at `path` in an answer, or null. */
export const field = (json: Json | undefined, path: ReadonlyArray<string>): string | null => {
  let at: unknown = json
  for (const key of path) at = typeof at === "object" && at !== null ? (at as Json)[key] : undefined
  return typeof at === "string" ? at : null
}

/** Milliseconds on the runner's clock (the target's manual clock in-process). */
export const nowMs = Effect.map(Clock.currentTimeNanos, (ns) => Number(ns) / 1e6)

/** The failure of an exit as a `TargetError`; a defect becomes one too. */
export const errorOf = <A>(exit: Exit.Exit<A, TargetError>): TargetError =>
  Exit.isFailure(exit)
    ? Option.getOrElse(Cause.failureOption(exit.cause), () =>
      new TargetError({ code: transportCodes.DEFECT, status: null, message: Cause.pretty(exit.cause), retryable: false }))
    : new TargetError({ code: transportCodes.DEFECT, status: null, message: "not a failure", retryable: false })

export interface Context {
  readonly config: Simulation.Config
  readonly target: Target
  readonly gate: Backpressure.Gate
  /** Namespace of the run's idempotency keys. */
  readonly ns: string
  readonly operator: Principal
  readonly requesters: ReadonlyArray<Principal>
  readonly workers: ReadonlyArray<Principal>
  /** Each worker's signing key: it signs every proof of its jobs with it. */
  readonly workerKeys: ReadonlyArray<Keys.Key>
  /** Retries by error code, counted here. */
  readonly retries: Record<string, number>
  readonly examples: ErrorExamples
}

export const make = (ctx: Context) => {
  const { config, gate, ns, operator, requesters, target, workerKeys, workers } = ctx

  const backoff = (attempt: number) =>
    target.capabilities.clock === "manual"
      ? Effect.yieldNow()
      : Effect.sleep(Math.min(config.retry.maxDelayMs, config.retry.baseDelayMs * 2 ** (attempt - 1)))

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
          ctx.retries[error.code] = (ctx.retries[error.code] ?? 0) + 1
          yield* backoff(attempt)
          continue
        }
        record({ ok: false, code: error.code, ...(opts.expect === undefined ? {} : { expected: opts.expect }) })
        ctx.examples.note(error.code, job.plan.index, error.message)
        return undefined
      }
    })

  /**
   * The job's active steps, up to where its plan hands it to a deadline (an abandoning worker, a
   * silent requester: `job.pending`) or to its end. A step that fails ends the story.
   */
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

  /**
   * Once its deadline passed and a sweep ran: the bounty of an abandoned job must be open again
   * (its requester then cancels it), a silent requester's must be approved (the worker paid).
   */
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

  /** Reads where the job's bounty and escrow ended, as its requester sees them. */
  const readFinalState = (job: JobRecord) =>
    job.refs.bounty_id === null ? Effect.void : Effect.gen(function* () {
      const requester = requesters[job.plan.requester]!
      const bounty = yield* Effect.either(target.getBounty(requester, job.refs.bounty_id!))
      job.outcome.bounty_status = Either.isRight(bounty) ? field(bounty.right, ["status"]) : null
      if (job.refs.escrow_id !== null) {
        const escrow = yield* Effect.either(target.getEscrow(requester, job.refs.escrow_id))
        job.outcome.escrow_status = Either.isRight(escrow) ? field(escrow.right, ["status"]) : null
      }
    })

  return { active, followUp, readFinalState }
}
