import { assert, describe, it } from "@effect/vitest"
import { Limits, Policy } from "@clawbounties/fees"
import { Either } from "effect"

const rule = (params: Policy.RuleParams) => Either.getOrThrow(Policy.ruleFor(Policy.bountiesV1, params))

describe("Policy", () => {
  it("bounties_v1 is the spec's rule table (A3.3), plus the documented non-code test row", () => {
    const table = (isCode: boolean, closure: "test" | "requester" | "quorum") => {
      const r = rule({ is_code_bounty: isCode, closure_type: closure })
      return [r.buyer_fee_bps, r.min_fee_minor, r.worker_fee_bps]
    }
    assert.deepStrictEqual(table(true, "test"), [500, 0n, 0])
    assert.deepStrictEqual(table(true, "requester"), [750, 25n, 0])
    assert.deepStrictEqual(table(false, "requester"), [750, 25n, 0])
    assert.deepStrictEqual(table(true, "quorum"), [750, 25n, 0])
    assert.deepStrictEqual(table(false, "quorum"), [750, 25n, 0])
    assert.deepStrictEqual(table(false, "test"), [750, 25n, 0])
    // The floor of the requester/quorum lanes is the spec's MIN_PLATFORM_FEE_MINOR.
    for (const r of Policy.bountiesV1.rules) {
      assert.include([0n, Limits.defaults.MIN_PLATFORM_FEE_MINOR], r.min_fee_minor)
    }
  })

  it("a missing is_code_bounty means false; a missing closure type matches no bounties_v1 rule", () => {
    assert.strictEqual(rule({ closure_type: "test" }), rule({ is_code_bounty: false, closure_type: "test" }))
    const missing = Policy.ruleFor(Policy.bountiesV1, { is_code_bounty: true })
    assert.isTrue(Either.isLeft(missing))
  })

  it("prefers the most specific rule: exact, then wildcard code flag, then wildcard closure", () => {
    const policy: Policy.Policy = {
      id: "specificity",
      version: "1",
      product: "clawbounties",
      rounding: "ceil",
      rules: [
        { is_code_bounty: "*", closure_type: "*", buyer_fee_bps: 1, min_fee_minor: 0n, worker_fee_bps: 0 },
        { is_code_bounty: true, closure_type: "*", buyer_fee_bps: 2, min_fee_minor: 0n, worker_fee_bps: 0 },
        { is_code_bounty: "*", closure_type: "test", buyer_fee_bps: 3, min_fee_minor: 0n, worker_fee_bps: 0 },
        { is_code_bounty: true, closure_type: "test", buyer_fee_bps: 4, min_fee_minor: 0n, worker_fee_bps: 0 }
      ]
    }
    const bps = (params: Policy.RuleParams) => Either.getOrThrow(Policy.ruleFor(policy, params)).buyer_fee_bps
    assert.strictEqual(bps({ is_code_bounty: true, closure_type: "test" }), 4)
    assert.strictEqual(bps({ is_code_bounty: false, closure_type: "test" }), 3)
    assert.strictEqual(bps({ is_code_bounty: true, closure_type: "quorum" }), 2)
    assert.strictEqual(bps({ is_code_bounty: false, closure_type: "quorum" }), 1)
  })

  it("no published policy has two rules for the same (is_code_bounty, closure_type)", () => {
    for (const policy of Policy.policies.values()) {
      const keys = policy.rules.map((r) => `${String(r.is_code_bounty)}/${r.closure_type}`)
      assert.strictEqual(new Set(keys).size, keys.length, policy.id)
      for (const r of policy.rules) {
        assert.isTrue(Number.isInteger(r.buyer_fee_bps) && r.buyer_fee_bps >= 0 && r.buyer_fee_bps <= 10_000)
        assert.isTrue(Number.isInteger(r.worker_fee_bps) && r.worker_fee_bps >= 0 && r.worker_fee_bps <= 10_000)
        assert.isTrue(r.min_fee_minor >= 0n)
      }
    }
  })

  it("tips_v1 is 0 bps with no floor for every tip", () => {
    const r = Either.getOrThrow(Policy.ruleFor(Policy.tipsV1, {}))
    assert.deepStrictEqual([r.buyer_fee_bps, r.min_fee_minor, r.worker_fee_bps], [0, 0n, 0])
    assert.strictEqual(Policy.tipsV1.product, "clawtips")
  })

  it("find: known ids, and POLICY_NOT_FOUND otherwise", () => {
    assert.deepStrictEqual(Policy.find("bounties_v1"), Either.right(Policy.bountiesV1))
    assert.deepStrictEqual(Policy.find("tips_v1"), Either.right(Policy.tipsV1))
    const missing = Policy.find("nope")
    assert.isTrue(Either.isLeft(missing) && missing.left._tag === "PolicyNotFound")
  })
})
