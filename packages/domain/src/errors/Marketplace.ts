/** Errors of bounties, escrow, submissions, closure and disputes. */
import { Schema } from "effect"
import type { Section } from "./Entry.js"

/** Posting a closure type whose decision path is not available yet: refused, never half-accepted. */
export class ClosureTypeNotSupported extends Schema.TaggedError<ClosureTypeNotSupported>()("ClosureTypeNotSupported", {
  closure_type: Schema.String,
  supported: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `closure_type '${this.closure_type}' cannot be posted yet; supported: ${this.supported.join(", ")}`
  }
}

export class RewardBelowMinimum extends Schema.TaggedError<RewardBelowMinimum>()("RewardBelowMinimum", {
  lane: Schema.Literal("code", "research", "agent_pack"),
  minimum_minor: Schema.BigIntFromSelf,
  amount_minor: Schema.BigIntFromSelf
}) {
  override get message(): string {
    return `the ${this.lane} lane requires a reward of at least ${this.minimum_minor} minor units`
  }
}

export class BountyNotOpen extends Schema.TaggedError<BountyNotOpen>()("BountyNotOpen", {
  bounty_id: Schema.String,
  status: Schema.String
}) {}

/**
 * The bounty's current state ended at `deadline_at`: from then on only its default exit applies
 * (expiry and refund, reopening, or auto-approval), whether or not the sweep has run yet.
 */
export class DeadlinePassed extends Schema.TaggedError<DeadlinePassed>()("DeadlinePassed", {
  bounty_id: Schema.String,
  status: Schema.String,
  deadline_at: Schema.String
}) {
  override get message(): string {
    return `the bounty's ${this.status} state ended at ${this.deadline_at}; its default exit applies`
  }
}

/** Another worker accepted the bounty first. */
export class BountyAlreadyAccepted extends Schema.TaggedError<BountyAlreadyAccepted>()("BountyAlreadyAccepted", {
  bounty_id: Schema.String
}) {}

/** The worker may not accept this bounty; `reason` says which eligibility rule failed. */
export class WorkerNotEligible extends Schema.TaggedError<WorkerNotEligible>()("WorkerNotEligible", {
  bounty_id: Schema.String,
  reason: Schema.Literal("direct_hire_mismatch", "below_price_floor", "unavailable", "self_dealing", "job_type_not_offered")
}) {}

export class WorkerNotRegistered extends Schema.TaggedError<WorkerNotRegistered>()("WorkerNotRegistered", {
  did: Schema.String
}) {}

/** The caller is not the worker assigned to the bounty. */
export class BountyNotAssigned extends Schema.TaggedError<BountyNotAssigned>()("BountyNotAssigned", {
  bounty_id: Schema.String
}) {}

export class SubmissionAlreadyUnderReview extends Schema.TaggedError<SubmissionAlreadyUnderReview>()(
  "SubmissionAlreadyUnderReview",
  { bounty_id: Schema.String, submission_id: Schema.String }
) {}

export class SubmissionLimitReached extends Schema.TaggedError<SubmissionLimitReached>()("SubmissionLimitReached", {
  bounty_id: Schema.String,
  max_attempts: Schema.Number
}) {}

/**
 * The submission was verified and found invalid. It is stored (so the worker sees why and may try
 * again while attempts remain), and the bounty keeps its funds held.
 */
export class SubmissionInvalid extends Schema.TaggedError<SubmissionInvalid>()("SubmissionInvalid", {
  submission_id: Schema.String,
  reasons: Schema.Array(Schema.Struct({ code: Schema.String, message: Schema.String }))
}) {
  override get message(): string {
    return `the submission did not verify: ${this.reasons.map((r) => r.code).join(", ")}`
  }
}

export class SubmissionNotPendingReview extends Schema.TaggedError<SubmissionNotPendingReview>()(
  "SubmissionNotPendingReview",
  { submission_id: Schema.String, status: Schema.String }
) {}

export class DisputeNotOpen extends Schema.TaggedError<DisputeNotOpen>()("DisputeNotOpen", {
  dispute_id: Schema.String,
  status: Schema.String
}) {}

export type MarketplaceError =
  | ClosureTypeNotSupported
  | RewardBelowMinimum
  | BountyNotOpen
  | DeadlinePassed
  | BountyAlreadyAccepted
  | WorkerNotEligible
  | WorkerNotRegistered
  | BountyNotAssigned
  | SubmissionAlreadyUnderReview
  | SubmissionLimitReached
  | SubmissionInvalid
  | SubmissionNotPendingReview
  | DisputeNotOpen

export const marketplaceEntries = {
  ClosureTypeNotSupported: {
    code: "CLOSURE_TYPE_NOT_SUPPORTED",
    status: 422,
    summary: "This closure type cannot be posted until its decision path exists."
  },
  RewardBelowMinimum: { code: "REWARD_BELOW_MINIMUM", status: 400, summary: "The reward is below the lane's minimum." },
  BountyNotOpen: { code: "BOUNTY_NOT_OPEN", status: 409, summary: "The bounty is no longer open for this action." },
  DeadlinePassed: {
    code: "DEADLINE_PASSED",
    status: 409,
    summary: "The bounty's deadline for this step has passed; its default exit (expiry, reopening or auto-approval) applies."
  },
  BountyAlreadyAccepted: { code: "BOUNTY_ALREADY_ACCEPTED", status: 409, summary: "Another worker accepted the bounty first." },
  WorkerNotEligible: { code: "WORKER_NOT_ELIGIBLE", status: 403, summary: "The worker may not accept this bounty." },
  WorkerNotRegistered: { code: "WORKER_NOT_REGISTERED", status: 404, summary: "The DID has no worker profile." },
  BountyNotAssigned: { code: "BOUNTY_NOT_ASSIGNED", status: 403, summary: "The caller is not the bounty's assigned worker." },
  SubmissionAlreadyUnderReview: {
    code: "SUBMISSION_ALREADY_UNDER_REVIEW",
    status: 409,
    summary: "A submission for this bounty is already under review."
  },
  SubmissionLimitReached: { code: "SUBMISSION_LIMIT_REACHED", status: 409, summary: "No submission attempts remain." },
  SubmissionInvalid: { code: "SUBMISSION_INVALID", status: 422, summary: "The submission's evidence did not verify." },
  SubmissionNotPendingReview: {
    code: "SUBMISSION_NOT_PENDING_REVIEW",
    status: 409,
    summary: "The submission is not awaiting review."
  },
  DisputeNotOpen: { code: "DISPUTE_NOT_OPEN", status: 409, summary: "The dispute is already resolved." }
} as const satisfies Section<MarketplaceError>
