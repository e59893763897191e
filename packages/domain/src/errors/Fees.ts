/** Errors of fee policies and quotes (`@clawbounties/fees`). */
import { Schema } from "effect"
import type { Section } from "./Entry.js"

/** No fee policy has this id (the reference's clawcuts answers the same code with 404). */
export class PolicyNotFound extends Schema.TaggedError<PolicyNotFound>()("PolicyNotFound", {
  policy_id: Schema.String
}) {
  override get message(): string {
    return `no fee policy '${this.policy_id}'`
  }
}

/**
 * The policy exists but none of its rules matches the job's parameters, e.g. `bounties_v1` without a
 * `closure_type`. A quote is refused rather than guessed.
 */
export class RuleNotFound extends Schema.TaggedError<RuleNotFound>()("RuleNotFound", {
  policy_id: Schema.String,
  is_code_bounty: Schema.optional(Schema.Boolean),
  closure_type: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return `fee policy '${this.policy_id}' has no rule for is_code_bounty=${String(this.is_code_bounty)}, closure_type=${String(this.closure_type)}`
  }
}

export type FeesError = PolicyNotFound | RuleNotFound

export const feesEntries = {
  PolicyNotFound: { code: "POLICY_NOT_FOUND", status: 404, summary: "No fee policy has this id." },
  RuleNotFound: { code: "RULE_NOT_FOUND", status: 400, summary: "The fee policy has no rule for these job parameters." }
} as const satisfies Section<FeesError>
