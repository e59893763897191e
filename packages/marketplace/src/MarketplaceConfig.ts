/**
 * Settings of the marketplace: deadlines (every non-terminal state has one), their bounds for
 * per-bounty overrides, and what happens when a worker runs out of time. Read from `Config`
 * (environment variables in the server), with defaults that suit an agent marketplace.
 */
import { Verifier } from "@clawbounties/verify"
import { Config, Context, Duration, Layer } from "effect"

export type AcceptanceTimeoutPolicy = "reopen" | "cancel"

export interface Deadlines {
  /** How long a bounty stays open for acceptance before it expires and the hold is voided. */
  readonly open: Duration.Duration
  /** How long an accepted worker has to get a valid submission under review. */
  readonly work: Duration.Duration
  /** How long the requester has to approve or reject before the submission is approved. */
  readonly review: Duration.Duration
  /** How long a dispute may stay unresolved before it is escalated to operators. */
  readonly dispute: Duration.Duration
}

export interface Settings {
  readonly deadlines: Deadlines
  /** The shortest and longest deadline a bounty may ask for. */
  readonly minDeadline: Duration.Duration
  readonly maxDeadline: Duration.Duration
  /** What happens when an accepted worker misses the work deadline. */
  readonly acceptanceTimeout: AcceptanceTimeoutPolicy
  /** How many submissions one acceptance may make (invalid ones count). */
  readonly maxSubmissionAttempts: number
  /** How many due transitions one sweep applies at most. */
  readonly sweepBatchSize: number
  /** How long an event is kept: delivered until acknowledged, replayable, then deleted by the sweep. */
  readonly eventRetention: Duration.Duration
  readonly verification: {
    /** Gateway receipt signers trusted for the `gateway` proof tier. */
    readonly gatewaySignerDids: ReadonlyArray<string>
    /** Tolerance for envelope expiry checks. */
    readonly clockSkewMs: number
  }
}

export const defaults: Settings = {
  deadlines: {
    open: Duration.days(7),
    work: Duration.hours(24),
    review: Duration.hours(72),
    dispute: Duration.days(7)
  },
  minDeadline: Duration.minutes(1),
  maxDeadline: Duration.days(90),
  acceptanceTimeout: "reopen",
  maxSubmissionAttempts: 3,
  sweepBatchSize: 500,
  eventRetention: Duration.days(90),
  verification: { gatewaySignerDids: [], clockSkewMs: 0 }
}

const duration = (name: string, fallback: Duration.Duration) =>
  Config.duration(name).pipe(
    Config.validate({ message: "must be longer than 0", validation: (d) => Duration.greaterThan(d, Duration.zero) }),
    Config.withDefault(fallback)
  )

/** Reads `BOUNTY_OPEN_TTL`, `BOUNTY_WORK_DEADLINE`, ... (Effect duration strings such as "24 hours"). */
export const config: Config.Config<Settings> = Config.all({
  deadlines: Config.all({
    open: duration("BOUNTY_OPEN_TTL", defaults.deadlines.open),
    work: duration("BOUNTY_WORK_DEADLINE", defaults.deadlines.work),
    review: duration("BOUNTY_REVIEW_WINDOW", defaults.deadlines.review),
    dispute: duration("DISPUTE_ESCALATION_AFTER", defaults.deadlines.dispute)
  }),
  minDeadline: duration("BOUNTY_MIN_DEADLINE", defaults.minDeadline),
  maxDeadline: duration("BOUNTY_MAX_DEADLINE", defaults.maxDeadline),
  acceptanceTimeout: Config.literal("reopen", "cancel")("BOUNTY_ACCEPTANCE_TIMEOUT").pipe(
    Config.withDefault(defaults.acceptanceTimeout)
  ),
  maxSubmissionAttempts: Config.integer("BOUNTY_MAX_SUBMISSION_ATTEMPTS").pipe(
    Config.validate({ message: "must be between 1 and 100", validation: (n) => n >= 1 && n <= 100 }),
    Config.withDefault(defaults.maxSubmissionAttempts)
  ),
  sweepBatchSize: Config.integer("SWEEP_BATCH_SIZE").pipe(
    Config.validate({ message: "must be between 1 and 10000", validation: (n) => n >= 1 && n <= 10_000 }),
    Config.withDefault(defaults.sweepBatchSize)
  ),
  eventRetention: Config.duration("EVENT_RETENTION").pipe(
    Config.validate({ message: "must be at least 1 day", validation: (d) => Duration.greaterThanOrEqualTo(d, Duration.days(1)) }),
    Config.withDefault(defaults.eventRetention)
  ),
  verification: Config.all({
    // A mistyped signer would make the gateway tier silently never apply: refuse it at start-up.
    gatewaySignerDids: Verifier.signerDidsConfig("GATEWAY_SIGNER_DIDS"),
    clockSkewMs: Config.integer("VERIFY_CLOCK_SKEW_MS").pipe(
      Config.validate({ message: "must be between 0 and 600000", validation: (n) => n >= 0 && n <= 600_000 }),
      Config.withDefault(0)
    )
  })
}).pipe(Config.validate({
  message: "BOUNTY_MIN_DEADLINE must not be longer than BOUNTY_MAX_DEADLINE",
  validation: (settings) => Duration.lessThanOrEqualTo(settings.minDeadline, settings.maxDeadline)
}))

export class MarketplaceConfig extends Context.Tag("@clawbounties/marketplace/MarketplaceConfig")<
  MarketplaceConfig,
  Settings
>() {
  static readonly layer = (settings: Partial<Settings> = {}) =>
    Layer.succeed(MarketplaceConfig, { ...defaults, ...settings })

  static readonly layerConfig = Layer.effect(MarketplaceConfig, config)
}
