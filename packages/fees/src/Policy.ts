/**
 * Fee policies as data: `bounties_v1` and `tips_v1`, exactly as agent-economy-mvp.md A3.3 and
 * Appendix B give them. A policy is immutable once published: its hash (`PolicyHash.ts`) is stored on
 * every bounty at post time and the release spends exactly the quoted amounts, never a recomputation.
 */
import { Bounty, ErrorCatalogue } from "@clawbounties/domain"
import { Either } from "effect"

export type Product = "clawbounties" | "clawtips"

/** One row of a policy's rule table; `"*"` matches any value. Field names are the wire/spec names. */
export interface Rule {
  readonly is_code_bounty: boolean | "*"
  readonly closure_type: Bounty.ClosureType | "*"
  /** Platform fee paid by the buyer, in basis points of the principal. */
  readonly buyer_fee_bps: number
  /** Floor of the buyer fee in minor units (ignored when the rate is 0: a 0 bps fee is always 0). */
  readonly min_fee_minor: bigint
  /** Platform fee paid by the worker (deducted from the principal); never floored. */
  readonly worker_fee_bps: number
}

export interface Policy {
  readonly id: string
  readonly version: string
  readonly product: Product
  /** `fee = ceil(principal * bps / 10000)`, then the floor: the spec's only rounding rule. */
  readonly rounding: "ceil"
  readonly rules: ReadonlyArray<Rule>
}

/**
 * `bounties_v1`, the A3.3 rule table. 5% for deterministic code bounties (no floor, so $1
 * microbounties stay viable); 7.5% with a 25¢ floor (`MIN_PLATFORM_FEE_MINOR`) for the higher-risk,
 * human- or quorum-reviewed lanes.
 *
 * The spec's table has no row for `is_code_bounty=false` with `closure_type=test` (the reference
 * answered it with RULE_NOT_FOUND). Appendix B classes every non-code bounty as higher risk
 * ("`closure_type=requester|quorum` and/or `is_code_bounty=false`"), so this policy adds that row at
 * 750 bps with the 25¢ floor rather than refusing the job.
 */
export const bountiesV1: Policy = {
  id: "bounties_v1",
  version: "1",
  product: "clawbounties",
  rounding: "ceil",
  rules: [
    { is_code_bounty: true, closure_type: "test", buyer_fee_bps: 500, min_fee_minor: 0n, worker_fee_bps: 0 },
    { is_code_bounty: true, closure_type: "requester", buyer_fee_bps: 750, min_fee_minor: 25n, worker_fee_bps: 0 },
    { is_code_bounty: false, closure_type: "requester", buyer_fee_bps: 750, min_fee_minor: 25n, worker_fee_bps: 0 },
    { is_code_bounty: "*", closure_type: "quorum", buyer_fee_bps: 750, min_fee_minor: 25n, worker_fee_bps: 0 },
    // Not in the spec's table: see the comment above (Appendix B: non-code work is higher risk).
    { is_code_bounty: false, closure_type: "test", buyer_fee_bps: 750, min_fee_minor: 25n, worker_fee_bps: 0 }
  ]
}

/** `tips_v1` (A3.3, B7.3): tips are their own product; 0 bps and no floor, tips are already micro. */
export const tipsV1: Policy = {
  id: "tips_v1",
  version: "1",
  product: "clawtips",
  rounding: "ceil",
  rules: [{ is_code_bounty: "*", closure_type: "*", buyer_fee_bps: 0, min_fee_minor: 0n, worker_fee_bps: 0 }]
}

/** Every published policy, by id. */
export const policies: ReadonlyMap<string, Policy> = new Map([bountiesV1, tipsV1].map((policy) => [policy.id, policy]))

export const find = (policyId: string): Either.Either<Policy, ErrorCatalogue.PolicyNotFound> => {
  const policy = policies.get(policyId)
  return policy === undefined ? Either.left(new ErrorCatalogue.PolicyNotFound({ policy_id: policyId })) : Either.right(policy)
}

/** The job parameters a rule is chosen by. */
export interface RuleParams {
  readonly is_code_bounty?: boolean | undefined
  readonly closure_type?: Bounty.ClosureType | undefined
}

/**
 * The most specific matching rule, in the reference's order: exact on both fields, then any
 * `is_code_bounty` with the exact closure type, then any closure type with the exact code flag, then
 * a rule with wildcards on both. A missing `is_code_bounty` means `false` (the bounty schema's
 * default); a missing `closure_type` matches only wildcard rules.
 */
export const ruleFor = (policy: Policy, params: RuleParams): Either.Either<Rule, ErrorCatalogue.RuleNotFound> => {
  const isCode = params.is_code_bounty ?? false
  let best: Rule | undefined
  let bestScore = -1
  for (const rule of policy.rules) {
    const codeMatch = rule.is_code_bounty === "*" || rule.is_code_bounty === isCode
    const closureMatch = rule.closure_type === "*" || rule.closure_type === params.closure_type
    if (!codeMatch || !closureMatch) continue
    const score = (rule.closure_type === "*" ? 0 : 2) + (rule.is_code_bounty === "*" ? 0 : 1)
    if (score > bestScore) {
      best = rule
      bestScore = score
    }
  }
  return best === undefined
    ? Either.left(
      new ErrorCatalogue.RuleNotFound({
        policy_id: policy.id,
        is_code_bounty: isCode,
        ...(params.closure_type === undefined ? {} : { closure_type: params.closure_type })
      })
    )
    : Either.right(best)
}
