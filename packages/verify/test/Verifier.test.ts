import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Layer, TestClock } from "effect"
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

describe("Verifier.layerConfig", () => {
  const build = (env: Record<string, string>) => {
    const provider = Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
    const layer = Verifier.layerConfig.pipe(Layer.provide(Ed25519.layerNode), Layer.provide(provider))
    return Effect.runSync(Effect.either(Effect.scoped(Layer.build(layer))))
  }

  it("reads comma-separated signer lists, and refuses one that is not a did:key, naming it", () => {
    assert.isTrue(Either.isRight(build({ VERIFY_GATEWAY_SIGNER_DIDS: `${gateway.did},${agent.did}` })))
    // Blank entries are none: an empty setting, or a trailing comma.
    assert.isTrue(Either.isRight(build({ VERIFY_GATEWAY_SIGNER_DIDS: "" })))
    assert.isTrue(Either.isRight(build({ VERIFY_ATTESTATION_SIGNER_DIDS: `${gateway.did},` })))
    for (const name of ["VERIFY_GATEWAY_SIGNER_DIDS", "VERIFY_ATTESTATION_SIGNER_DIDS", "VERIFY_EXECUTION_ATTESTATION_SIGNER_DIDS"]) {
      const result = build({ [name]: `${gateway.did},did:web:example.com` })
      assert.isTrue(Either.isLeft(result), name)
      if (Either.isLeft(result)) assert.include(String(result.left), name)
    }
  })

  it("reads VERIFY_TTL_SKEW_MS from 0 to 600000 (ten minutes), and refuses anything else, naming it", () => {
    for (const ok of ["0", "600000"]) assert.isTrue(Either.isRight(build({ VERIFY_TTL_SKEW_MS: ok })), ok)
    for (const bad of ["-1", "600001", "86400000000"]) {
      const result = build({ VERIFY_TTL_SKEW_MS: bad })
      assert.isTrue(Either.isLeft(result), bad)
      if (Either.isLeft(result)) assert.include(String(result.left), "VERIFY_TTL_SKEW_MS")
    }
  })
})
