/**
 * The run's `summary.json`: totals, throughput, latency per step, error buckets, retries, stuck jobs
 * and escrows, money, faults, backpressure and the invariants, from the job records alone. Every
 * map is sorted by key, so one seed gives one summary apart from timings.
 */
import type * as Backpressure from "./Backpressure.js"
import type * as Invariants from "./Invariants.js"
import { type JobRecord, minor } from "./JobRecord.js"
import type * as Simulation from "./Simulation.js"
import * as Stats from "./Stats.js"
import { classify, type Target } from "./Target.js"

export type Summary = ReturnType<typeof summarise>

/** "hold", "VIOLATED", or "not checked" for a run that stopped before its checks. */
export const invariantsVerdict = (summary: Summary): string =>
  !summary.invariants.checked ? "not checked (the run stopped before its checks)" : summary.invariants.ok ? "hold" : "VIOLATED"

const count = <K extends string>(values: ReadonlyArray<K>) =>
  values.reduce<Record<string, number>>((acc, v) => ((acc[v] = (acc[v] ?? 0) + 1), acc), {})

const sortKeys = <V>(record: Record<string, V>): Record<string, V> =>
  Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)))

/**
 * The message behind each failing code, from the earliest job it failed in (not the first to fail
 * in time, which depends on scheduling), so a rerun with the same seed reports the same message.
 */
export class ErrorExamples {
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

export const summarise = (input: {
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
  const sum = (pick: (j: JobRecord) => string | null) => jobs.reduce((acc, j) => acc + minor(pick(j)), 0n).toString()
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
