/**
 * Tips (spec B7.2): ledger-native transfers from a payer to a skill or agent-pack author, capped by
 * the payer's tip pool, submitted in batches. Wire form; no reference JSON Schema exists.
 */
import { Schema } from "effect"
import * as Did from "./Did.js"
import * as Ids from "./Ids.js"
import * as Money from "./Money.js"
import { JsonObject, Timestamp } from "./Wire.js"

/**
 * What is being tipped. The recipient is preferably the verified signer of
 * `bundle_artifact_envelope`, never a DID the tipping agent merely claims.
 */
export const Attribution = Schema.Struct({
  kind: Schema.Literal("skill", "agent_pack"),
  skill_name: Schema.optional(Schema.String.pipe(Schema.maxLength(100))),
  pack_id: Schema.optional(Schema.String.pipe(Schema.maxLength(100))),
  bundle_artifact_envelope: Schema.optional(JsonObject)
})
export type Attribution = typeof Attribution.Type

export const ItemRequest = Schema.Struct({
  amount_minor: Money.PositiveAmountMinor,
  attribution: Schema.optional(Attribution),
  /** Only honoured when the pool has `allow_unverified=true`. */
  recipient_did: Schema.optional(Did.DidKey)
}).pipe(
  Schema.filter((item) =>
    item.attribution?.bundle_artifact_envelope !== undefined || item.recipient_did !== undefined ||
    "a tip needs a bundle_artifact_envelope (verified recipient) or an explicit recipient_did"
  )
)
export type ItemRequest = typeof ItemRequest.Type

/** `POST /v1/tips`: a batch of tips from one payer's pool. */
export const BatchRequest = Schema.Struct({
  payer_did: Did.DidKey,
  pool_id: Ids.TipPoolId,
  currency: Money.Currency,
  idempotency_key: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  aggregation: Schema.optional(Schema.Struct({ window_start: Timestamp, window_end: Timestamp })),
  items: Schema.Array(ItemRequest).pipe(Schema.minItems(1), Schema.maxItems(100))
}).annotations({ identifier: "TipBatchRequest" })
export type BatchRequest = typeof BatchRequest.Type

export const ItemResult = Schema.Struct({
  status: Schema.Literal("applied", "rejected"),
  amount_minor: Money.PositiveAmountMinor,
  recipient_did: Schema.optional(Did.DidKey),
  tip_id: Schema.optional(Ids.TipId),
  /** For a rejected item: the error code (e.g. a pool limit). */
  reason: Schema.optional(Schema.String)
})
export type ItemResult = typeof ItemResult.Type

export const BatchResponse = Schema.Struct({
  tip_batch_id: Ids.TipBatchId,
  status: Schema.Literal("applied", "partial", "rejected"),
  applied_minor: Money.AmountMinor,
  items: Schema.Array(ItemResult)
}).pipe(
  Schema.filter((batch) => {
    const applied = batch.items.filter((item) => item.status === "applied")
    const sum = applied.reduce((total, item) => total + item.amount_minor, 0n)
    const status = applied.length === batch.items.length ? "applied" : applied.length === 0 ? "rejected" : "partial"
    return [
      sum === batch.applied_minor || { path: ["applied_minor"], message: "applied_minor must be the sum of the applied items" },
      status === batch.status || { path: ["status"], message: `status must be '${status}' for these items` }
    ]
  })
).annotations({ identifier: "TipBatchResponse" })
export type BatchResponse = typeof BatchResponse.Type

/** One applied tip, as stored. */
export const Tip = Schema.Struct({
  tip_id: Ids.TipId,
  tip_batch_id: Ids.TipBatchId,
  pool_id: Ids.TipPoolId,
  payer_did: Did.DidKey,
  recipient_did: Did.DidKey,
  amount_minor: Money.PositiveAmountMinor,
  currency: Money.Currency,
  attribution: Schema.optional(Attribution),
  /** Whether the recipient came from a verified artifact signature (false: an allowed explicit DID). */
  recipient_verified: Schema.Boolean,
  journal_entry_id: Ids.JournalEntryId,
  created_at: Timestamp
}).annotations({ identifier: "Tip" })
export type Tip = typeof Tip.Type
