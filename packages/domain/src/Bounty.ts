/**
 * The bounty (claim-mode job) record, wire form: snake_case, amounts as digit strings. It is the
 * reference's `bounty.v2.json` (spec B2) plus the fields the engine needs for fees that never drift,
 * deadlines, and the states the reference never reached; each is listed in `referenceExtensions`.
 */
import { Schema } from "effect"
import * as BountyMachine from "./BountyMachine.js"
import * as Did from "./Did.js"
import * as Ids from "./Ids.js"
import * as Money from "./Money.js"
import { JsonObject, type ReferenceExtension, Timestamp } from "./Wire.js"

/** How a bounty is verified and closed: a test harness, the requester, or a quorum of reviewers. */
export const ClosureType = Schema.Literal("test", "requester", "quorum")
export type ClosureType = typeof ClosureType.Type

/** The requester's floor for proof tiers (spec B5): `self | gateway | sandbox` (legacy field name). */
export const MinProofTier = Schema.Literal("self", "gateway", "sandbox")
export type MinProofTier = typeof MinProofTier.Type

/** The newer name of the same floor: `none | gateway | sandbox` (`self` maps to `none`). */
export const MinimumProofTier = Schema.Literal("none", "gateway", "sandbox")
export type MinimumProofTier = typeof MinimumProofTier.Type

/** What happens when an accepted bounty gets no valid submission in time (BountyMachine). */
export const AcceptanceTimeoutPolicy = Schema.Literal("reopen", "cancel")
export type AcceptanceTimeoutPolicy = typeof AcceptanceTimeoutPolicy.Type

export const Title = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256))
export const Description = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(10_000))
/** The difficulty scalar K (reputation weighting), 0.1 to 10, fixed at post. */
export const DifficultyScalar = Schema.Number.pipe(Schema.finite(), Schema.between(0.1, 10))
export const Tags = Schema.Array(Schema.String.pipe(Schema.maxLength(50))).pipe(Schema.maxItems(10))

export const Reward = Schema.Struct({
  amount_minor: Money.PositiveAmountMinor,
  currency: Money.Currency
})
export type Reward = typeof Reward.Type

/** What the requester pays in total, shown at post: principal + platform fee = total held. */
export const AllInCost = Schema.Struct({
  principal_minor: Money.PositiveAmountMinor,
  platform_fee_minor: Money.AmountMinor,
  total_minor: Money.PositiveAmountMinor,
  currency: Money.Currency
}).pipe(
  Schema.filter((cost) =>
    cost.principal_minor + cost.platform_fee_minor === cost.total_minor ||
    "all_in_cost.total_minor must equal principal_minor + platform_fee_minor"
  )
)
export type AllInCost = typeof AllInCost.Type

export const Bounty = Schema.Struct({
  schema_version: Schema.Literal("2"),
  bounty_id: Ids.BountyId,
  requester_did: Did.DidKey,
  title: Title,
  description: Description,
  reward: Reward,
  closure_type: ClosureType,
  difficulty_scalar: DifficultyScalar,
  escrow_id: Ids.EscrowId,
  status: BountyMachine.Status,
  is_code_bounty: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  tags: Schema.optionalWith(Tags, { default: () => [] }),
  min_proof_tier: Schema.optional(MinProofTier),
  minimum_proof_tier: Schema.optional(MinimumProofTier),
  test_harness_id: Schema.optional(Schema.String),
  fee_policy_version: Schema.String,
  all_in_cost: AllInCost,
  created_at: Timestamp,
  accepted_at: Schema.optional(Timestamp),
  accepted_by: Schema.optional(Did.DidKey),
  idempotency_key: Schema.optional(Schema.String),
  metadata: Schema.optional(JsonObject),
  // Extensions (see referenceExtensions).
  fee_policy_id: Schema.String,
  fee_policy_hash_b64u: Schema.String,
  acceptance_timeout_policy: AcceptanceTimeoutPolicy,
  expires_at: Timestamp,
  submission_deadline_at: Schema.optional(Timestamp),
  review_deadline_at: Schema.optional(Timestamp),
  dispute_deadline_at: Schema.optional(Timestamp),
  escalated_at: Schema.optional(Timestamp),
  updated_at: Timestamp
}).pipe(
  Schema.filter((bounty) => [
    bounty.all_in_cost.principal_minor === bounty.reward.amount_minor ||
    { path: ["all_in_cost", "principal_minor"], message: "all_in_cost.principal_minor must equal reward.amount_minor" },
    bounty.closure_type !== "test" || bounty.test_harness_id !== undefined ||
    { path: ["test_harness_id"], message: "a bounty with closure_type=test needs a test_harness_id" }
  ])
).annotations({ identifier: "Bounty" })
export type Bounty = typeof Bounty.Type

/**
 * Where `Bounty`'s encoded form differs from `reference/schemas/bounties/bounty.v2.json`. Nothing
 * else may differ: the reference-schema test validates against the reference relaxed by exactly this.
 */
export const referenceExtensions: ReadonlyArray<ReferenceExtension> = [
  {
    kind: "enum",
    path: "status",
    values: ["resolved", "expired"],
    why: "a dispute can end in a split (`resolved`), and an open bounty nobody accepts expires and is refunded (`expired`); the reference had neither path"
  },
  {
    kind: "property",
    path: "fee_policy_id",
    why: "spec invariant 4 stores {policy_id, policy_version, policy_hash} at post; the reference kept only the version"
  },
  { kind: "property", path: "fee_policy_hash_b64u", why: "the policy hash of invariant 4, so the quote can be checked later" },
  {
    kind: "property",
    path: "acceptance_timeout_policy",
    why: "`reopen` or `cancel`: which exit an accepted bounty takes when its submission deadline passes"
  },
  { kind: "property", path: "expires_at", why: "the deadline of `open`: nobody accepted by then, the bounty expires and refunds" },
  { kind: "property", path: "submission_deadline_at", why: "the deadline of `accepted`, set at accept" },
  { kind: "property", path: "review_deadline_at", why: "the deadline of `pending_review`, set at submit: auto-approve after it" },
  { kind: "property", path: "dispute_deadline_at", why: "the deadline of `disputed`, set at reject: escalation after it" },
  { kind: "property", path: "escalated_at", why: "the escalation flag of a dispute whose deadline passed (a flag, not a state)" },
  { kind: "property", path: "updated_at", why: "when the record last changed (status moves, deadlines)" }
]
