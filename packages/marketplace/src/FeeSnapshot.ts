/**
 * The fee snapshot taken when a bounty is posted: the policy reference `{id, version, hash}` and
 * every amount, stored on the bounty and used at release time as is (never recomputed), so a policy
 * change can never alter what an open job costs or pays.
 */
import { ErrorCatalogue } from "@clawbounties/domain"
import { Limits, Quote } from "@clawbounties/fees"
import { Effect, Either } from "effect"
import type * as Requests from "./Requests.js"
import type { JobType } from "./WorkerEligibility.js"

export const BOUNTY_POLICY_ID = "bounties_v1"

export interface Snapshot {
  readonly policy: { readonly id: string; readonly version: string; readonly hash_b64u: string }
  readonly quote: Quote.SimulateResponse
  readonly principal: bigint
  readonly platformFee: bigint
  readonly buyerTotal: bigint
  readonly workerNet: bigint
}

/**
 * The lane whose minimum refused a reward (a bounty can be in several; the highest minimum binds):
 * a requester-reviewed code bounty is held to the research minimum, and saying "code" would name
 * the code lane's minimum wrongly.
 */
const bindingLane = (limits: Limits.Values, input: Requests.PostBounty, minimum: bigint): JobType =>
  input.tags.includes("agent_pack") && limits.MIN_BOUNTY_REWARD_MINOR_AGENT_PACK === minimum ? "agent_pack"
    : input.is_code_bounty && limits.MIN_BOUNTY_REWARD_MINOR_CODE === minimum ? "code"
    : "research"

/** Checks the lane minimum, then quotes `bounties_v1` for the bounty. */
export const forBounty = Effect.fnUntraced(function* (input: Requests.PostBounty) {
  const limits = yield* Limits.Limits
  const minimum = Limits.minimumReward(limits, input)
  if (input.reward.amount_minor < minimum) {
    return yield* new ErrorCatalogue.RewardBelowMinimum({
      lane: bindingLane(limits, input, minimum),
      minimum_minor: minimum,
      amount_minor: input.reward.amount_minor
    })
  }
  const quoted = Quote.quote({
    product: "clawbounties",
    policy_id: BOUNTY_POLICY_ID,
    amount_minor: input.reward.amount_minor,
    currency: "USD",
    params: { is_code_bounty: input.is_code_bounty, closure_type: input.closure_type, min_proof_tier: input.min_proof_tier }
  })
  if (Either.isLeft(quoted)) return yield* quoted.left
  const quote = quoted.right
  return {
    policy: quote.policy,
    quote,
    principal: quote.quote.principal_minor,
    platformFee: Quote.buyerFees(quote),
    buyerTotal: quote.quote.buyer_total_minor,
    workerNet: quote.quote.worker_net_minor
  } satisfies Snapshot
})
