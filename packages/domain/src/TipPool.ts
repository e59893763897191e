/**
 * Tip pools (spec B7.1): a payer's hard spending cap for tips, enforced server-side on every tip.
 * Wire form; the reference has no JSON Schema, fields follow the spec's request and response.
 */
import { Schema } from "effect"
import * as Did from "./Did.js"
import * as Ids from "./Ids.js"
import * as Money from "./Money.js"
import { Timestamp } from "./Wire.js"

export const Period = Schema.Literal("day", "week", "month")
export type Period = typeof Period.Type

/** The spec's recommended per-tip bounds: 5¢ to 25¢. */
export const DEFAULT_MIN_TIP_MINOR = 5n
export const DEFAULT_MAX_TIP_MINOR = 25n

const limitsConsistent = (pool: {
  readonly budget_minor: bigint
  readonly min_tip_minor: bigint
  readonly max_tip_minor: bigint
  readonly max_per_recipient_minor: bigint | null
}) => [
  pool.min_tip_minor <= pool.max_tip_minor || { path: ["min_tip_minor"], message: "min_tip_minor cannot exceed max_tip_minor" },
  pool.max_tip_minor <= pool.budget_minor || { path: ["max_tip_minor"], message: "max_tip_minor cannot exceed budget_minor" },
  pool.max_per_recipient_minor === null || pool.max_per_recipient_minor >= pool.min_tip_minor ||
  { path: ["max_per_recipient_minor"], message: "max_per_recipient_minor cannot be below min_tip_minor" }
]

const fields = {
  currency: Money.Currency,
  period: Period,
  budget_minor: Money.PositiveAmountMinor,
  min_tip_minor: Schema.optionalWith(Money.PositiveAmountMinor, { default: () => DEFAULT_MIN_TIP_MINOR }),
  max_tip_minor: Schema.optionalWith(Money.PositiveAmountMinor, { default: () => DEFAULT_MAX_TIP_MINOR }),
  max_per_recipient_minor: Schema.optionalWith(Schema.NullOr(Money.PositiveAmountMinor), { default: () => null }),
  allow_unverified: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  allowlist_recipient_dids: Schema.optionalWith(Schema.NullOr(Schema.Array(Did.DidKey).pipe(Schema.maxItems(1000))), {
    default: () => null
  })
}

/** `PUT /v1/tip-pools/{payer_did}`: create or update the payer's pool. */
export const PutRequest = Schema.Struct(fields).pipe(Schema.filter(limitsConsistent)).annotations({
  identifier: "PutTipPoolRequest"
})
export type PutRequest = typeof PutRequest.Type

/** The pool with its spend in the current period (the PUT response and `GET`). */
export const TipPool = Schema.Struct({
  pool_id: Ids.TipPoolId,
  payer_did: Did.DidKey,
  ...fields,
  spent_in_period_minor: Money.AmountMinor,
  remaining_in_period_minor: Money.AmountMinor,
  period_started_at: Timestamp,
  period_ends_at: Timestamp
}).pipe(
  Schema.filter((pool) => [
    ...limitsConsistent(pool),
    pool.remaining_in_period_minor ===
      (pool.spent_in_period_minor >= pool.budget_minor ? 0n : pool.budget_minor - pool.spent_in_period_minor) ||
    { path: ["remaining_in_period_minor"], message: "remaining_in_period_minor must be budget_minor - spent_in_period_minor (at least 0)" }
  ])
).annotations({ identifier: "TipPool" })
export type TipPool = typeof TipPool.Type
