import { assert, describe, it } from "@effect/vitest"
import { Did, ErrorCatalogue, Money } from "@clawbounties/domain"
import { Policy, PolicyHash, Quote } from "@clawbounties/fees"
import { Either, Schema } from "effect"
import * as fc from "fast-check"

const buyer = Did.fromPublicKey(new Uint8Array(32).fill(1))
const worker = Did.fromPublicKey(new Uint8Array(32).fill(2))

const run = (
  amount: bigint,
  params: Quote.Params,
  policy_id = "bounties_v1"
): Quote.SimulateResponse =>
  Either.getOrThrowWith(
    Quote.quote({ policy_id, amount_minor: amount, currency: "USD", params }),
    (error) => new Error(JSON.stringify(ErrorCatalogue.toWire(error)))
  )

const failure = (result: Either.Either<Quote.SimulateResponse, Quote.QuoteError>) => {
  if (Either.isRight(result)) throw new Error("expected the quote to fail")
  return ErrorCatalogue.toWire(result.left)
}

describe("Quote", () => {
  it("reproduces the spec's /v1/fees/simulate example byte for byte (A3.3)", () => {
    const request = Schema.decodeUnknownSync(Quote.SimulateRequest)({
      product: "clawbounties",
      policy_id: "bounties_v1",
      amount_minor: "5000",
      currency: "USD",
      params: {
        requester_did: buyer,
        worker_did: worker,
        is_code_bounty: true,
        closure_type: "test",
        min_proof_tier: "gateway"
      }
    })
    const response = Either.getOrThrow(Quote.quote(request))
    assert.deepStrictEqual(Schema.encodeSync(Quote.SimulateResponse)(response), {
      policy: { id: "bounties_v1", version: "1", hash_b64u: PolicyHash.hash(Policy.bountiesV1) },
      quote: {
        principal_minor: "5000",
        buyer_total_minor: "5250",
        worker_net_minor: "5000",
        fees: [
          { kind: "platform", payer: "buyer", amount_minor: "250", rate_bps: 500, min_fee_minor: "0", floor_applied: false }
        ]
      }
    })
  })

  it("reproduces every worked example: 200 requester -> 25/225, 200 test -> 10/210, 1 requester -> 26", () => {
    const requester200 = run(200n, { is_code_bounty: false, closure_type: "requester" })
    assert.deepStrictEqual(requester200.quote.fees[0], {
      kind: "platform",
      payer: "buyer",
      amount_minor: 25n,
      rate_bps: 750,
      min_fee_minor: 25n,
      floor_applied: true
    })
    assert.strictEqual(requester200.quote.buyer_total_minor, 225n)
    assert.strictEqual(requester200.quote.worker_net_minor, 200n)

    const test200 = run(200n, { is_code_bounty: true, closure_type: "test" })
    assert.strictEqual(test200.quote.fees[0]!.amount_minor, 10n)
    assert.strictEqual(test200.quote.buyer_total_minor, 210n)
    assert.isFalse(test200.quote.fees[0]!.floor_applied)

    const requester1 = run(1n, { closure_type: "requester" })
    assert.strictEqual(requester1.quote.buyer_total_minor, 26n)
    assert.strictEqual(requester1.quote.fees[0]!.amount_minor, 25n)
    assert.isTrue(requester1.quote.fees[0]!.floor_applied)

    // The reference's clawcuts smoke: 10000 at 750 bps is 750 (the floor does not apply).
    assert.strictEqual(run(10_000n, { closure_type: "quorum" }).quote.fees[0]!.amount_minor, 750n)
    // A $1 code microbounty pays 5 cents: no floor on the test lane.
    assert.strictEqual(run(100n, { is_code_bounty: true, closure_type: "test" }).quote.buyer_total_minor, 105n)
    // Ceil: 7.5% of 201 is 15.075 -> 16, but the floor 25 wins; 7.5% of 1001 is 75.075 -> 76.
    assert.strictEqual(run(1001n, { closure_type: "requester" }).quote.fees[0]!.amount_minor, 76n)
    assert.strictEqual(run(1n, { is_code_bounty: true, closure_type: "test" }).quote.fees[0]!.amount_minor, 1n)
  })

  it("applies the documented rule for non-code test bounties (750 bps, floor 25)", () => {
    const response = run(1000n, { is_code_bounty: false, closure_type: "test" })
    assert.deepStrictEqual(response.quote.fees[0], {
      kind: "platform",
      payer: "buyer",
      amount_minor: 75n,
      rate_bps: 750,
      min_fee_minor: 25n,
      floor_applied: false
    })
  })

  it("tips_v1 charges nothing and applies no floor", () => {
    const response = run(5n, {}, "tips_v1")
    assert.deepStrictEqual(response.quote, {
      principal_minor: 5n,
      buyer_total_minor: 5n,
      worker_net_minor: 5n,
      fees: [{ kind: "platform", payer: "buyer", amount_minor: 0n, rate_bps: 0, min_fee_minor: 0n, floor_applied: false }]
    })
    assert.strictEqual(response.policy.id, "tips_v1")
  })

  it("refuses unknown policies, missing rules, a foreign product and totals above the maximum", () => {
    assert.deepStrictEqual(
      failure(Quote.quote({ policy_id: "bounties_v9", amount_minor: 100n, currency: "USD", params: {} })),
      { status: 404, body: { error: "POLICY_NOT_FOUND", message: "no fee policy 'bounties_v9'", details: { policy_id: "bounties_v9" } } }
    )
    const noRule = failure(Quote.quote({ policy_id: "bounties_v1", amount_minor: 100n, currency: "USD", params: { is_code_bounty: true } }))
    assert.strictEqual(noRule.status, 400)
    assert.strictEqual(noRule.body.error, "RULE_NOT_FOUND")
    assert.deepStrictEqual(noRule.body.details, { policy_id: "bounties_v1", is_code_bounty: true })
    const product = failure(Quote.quote({ product: "clawtips", policy_id: "bounties_v1", amount_minor: 100n, currency: "USD", params: { closure_type: "test" } }))
    assert.strictEqual(product.body.error, "INVALID_REQUEST")
    const tooBig = failure(Quote.quote({ policy_id: "bounties_v1", amount_minor: Money.MAX_AMOUNT_MINOR, currency: "USD", params: { closure_type: "requester" } }))
    assert.strictEqual(tooBig.body.error, "INVALID_REQUEST")
    assert.include(tooBig.body.message, "exceed the maximum")
    // Just under: the largest principal whose total still fits is quotable.
    assert.strictEqual(run(Money.MAX_AMOUNT_MINOR - 10n, {}, "tips_v1").quote.buyer_total_minor, Money.MAX_AMOUNT_MINOR - 10n)
  })

  it("decodes the simulate request strictly", () => {
    const decode = Schema.decodeUnknownEither(Quote.SimulateRequest)
    const base = { policy_id: "bounties_v1", amount_minor: "5000", currency: "USD" }
    assert.isTrue(Either.isRight(decode(base)))
    assert.deepStrictEqual(Either.getOrThrow(decode(base)).params, {})
    assert.isTrue(Either.isLeft(decode({ ...base, amount_minor: "0" })))
    assert.isTrue(Either.isLeft(decode({ ...base, amount_minor: 5000 })))
    assert.isTrue(Either.isLeft(decode({ ...base, currency: "EUR" })))
    assert.isTrue(Either.isLeft(decode({ ...base, params: { closure_type: "vote" } })))
    assert.isTrue(Either.isLeft(decode({ ...base, params: { requester_did: "did:web:example.com" } })))
  })

  const closureTypes = fc.constantFrom("test" as const, "requester" as const, "quorum" as const)
  const principals = fc.bigInt({ min: 1n, max: 10n ** 14n })

  it("property: totals add up, fees are integers, never below the floor, and exactly the ceiling otherwise", () => {
    fc.assert(
      fc.property(principals, fc.boolean(), closureTypes, (principal, isCode, closure) => {
        const response = run(principal, { is_code_bounty: isCode, closure_type: closure })
        const rule = Either.getOrThrow(Policy.ruleFor(Policy.bountiesV1, { is_code_bounty: isCode, closure_type: closure }))
        const { quote } = response
        const buyerFees = quote.fees.filter((f) => f.payer === "buyer").reduce((s, f) => s + f.amount_minor, 0n)
        const workerFees = quote.fees.filter((f) => f.payer === "worker").reduce((s, f) => s + f.amount_minor, 0n)
        assert.strictEqual(quote.principal_minor, principal)
        assert.strictEqual(quote.buyer_total_minor, principal + buyerFees)
        assert.strictEqual(quote.worker_net_minor, principal - workerFees)
        for (const item of quote.fees) {
          assert.strictEqual(typeof item.amount_minor, "bigint")
          assert.isTrue(item.amount_minor >= item.min_fee_minor)
          const exact = principal * BigInt(item.rate_bps)
          if (item.floor_applied) {
            assert.strictEqual(item.amount_minor, item.min_fee_minor)
            assert.isTrue(exact < item.min_fee_minor * 10_000n)
          } else {
            // amount is the smallest integer with amount * 10000 >= principal * bps.
            assert.isTrue(item.amount_minor * 10_000n >= exact)
            assert.isTrue((item.amount_minor - 1n) * 10_000n < exact || item.amount_minor === 0n)
          }
        }
        assert.strictEqual(quote.fees[0]!.rate_bps, rule.buyer_fee_bps)
        const wire = Schema.encodeSync(Quote.SimulateResponse)(response)
        for (const text of [wire.quote.principal_minor, wire.quote.buyer_total_minor, wire.quote.worker_net_minor]) {
          assert.match(text, /^(0|[1-9][0-9]*)$/)
        }
        // The wire form decodes back to the same quote.
        assert.deepStrictEqual(Schema.decodeUnknownSync(Quote.SimulateResponse)(wire), response)
      })
    )
  })

  it("property: worker-paid fees reduce the worker net and are never floored (custom policy)", () => {
    const policy: Policy.Policy = {
      id: "test_worker_fee",
      version: "1",
      product: "clawbounties",
      rounding: "ceil",
      rules: [{ is_code_bounty: "*", closure_type: "*", buyer_fee_bps: 1000, min_fee_minor: 50n, worker_fee_bps: 500 }]
    }
    fc.assert(
      fc.property(principals, (principal) => {
        const { quote } = Either.getOrThrow(
          Quote.quoteWith(policy, { amount_minor: principal, currency: "USD", params: {} })
        )
        const workerFee = quote.fees.find((f) => f.payer === "worker")!
        assert.strictEqual(workerFee.amount_minor, (principal * 500n + 9_999n) / 10_000n)
        assert.isFalse(workerFee.floor_applied)
        assert.strictEqual(quote.worker_net_minor, principal - workerFee.amount_minor)
        assert.isTrue(quote.worker_net_minor >= 0n)
        assert.strictEqual(quote.buyer_total_minor, principal + quote.fees[0]!.amount_minor)
      })
    )
  })

  it("fee: a zero rate is zero whatever the floor", () => {
    assert.deepStrictEqual(Quote.fee(1_000_000n, 0, 25n), { amount: 0n, floorApplied: false })
    assert.deepStrictEqual(Quote.fee(1n, 750, 25n), { amount: 25n, floorApplied: true })
    assert.deepStrictEqual(Quote.fee(334n, 750, 25n), { amount: 26n, floorApplied: false })
    assert.deepStrictEqual(Quote.fee(333n, 750, 25n), { amount: 25n, floorApplied: false })
  })
})
