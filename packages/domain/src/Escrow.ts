/**
 * The escrow record (`escrow.v2.json`, spec A3.4) and the hold request (`escrow_hold_request.v2.json`),
 * wire form. One escrow per job holds the buyer total; it stores the fee quote made at post, so the
 * release pays exactly what was quoted (spec invariant 4: no recomputation at release).
 */
import { Schema } from "effect"
import * as Bounty from "./Bounty.js"
import * as Did from "./Did.js"
import * as EscrowMachine from "./EscrowMachine.js"
import * as Ids from "./Ids.js"
import * as Money from "./Money.js"
import { JsonObject, type ReferenceExtension, Timestamp } from "./Wire.js"

/** How a frozen escrow was settled, and where its money went; the three parts sum to the hold. */
export const Resolution = Schema.Struct({
  outcome: Schema.Literal("worker_award", "requester_refund", "split"),
  worker_minor: Money.AmountMinor,
  requester_minor: Money.AmountMinor,
  platform_fee_minor: Money.AmountMinor,
  resolved_by: Did.DidKey,
  resolved_at: Timestamp
})
export type Resolution = typeof Resolution.Type

export const Escrow = Schema.Struct({
  escrow_version: Schema.Literal("2"),
  escrow_id: Ids.EscrowId,
  requester_did: Did.DidKey,
  /** The worker, once one accepted; absent while the bounty is open. */
  agent_did: Schema.optional(Did.DidKey),
  /** The whole hold: principal plus buyer-paid fees. */
  amount_minor: Money.PositiveAmountMinor,
  currency: Money.Currency,
  status: EscrowMachine.Status,
  /** The job this escrow pays for (a BountyId for bounties). */
  job_id: Schema.String,
  created_at: Timestamp,
  updated_at: Timestamp,
  held_at: Schema.optional(Timestamp),
  released_at: Schema.optional(Timestamp),
  metadata: Schema.optional(JsonObject),
  // Extensions (see referenceExtensions).
  principal_minor: Money.PositiveAmountMinor,
  buyer_fee_minor: Money.AmountMinor,
  worker_net_minor: Money.AmountMinor,
  fee_policy_id: Schema.String,
  fee_policy_version: Schema.String,
  fee_policy_hash_b64u: Schema.String,
  frozen_at: Schema.optional(Timestamp),
  resolution: Schema.optional(Resolution)
}).pipe(
  Schema.filter((escrow) => [
    escrow.principal_minor + escrow.buyer_fee_minor === escrow.amount_minor ||
    { path: ["amount_minor"], message: "amount_minor must equal principal_minor + buyer_fee_minor" },
    escrow.worker_net_minor <= escrow.principal_minor ||
    { path: ["worker_net_minor"], message: "worker_net_minor cannot exceed principal_minor" },
    escrow.resolution === undefined ||
    escrow.resolution.worker_minor + escrow.resolution.requester_minor + escrow.resolution.platform_fee_minor ===
      escrow.amount_minor ||
    { path: ["resolution"], message: "a resolution must distribute exactly amount_minor" }
  ])
).annotations({ identifier: "Escrow" })
export type Escrow = typeof Escrow.Type

/** Where `Escrow`'s encoded form differs from `reference/schemas/escrow/escrow.v2.json`. */
export const referenceExtensions: ReadonlyArray<ReferenceExtension> = [
  {
    kind: "enum",
    path: "status",
    values: ["refunded", "split"],
    why: "dispute outcomes are distinct terminal states; the reference wrote `cancelled` for a refund and had no split"
  },
  {
    kind: "optional",
    path: "agent_did",
    why: "the escrow is created at post, before any worker accepts (`assign` sets it)"
  },
  { kind: "property", path: "principal_minor", why: "the reward part of the hold, from the quote made at post" },
  { kind: "property", path: "buyer_fee_minor", why: "the buyer-paid fees part of the hold, paid to the platform at release" },
  { kind: "property", path: "worker_net_minor", why: "what the worker receives at release (principal minus worker-paid fees)" },
  { kind: "property", path: "fee_policy_id", why: "the policy that priced the job (spec invariant 4)" },
  { kind: "property", path: "fee_policy_version", why: "its version (the reference kept it in metadata)" },
  { kind: "property", path: "fee_policy_hash_b64u", why: "its hash (the reference kept it in metadata)" },
  { kind: "property", path: "frozen_at", why: "when the dispute froze the escrow" },
  { kind: "property", path: "resolution", why: "who got what when a dispute was settled (award, refund or split)" }
]

/** `POST /v1/escrows` (A3.4, `escrow_hold_request.v2.json`): hold the buyer total for a bounty. */
export const HoldRequest = Schema.Struct({
  schema_version: Schema.Literal("2"),
  requester_did: Did.DidKey,
  amount_minor: Money.PositiveAmountMinor,
  currency: Money.Currency,
  bounty_id: Ids.BountyId,
  idempotency_key: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  metadata: Schema.optional(Schema.Struct({
    closure_type: Schema.optional(Bounty.ClosureType),
    difficulty_scalar: Schema.optional(Schema.Number),
    fee_policy_version: Schema.optional(Schema.String),
    fee_policy_hash_b64u: Schema.optional(Schema.String)
  }))
}).annotations({ identifier: "EscrowHoldRequest" })
export type HoldRequest = typeof HoldRequest.Type
