import { assert, describe, it } from "@effect/vitest"
import { Ed25519, EventChain, Hash, ProofBundle, Sign, Tier, ToolReceipt } from "@clawbounties/verify"
import { agent, attester, clone, gateway, iso, stranger, T0, typicalBundle, VERIFY_AT } from "./fixtures.js"

const strict = (input: unknown, extra: Partial<ProofBundle.Options> = {}) =>
  ProofBundle.verify(input, { verifyAt: VERIFY_AT, gatewaySignerDids: [gateway.did], ...extra })
const compat = (input: unknown, extra: Partial<ProofBundle.Options> = {}) => strict(input, { mode: "compat", ...extra })

describe("proof bundles: the typical bundle", () => {
  const { envelope, receipt, chain } = typicalBundle()

  it("verifies at the gateway tier with a VALID, bound receipt, on both backends", () => {
    for (const backend of Ed25519.backends) {
      const r = strict(envelope, { backend })
      assert.strictEqual(r.status, "VALID", r.error?.message)
      assert.strictEqual(r.proof_tier, "gateway")
      assert.strictEqual(r.poh_tier, 2)
      assert.strictEqual(r.run_id, "run_typical_001")
      assert.deepStrictEqual(r.receipts, [{ index: 0, receipt_id: "rcpt_001", signer_did: gateway.did, signature_verified: true, bound: true, status: "VALID" }])
      assert.strictEqual(r.component_results?.chain_root_hash, chain[0]!.event_hash_b64u)
    }
  })

  it("refuses a bare unsigned payload in strict mode; compat accepts it as the reference core does", () => {
    assert.strictEqual(strict(envelope.payload).error?.code, "MALFORMED_ENVELOPE")
    const r = compat(envelope.payload)
    assert.strictEqual(r.status, "VALID")
    assert.isTrue(r.unsigned)
    // Removing the signature switches the reference into raw mode: strict refuses that too.
    const { signature_b64u: _s, ...unsigned } = envelope
    assert.strictEqual(strict(unsigned).error?.code, "MALFORMED_ENVELOPE")
  })

  it("signer must be the agent", () => {
    const other = Sign.proofBundle(stranger, { bundle_id: "b", event_chain: chain }, { issuedAt: iso(T0) }) as any
    const t = { ...other, payload: { ...other.payload, agent_did: agent.did } }
    assert.strictEqual(strict(t).error?.code, "INVALID_DID_FORMAT")
  })

  it("tampering an event, the chain order or a receipt is caught", () => {
    const resign = (payload: any) => Sign.proofBundle(agent, payload, { issuedAt: iso(T0 + 20_000) })
    const events = clone(chain) as any[]
    events[5].event_type = "forged"
    assert.strictEqual(strict(resign({ bundle_id: "b", event_chain: events, receipts: [receipt] })).error?.code, "HASH_MISMATCH")
    const swapped = clone(chain) as any[]
    ;[swapped[4], swapped[5]] = [swapped[5], swapped[4]]
    assert.strictEqual(strict(resign({ bundle_id: "b", event_chain: swapped, receipts: [receipt] })).error?.code, "MALFORMED_ENVELOPE")
    // Without re-signing, any change to the payload is a hash mismatch.
    const t = clone(envelope) as any
    t.payload.receipts[0].payload.tokens_output = 21
    assert.strictEqual(strict(t).error?.code, "HASH_MISMATCH")
  })

  it("a forged receipt (re-signed bundle): strict fails with the receipt reported; compat also fails (bound receipt)", () => {
    const forged = clone(receipt) as any
    forged.payload.tokens_output = 999_999
    const env = Sign.proofBundle(agent, { bundle_id: "b", event_chain: chain, receipts: [forged] }, { issuedAt: iso(T0) })
    const r = strict(env)
    assert.strictEqual(r.error?.code, "RECEIPT_VERIFICATION_FAILED")
    assert.strictEqual(r.receipts[0]?.error?.code, "HASH_MISMATCH")
    assert.strictEqual(compat(env).error?.code, "RECEIPT_VERIFICATION_FAILED")
  })

  it("an unbound receipt: strict RECEIPT_BINDING_MISMATCH; compat VALID at tier self, as the reference", () => {
    const unbound = typicalBundle(10, { bind: false }).envelope
    const s = strict(unbound)
    assert.strictEqual(s.error?.code, "RECEIPT_BINDING_MISMATCH")
    assert.isFalse(s.receipts[0]!.bound)
    assert.isTrue(s.receipts[0]!.signature_verified)
    const c = compat(unbound)
    assert.strictEqual(c.status, "VALID")
    assert.strictEqual(c.proof_tier, "self")
    assert.strictEqual(c.receipts[0]?.status, "INVALID")
  })

  it("a receipt by an unlisted gateway, and receipts with no allowlist configured", () => {
    const env = Sign.proofBundle(agent, { bundle_id: "b", event_chain: chain, receipts: [receipt] }, { issuedAt: iso(T0) })
    assert.strictEqual(strict(env, { gatewaySignerDids: [stranger.did] }).receipts[0]?.error?.code, "CLAIM_NOT_FOUND")
    assert.strictEqual(strict(env, { gatewaySignerDids: [stranger.did] }).error?.code, "RECEIPT_VERIFICATION_FAILED")
    assert.strictEqual(strict(env, { gatewaySignerDids: [] }).error?.code, "DEPENDENCY_NOT_CONFIGURED")
  })

  it("expiry is judged at verifyAt, never the wall clock", () => {
    const env = Sign.proofBundle(agent, { bundle_id: "b", event_chain: chain }, { issuedAt: iso(T0), expiresAt: iso(T0 + 30_000) })
    assert.strictEqual(strict(env, { verifyAt: T0 + 30_000 }).status, "VALID")
    assert.strictEqual(strict(env, { verifyAt: T0 + 30_001 }).error?.code, "EXPIRED_TTL")
    assert.strictEqual(strict(env, { verifyAt: T0 + 40_000, ttlSkewMs: 10_000 }).status, "VALID")
  })
})

