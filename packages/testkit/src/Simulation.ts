/**
 * What a simulation run does, decided entirely by its configuration and seed: how many jobs, of
 * which closure types, which requesters approve, reject or stay silent, which workers submit a
 * forged proof first or abandon the job, how operators resolve disputes, and which commands get a
 * database fault. {@link plan} draws every decision up front from a `Random` per job seeded with
 * `(seed, job index)`, so job 17's story does not depend on how many jobs run or in what order.
 */
import { Effect, Random } from "effect"
import type * as Faults from "./Faults.js"
import { DEFAULT_RATE_LIMIT_WAIT_MS } from "./Target.js"

export type ClosureType = "requester" | "test" | "quorum"
export type Decision = "approve" | "reject" | "silent"
export type DisputeOutcome = "worker_award" | "requester_refund" | "split"
export type FundingPolicy = "abort" | "continue"

export interface Backpressure {
  readonly enabled: boolean
  /** A step slower than this counts as congestion (multiplicative decrease). */
  readonly latencyTargetMs: number
  /** The limit is multiplied by this on congestion or a retryable error (0..1). */
  readonly decreaseFactor: number
  /** Completed jobs between two decreases, so one burst of errors is one decrease. */
  readonly cooldownJobs: number
}

export interface Config {
  readonly total: number
  readonly seed: number
  readonly maxConcurrency: number
  /** Where the adaptive limit starts (defaults to `maxConcurrency`). */
  readonly initialConcurrency?: number | undefined
  /**
   * Weights of closure types. The engine pays out `requester` closure only for now; the others
   * join as they land (a post of another type fails with CLOSURE_TYPE_NOT_SUPPORTED, counted).
   */
  readonly closureMix: Readonly<Partial<Record<ClosureType, number>>>
  /** Weights of what requesters do with a valid submission. */
  readonly decisions: Readonly<Record<Decision, number>>
  /** Share of jobs whose worker first submits a tampered proof (refused), then a valid one. */
  readonly invalidShare: number
  /** Share of jobs whose worker accepts and never submits (the work deadline reopens the job). */
  readonly abandonShare: number
  /** Weights of operator decisions on disputes. */
  readonly disputeOutcomes: Readonly<Record<DisputeOutcome, number>>
  /** Rewards are drawn uniformly from this range (minor units, inclusive). */
  readonly rewardMinor: readonly [number, number]
  readonly requesters: number
  readonly workers: number
  readonly funding: {
    readonly enabled: boolean
    /** Funding as a multiple of what the plan needs (1 = exactly enough; below 1 underfunds). */
    readonly factor: number
    readonly policy: FundingPolicy
  }
  readonly faults: {
    /** Share of jobs that get one database fault on one of their commands. */
    readonly share: number
    readonly kinds: ReadonlyArray<Faults.Kind>
  }
  /** Per-bounty work/review deadline of abandoning and silent jobs (seconds). */
  readonly deadlineSeconds: number
  readonly backpressure: Backpressure
  readonly retry: {
    readonly attempts: number
    readonly baseDelayMs: number
    readonly maxDelayMs: number
    /** How long one request to a rate-limited server may wait in all for its `Retry-After` (HTTP). */
    readonly rateLimitWaitMs: number
  }
}

export const defaults: Config = {
  total: 200,
  seed: 42,
  maxConcurrency: 10,
  closureMix: { requester: 1 },
  decisions: { approve: 0.6, reject: 0.2, silent: 0.2 },
  invalidShare: 0.1,
  abandonShare: 0.1,
  disputeOutcomes: { worker_award: 1, requester_refund: 1, split: 1 },
  rewardMinor: [1000, 20_000],
  requesters: 10,
  workers: 20,
  funding: { enabled: true, factor: 1, policy: "abort" },
  faults: { share: 0, kinds: [] },
  deadlineSeconds: 60,
  backpressure: { enabled: true, latencyTargetMs: 1000, decreaseFactor: 0.5, cooldownJobs: 10 },
  retry: { attempts: 6, baseDelayMs: 50, maxDelayMs: 2000, rateLimitWaitMs: DEFAULT_RATE_LIMIT_WAIT_MS }
}

/** Mutating steps a database fault can hit. */
export type FaultStep = "post" | "accept" | "submit" | "approve" | "reject" | "resolve" | "cancel"

