/**
 * What the runner records of one job: its plan, each step it took (with attempts and faults), the
 * ids and money the engine answered with, and its outcome once verified. `jobs.ndjson` is these
 * records, one a line.
 */
import * as Simulation from "./Simulation.js"

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

/** A job before its first step: failed until verified, or skipped with `skippedBecause`. */
export const make = (plan: Simulation.JobPlan, requesterDid: string, workerDid: string, skippedBecause?: string): JobRecord => ({
  job_id: plan.job_id,
  plan,
  requester_did: requesterDid,
  worker_did: workerDid,
  steps: [],
  refs: { bounty_id: null, escrow_id: null, submission_ids: [], dispute_id: null },
  money: { buyer_total_minor: null, worker_net_minor: null, platform_fee_minor: null, worker_paid_minor: "0", fee_paid_minor: "0", refunded_minor: "0" },
  outcome: {
    status: skippedBecause === undefined ? "failed" : "skipped",
    bounty_status: null,
    escrow_status: null,
    expected_status: Simulation.expectedStatus(plan),
    stuck_job: false,
    stuck_escrow: false,
    first_error: skippedBecause ?? null
  },
  timings: { job_ms: 0, steps_ms: [] }
})

const TERMINAL = new Set(["approved", "rejected", "resolved", "cancelled", "expired"])
const ACTIVE_ESCROW = new Set(["held", "frozen"])

/**
 * Judges a job once its final bounty and escrow statuses are read: it succeeded when every step did
 * and the bounty ended where its plan says; stuck when its bounty is not terminal, or its escrow
 * still holds money.
 */
export const conclude = (job: JobRecord): void => {
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

/** A money field of the record (minor units as a string, or null when the engine never said) as a bigint, 0 for null. */
export const minor = (value: string | null): bigint => (value === null ? 0n : BigInt(value))