describe("proof bundles: components", () => {
  const chain = EventChain.build("run_1", [{ event_id: "e0", event_type: "llm_call", timestamp: iso(T0), payload_hash_b64u: Hash.sha256B64uOfString("p") }])
  const bundle = (extra: Partial<Sign.ProofBundleInput>) => Sign.proofBundle(agent, { bundle_id: "b", event_chain: chain, ...extra }, { issuedAt: iso(T0) })

  it("rate-limit claims", () => {
    const claim = { claim_version: "1", scope: "agent", scope_key: agent.did, window_start: iso(T0), window_end: iso(T0 + 60_000), max_requests: 5, observed_requests: 3, run_id: "run_1" }
    assert.strictEqual(strict(bundle({ rate_limit_claims: [claim] })).status, "VALID")
    assert.strictEqual(strict(bundle({ rate_limit_claims: [{ ...claim, observed_requests: 6 }] })).error?.code, "RATE_LIMIT_EXCEEDED")
    assert.strictEqual(strict(bundle({ rate_limit_claims: [{ ...claim, window_end: iso(T0 - 1) }] })).error?.code, "RATE_LIMIT_WINDOW_INVALID")
    assert.strictEqual(strict(bundle({ rate_limit_claims: [{ ...claim, run_id: "run_2" }] })).error?.code, "RATE_LIMIT_CLAIM_INCONSISTENT")
    assert.strictEqual(strict(bundle({ rate_limit_claims: [{ ...claim, max_tokens_input: 10 }] })).error?.code, "RATE_LIMIT_CLAIM_INCONSISTENT")
  })

  it("URM: required when referenced, hashed with JSON.stringify, bound to agent and run", () => {
    const urm = { urm_version: "1", urm_id: "urm_1", run_id: "run_1", agent_did: agent.did, issued_at: iso(T0), harness: { id: "h", version: "1" }, inputs: [], outputs: [] }
    const env = bundle({ urm: { urm_id: "urm_1", resource_type: "agent_pack_bundle", resource_hash_b64u: Hash.jsonHashB64u(urm)! } })
    const ok = strict(env, { urm })
    assert.strictEqual(ok.status, "VALID", `${ok.error?.code} ${ok.error?.field} ${ok.error?.message}`)
    assert.isTrue(ok.component_results?.urm_valid)
    assert.strictEqual(strict(env).error?.code, "URM_MISSING")
    assert.strictEqual(strict(env, { urm: { ...urm, run_id: "run_2" } }).error?.code, "URM_MISMATCH")
    assert.strictEqual(strict(env, { urm: { ...urm, issued_at: iso(T0 + 1) } }).error?.code, "HASH_MISMATCH")
  })

  it("tool receipt v2 with a co-signature and selective disclosure", () => {
    const salt = Hash.sha256B64uOfString("salt")
    const leaf = { type: "string", value: "how many claws", salt_b64u: salt }
    const root = ToolReceipt.disclosureRoot([ToolReceipt.leafHash("args.query", leaf)!])
    const payload = {
      receipt_version: "2", receipt_id: "tr_1", tool_name: "search", args_hash_b64u: root, result_hash_b64u: Hash.sha256B64uOfString("r"),
      hash_algorithm: "SHA-256", agent_did: agent.did, timestamp: iso(T0), latency_ms: 5, args_salt_b64u: salt, result_salt_b64u: salt,
      binding: { run_id: "run_1", event_hash_b64u: chain[0]!.event_hash_b64u },
      args_disclosure: { disclosure_algorithm: "vir_v2_typed_lexicographical", merkle_root_b64u: root, redacted_leaf_hashes_b64u: [], disclosed_leaves: { "args.query": leaf } }
    }
    const tr = Sign.toolReceiptV2(stranger, payload, { issuedAt: iso(T0) }, [{ signer: attester, role: "auditor" }])
    const ok = strict(bundle({ tool_receipts: [tr] }))
    assert.strictEqual(ok.status, "VALID", `${ok.error?.code} ${ok.error?.field}`)
    const badCosig = { ...tr, co_signatures: [{ ...(tr as any).co_signatures[0], signer_did: stranger.did }] }
    assert.strictEqual(strict(bundle({ tool_receipts: [badCosig] })).error?.code, "CO_SIGNATURE_INVALID")
    const confused = Sign.toolReceiptV2(stranger, { ...payload, args_disclosure: { ...payload.args_disclosure, disclosed_leaves: { "args.query": { ...leaf, type: "number" } } } }, { issuedAt: iso(T0) })
    assert.strictEqual(strict(bundle({ tool_receipts: [confused] })).error?.code, "DISCLOSURE_TYPE_MISMATCH")
    const otherAgent = Sign.toolReceiptV2(stranger, { ...payload, agent_did: stranger.did }, { issuedAt: iso(T0) })
    assert.strictEqual(strict(bundle({ tool_receipts: [otherAgent] })).error?.code, "PROOF_BUNDLE_AGENT_MISMATCH")
  })

  it("attestation references give the sandbox tier only when signed by an allowlisted attester about this agent", () => {
    const ref = Sign.attestationReference(attester, { attestation_id: "a1", attestation_type: "third_party", subject_did: agent.did })
    const env = bundle({ attestations: [ref] })
    assert.strictEqual(strict(env, { attestationSignerDids: [attester.did] }).proof_tier, "sandbox")
    assert.strictEqual(strict(env).proof_tier, "self")
    const forged = { ...ref, attestation_id: "a2" }
    assert.strictEqual(strict(bundle({ attestations: [forged] }), { attestationSignerDids: [attester.did] }).proof_tier, "self")
  })

  it("execution attestations about the bundle raise the tier to sandbox; about another bundle fail", () => {
    const env = bundle({})
    const att = Sign.executionAttestation(attester, { attestation_id: "x", execution_type: "sandbox_execution", agent_did: agent.did, run_id: "run_1", proof_bundle_hash_b64u: env.payload_hash_b64u, issued_at: iso(T0) }, { issuedAt: iso(T0) })
    const r = strict(env, { executionAttestations: [att], executionAttestationSignerDids: [attester.did] })
    assert.strictEqual(r.proof_tier, "sandbox")
    const other = Sign.executionAttestation(attester, { attestation_id: "x", execution_type: "sandbox_execution", agent_did: agent.did, run_id: "run_1", proof_bundle_hash_b64u: Hash.sha256B64uOfString("other"), issued_at: iso(T0) }, { issuedAt: iso(T0) })
    assert.strictEqual(strict(env, { executionAttestations: [other], executionAttestationSignerDids: [attester.did] }).error?.code, "HASH_MISMATCH")
  })
})

describe("Tier", () => {
  it("numeric poh_tier and precedence are separate orders", () => {
    assert.deepStrictEqual(Tier.PROOF_TIERS.map(Tier.pohTier), [0, 1, 2, 3, 4, 5])
    assert.strictEqual(Tier.max("witnessed_web", "gateway"), "gateway")
    assert.strictEqual(Tier.max("tee", "witnessed_web"), "tee")
    assert.isTrue(Tier.pohTier("witnessed_web") > Tier.pohTier("tee"))
    assert.isFalse(Tier.atLeast("witnessed_web", "gateway"))
    assert.strictEqual(Tier.fromPohTier(3), "sandbox")
  })
})
