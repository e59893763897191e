import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { Ed25519, Sign, Verifier } from "@clawbounties/verify"
import { agent, gateway, iso, T0, typicalBundle, VERIFY_AT } from "./fixtures.js"

const settings = { gatewaySignerDids: [gateway.did], repoClaimIds: ["claim_1"] }

describe("Verifier service (strict, time from Clock)", () => {
  for (const [name, backendLayer] of [["node", Ed25519.layerNode], ["noble", Ed25519.layerNoble]] as const) {
    it.effect(`${name}: the three marketplace entry points`, () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(VERIFY_AT)
        const v = yield* Verifier.Verifier
        const bundle = yield* v.proofBundle(typicalBundle().envelope)
        assert.strictEqual(bundle.status, "VALID")
        assert.strictEqual(bundle.proof_tier, "gateway")
        assert.strictEqual(bundle.verified_at, iso(VERIFY_AT))
        // Strict by default: a bare payload is refused.
        assert.strictEqual((yield* v.proofBundle(typicalBundle().envelope.payload)).error?.code, "MALFORMED_ENVELOPE")
        const commit = Sign.commitProof(agent, { repo_claim_id: "claim_1", commit_sha: "abcdef1", repository: "o/r" }, { issuedAt: iso(T0) })
        assert.strictEqual((yield* v.commitProof(commit)).status, "VALID")
        assert.strictEqual((yield* v.commitProof(Sign.m1CommitSignature(agent, "abcdef1", iso(T0)))).status, "VALID")
        const challenge = { nonce: "n1", message: "register" }
        const answer = Sign.challengeResponse(agent, challenge, { issuedAt: iso(T0) })
        assert.strictEqual((yield* v.challengeResponse(answer, challenge)).status, "VALID")
        assert.strictEqual((yield* v.challengeResponse(answer, { ...challenge, nonce: "n2" })).error?.code, "CHALLENGE_MISMATCH")
      }).pipe(Effect.provide(Verifier.layer(settings).pipe(Layer.provide(backendLayer))))
    )
  }

  it.effect("expiry follows the Clock", () =>
    Effect.gen(function* () {
      const v = yield* Verifier.Verifier
      const { chain } = typicalBundle()
      const env = Sign.proofBundle(agent, { bundle_id: "b", event_chain: chain }, { issuedAt: iso(T0), expiresAt: iso(T0 + 1000) })
      yield* TestClock.setTime(T0 + 1000)
      assert.strictEqual((yield* v.proofBundle(env)).status, "VALID")
      yield* TestClock.setTime(T0 + 1001)
      assert.strictEqual((yield* v.proofBundle(env)).error?.code, "EXPIRED_TTL")
    }).pipe(Effect.provide(Verifier.layer(settings).pipe(Layer.provide(Ed25519.layerNode))))
  )
})
