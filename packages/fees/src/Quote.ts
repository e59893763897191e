/**
 * Fee quotes: what `POST /v1/fees/simulate` returns (agent-economy-mvp.md A3.3), computed with integer
 * math only:
 *
 *   fee        = rate_bps == 0 ? 0 : max(ceil(principal * rate_bps / 10000), min_fee_minor)
 *   buyer_total = principal + Σ buyer-paid fees
 *   worker_net  = principal - Σ worker-paid fees
 *
 * The buyer's platform fee is always listed (even at 0 bps, so a tip quote shows its zero fee); a
 * worker fee is listed only when the rule charges one (MVP: never), as in the spec's example.
 */
import { Bounty, Did, ErrorCatalogue, Money } from "@clawbounties/domain"
import { Either, Schema } from "effect"
import * as Policy from "./Policy.js"
import * as PolicyHash from "./PolicyHash.js"

export const Product = Schema.Literal("clawbounties", "clawtips")

/** Parameters of the job being priced; unknown keys are ignored. */
export const Params = Schema.Struct({
  requester_did: Schema.optional(Did.DidKey),
  worker_did: Schema.optional(Did.DidKey),
  is_code_bounty: Schema.optional(Schema.Boolean),
  closure_type: Schema.optional(Bounty.ClosureType),
  min_proof_tier: Schema.optional(Bounty.MinProofTier)
})
export type Params = typeof Params.Type

/** The simulate request, wire form (A3.3). */
export const SimulateRequest = Schema.Struct({
  product: Schema.optional(Product),
  policy_id: Schema.String,
  amount_minor: Money.PositiveAmountMinor,
  currency: Money.Currency,
  params: Schema.optionalWith(Params, { default: () => ({}) })
})
export type SimulateRequest = typeof SimulateRequest.Type

const Bps = Schema.Int.pipe(Schema.between(0, 10_000))

export const FeeItem = Schema.Struct({
  kind: Schema.Literal("platform"),
  payer: Schema.Literal("buyer", "worker"),
  amount_minor: Money.AmountMinor,
  rate_bps: Bps,
  min_fee_minor: Money.AmountMinor,
  floor_applied: Schema.Boolean
})
export type FeeItem = typeof FeeItem.Type

export const PolicyRef = Schema.Struct({
  id: Schema.String,
  version: Schema.String,
  hash_b64u: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{43}$/))
})

/** The simulate response, wire form (A3.3). */
export const SimulateResponse = Schema.Struct({
  policy: PolicyRef,
  quote: Schema.Struct({
    principal_minor: Money.PositiveAmountMinor,
    buyer_total_minor: Money.PositiveAmountMinor,
    worker_net_minor: Money.AmountMinor,
    fees: Schema.Array(FeeItem)
  })
})
export type SimulateResponse = typeof SimulateResponse.Type

/** One fee: `ceil(principal * bps / 10000)`, raised to the floor; a 0 bps rate is 0 with no floor. */
export const fee = (
  principal: bigint,
  rateBps: number,
  minFeeMinor: bigint
): { readonly amount: bigint; readonly floorApplied: boolean } => {
  if (rateBps === 0) return { amount: 0n, floorApplied: false }
  // Ceiling division of non-negative integers.
  const raw = (principal * BigInt(rateBps) + 9_999n) / 10_000n
  return raw < minFeeMinor ? { amount: minFeeMinor, floorApplied: true } : { amount: raw, floorApplied: false }
}

export type QuoteError = ErrorCatalogue.PolicyNotFound | ErrorCatalogue.RuleNotFound | ErrorCatalogue.InvalidRequest

/** Quotes with a given policy (tests and embedders with their own policies use this directly). */
export const quoteWith = (
  policy: Policy.Policy,
  request: Omit<SimulateRequest, "policy_id">
): Either.Either<SimulateResponse, QuoteError> =>
  Either.gen(function* () {
    if (request.product !== undefined && request.product !== policy.product) {
      return yield* Either.left(
        new ErrorCatalogue.InvalidRequest({
          message: `fee policy '${policy.id}' belongs to product '${policy.product}', not '${request.product}'`
        })
      )
    }
    const rule = yield* Policy.ruleFor(policy, request.params)
    const principal = request.amount_minor
    const buyer = fee(principal, rule.buyer_fee_bps, rule.min_fee_minor)
    const fees: Array<FeeItem> = [{
      kind: "platform",
      payer: "buyer",
      amount_minor: buyer.amount,
      rate_bps: rule.buyer_fee_bps,
      min_fee_minor: rule.buyer_fee_bps === 0 ? 0n : rule.min_fee_minor,
      floor_applied: buyer.floorApplied
    }]
    if (rule.worker_fee_bps > 0) {
      const worker = fee(principal, rule.worker_fee_bps, 0n)
      fees.push({
        kind: "platform",
        payer: "worker",
        amount_minor: worker.amount,
        rate_bps: rule.worker_fee_bps,
        min_fee_minor: 0n,
        floor_applied: false
      })
    }
    const sum = (payer: FeeItem["payer"]) =>
      fees.filter((item) => item.payer === payer).reduce((total, item) => total + item.amount_minor, 0n)
    const buyerTotal = principal + sum("buyer")
    if (buyerTotal > Money.MAX_AMOUNT_MINOR) {
      return yield* Either.left(
        new ErrorCatalogue.InvalidRequest({
          message: `the buyer total ${buyerTotal} would exceed the maximum amount ${Money.MAX_AMOUNT_MINOR}`
        })
      )
    }
    return {
      policy: PolicyHash.reference(policy),
      quote: {
        principal_minor: principal,
        buyer_total_minor: buyerTotal,
        worker_net_minor: principal - sum("worker"),
        fees
      }
    }
  })

/** `POST /v1/fees/simulate`: finds the policy by id and quotes. */
export const quote = (request: SimulateRequest): Either.Either<SimulateResponse, QuoteError> =>
  Either.flatMap(Policy.find(request.policy_id), (policy) => quoteWith(policy, request))

/** The buyer's platform fee of a quote (what a bounty stores as `all_in_cost.platform_fee_minor`). */
export const buyerFees = (response: SimulateResponse): bigint =>
  response.quote.fees.filter((item) => item.payer === "buyer").reduce((total, item) => total + item.amount_minor, 0n)