export interface JobPlan {
  readonly index: number
  readonly job_id: string
  readonly closure_type: ClosureType
  readonly requester: number
  readonly worker: number
  readonly reward_minor: string
  /** `null` for abandoned jobs (the requester cancels after the job reopens). */
  readonly decision: Decision | null
  readonly abandon: boolean
  readonly invalid_first: boolean
  readonly dispute_outcome: DisputeOutcome | null
  readonly split_bps: number | null
  readonly fault: { readonly step: FaultStep; readonly kind: Faults.DbKind; readonly at: number } | null
}

const pick = <K extends string>(weights: Readonly<Partial<Record<K, number>>>, draw: number): K => {
  const entries = (Object.entries(weights) as Array<[K, number]>).filter(([, w]) => w > 0)
  const total = entries.reduce((sum, [, w]) => sum + w, 0)
  let at = draw * total
  for (const [key, weight] of entries) {
    if (at < weight) return key
    at -= weight
  }
  return entries[entries.length - 1]![0]
}

/** The steps of a job a fault can land on, given its story. */
export const faultSteps = (job: Pick<JobPlan, "abandon" | "decision">): ReadonlyArray<FaultStep> =>
  job.abandon
    ? ["post", "accept", "cancel"]
    : job.decision === "approve"
    ? ["post", "accept", "submit", "approve"]
    : job.decision === "reject"
    ? ["post", "accept", "submit", "reject", "resolve"]
    : ["post", "accept", "submit"]

/** The plan of job `index` (0-based). */
export const planJob = (config: Config, index: number): Effect.Effect<JobPlan> =>
  Effect.gen(function* () {
    const next = Random.next
    const closure = pick(config.closureMix, yield* next)
    const requester = yield* Random.nextIntBetween(0, config.requesters)
    const worker = yield* Random.nextIntBetween(0, config.workers)
    const [low, high] = config.rewardMinor
    const reward = yield* Random.nextIntBetween(low, high + 1)
    const abandon = (yield* next) < config.abandonShare
    const decisionDraw = yield* next
    const decision = abandon ? null : pick(config.decisions, decisionDraw)
    const invalidFirst = !abandon && (yield* next) < config.invalidShare
    const outcomeDraw = yield* next
    const dispute = decision === "reject" ? pick(config.disputeOutcomes, outcomeDraw) : null
    const bps = dispute === "split" ? yield* Random.nextIntBetween(1, 10_000) : null
    const dbKinds = config.faults.kinds.filter((k): k is Faults.DbKind => k !== "server_restart")
    const faultDraw = yield* next
    const stepDraw = yield* next
    const kindDraw = yield* next
    const at = yield* Random.nextIntBetween(1, 7)
    const steps = faultSteps({ abandon, decision })
    const fault = dbKinds.length > 0 && faultDraw < config.faults.share
      ? { step: steps[Math.floor(stepDraw * steps.length)]!, kind: dbKinds[Math.floor(kindDraw * dbKinds.length)]!, at }
      : null
    return {
      index,
      job_id: `job-${String(index + 1).padStart(5, "0")}`,
      closure_type: closure,
      requester,
      worker,
      reward_minor: String(reward),
      decision,
      abandon,
      invalid_first: invalidFirst,
      dispute_outcome: dispute,
      split_bps: bps,
      fault
    } satisfies JobPlan
  }).pipe(Effect.withRandom(Random.make(`${config.seed}/job/${index}`)))

export const plan = (config: Config): Effect.Effect<ReadonlyArray<JobPlan>> =>
  Effect.forEach(Array.from({ length: config.total }, (_, i) => i), (i) => planJob(config, i))

/** The job index at which a `server_restart` fault restarts the server, or null. */
export const restartAt = (config: Config): Effect.Effect<number | null> =>
  config.faults.kinds.includes("server_restart") && config.total > 1
    ? Effect.withRandom(Random.nextIntBetween(Math.floor(config.total / 4), Math.max(Math.floor(config.total / 4) + 1, Math.floor((3 * config.total) / 4))), Random.make(`${config.seed}/restart`))
    : Effect.succeed(null)

/** What the bounty's status must be at the end of a job that went to plan. */
export const expectedStatus = (job: JobPlan): string => {
  if (job.abandon) return "cancelled"
  if (job.decision === "reject") {
    return job.dispute_outcome === "worker_award" ? "approved" : job.dispute_outcome === "requester_refund" ? "rejected" : "resolved"
  }
  return "approved"
}
