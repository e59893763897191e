import { assert, describe, it } from "@effect/vitest"
import { Base58 } from "@clawbounties/domain"
import * as fc from "fast-check"
import { Base64Url, CommitProof, Ed25519, Envelope, EventChain, ExecutionAttestation, GatewayReceipt, Hash, Sign } from "@clawbounties/verify"
import { agent, attester, clone, gateway, iso, stranger, T0, VERIFY_AT } from "./fixtures.js"

const times = { issuedAt: iso(T0) }

describe("Base64Url", () => {
  it("round-trips every byte string and decodes only the canonical form strictly", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      const text = Base64Url.encode(bytes)
      assert.deepStrictEqual(Base64Url.decode(text), bytes)
      assert.strictEqual(text, Buffer.from(bytes).toString("base64url"))
    }))
  })

  it("strict refuses non-zero trailing bits that the reference's atob ignores", () => {
    const sig = Base64Url.encode(new Uint8Array(64).fill(7)) // 86 chars: 4 unused bits at the end
    const last = sig[sig.length - 1]!
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    const twin = sig.slice(0, -1) + alphabet[alphabet.indexOf(last) + 1]
    assert.isUndefined(Base64Url.decode(twin))
    assert.deepStrictEqual(Base64Url.decodeLax(twin), Base64Url.decode(sig))
  })

  it("refuses padding, foreign characters and impossible lengths", () => {
    for (const bad of ["AAAA=", "AA==", "A", "AB+C", "AB/C", "ab c"]) assert.isUndefined(Base64Url.decode(bad), bad)
  })
})

describe("Ed25519 backends", () => {
  // Small-order points: the identity (y = 1) and the order-2 point (y = p - 1). With R the
  // identity and S = 0, RFC 8032's equation holds for every message under such a key.
  const identity = new Uint8Array(32)
  identity[0] = 1
  const orderTwo = new Uint8Array(32).fill(0xff)
  orderTwo[0] = 0xec
  orderTwo[31] = 0x7f
  const universal = new Uint8Array(64)
  universal[0] = 1

  it("a small-order public key verifies no signature on either backend", () => {
    for (const key of [identity, orderTwo]) {
      for (const backend of Ed25519.backends) {
        assert.isFalse(backend.verify(key, Hash.utf8("any message at all"), universal), backend.name)
      }
    }
  })

  it("a challenge answered for a small-order did:key with the universal signature is SIGNATURE_INVALID", () => {
    const payload = { message_version: "1", message_type: "challenge_response", message: "register", nonce: "n_1" }
    const payload_hash_b64u = Hash.jsonHashB64u(payload)!
    const env = {
      envelope_version: "1", envelope_type: "message_signature", payload, payload_hash_b64u, hash_algorithm: "SHA-256",
      signature_b64u: Base64Url.encode(universal), algorithm: "Ed25519", issued_at: iso(T0),
      signer_did: `did:key:z${Base58.encode(Uint8Array.from([0xed, 0x01, ...identity]))}`
    }
    for (const backend of Ed25519.backends) {
      const r = Envelope.verifyChallengeResponse(env, { nonce: "n_1" }, { verifyAt: VERIFY_AT, backend })
      assert.strictEqual(r.error?.code, "SIGNATURE_INVALID", backend.name)
    }
  })
})

/** Sign-then-verify for each generic envelope type, then flip every field. */
const builders = {
  artifact_signature: () => Sign.artifact(agent, { artifact_id: "art_1", artifact_type: "agent_pack_bundle", content_hash_b64u: Hash.sha256B64uOfString("x"), content_type: "application/gzip", content_size_bytes: 1 }, times),
  message_signature: () => Sign.message(agent, { message_type: "challenge_response", message: "register", nonce: "n_1", audience: "clawbounties" }, times),
  commit_proof: () => Sign.commitProof(agent, { repo_claim_id: "claim_1", commit_sha: "135016bbeda0a95d5745ff9031c1287263ea0a06", repository: "octo/repo", branch: "main" }, times)
} as const

const verifyAny = (type: string, env: unknown, mode: "strict" | "compat", backend: Ed25519.Backend = Ed25519.nodeBackend) =>
  type === "commit_proof"
    ? CommitProof.verify(env, { mode, verifyAt: VERIFY_AT, backend, repoClaimIds: ["claim_1"] })
    : Envelope.verifyEnvelope(env, { mode, verifyAt: VERIFY_AT, backend, expectedType: type })

const flipChar = (s: string, i: number): string => {
  const c = s[i]!
  const alt = c === "A" ? "B" : "A"
  return s.slice(0, i) + alt + s.slice(i + 1)
}

describe("signed envelopes: sign then verify, tamper every field", () => {
  for (const [type, build] of Object.entries(builders)) {
    it(`${type}: VALID in both modes and both backends`, () => {
      const env = build()
      for (const backend of Ed25519.backends) {
        for (const mode of ["strict", "compat"] as const) {
          const r = verifyAny(type, env, mode, backend)
          assert.strictEqual(r.status, "VALID", `${backend.name}/${mode}: ${r.error?.code}`)
        }
      }
    })

    it(`${type}: every payload field changed → HASH_MISMATCH`, () => {
      const env = build() as any
      for (const key of Object.keys(env.payload)) {
        const t = clone(env)
        t.payload[key] = typeof t.payload[key] === "number" ? t.payload[key] + 1 : `${t.payload[key]}x`
        const r = verifyAny(type, t, "strict")
        assert.strictEqual(r.status, "INVALID", key)
        assert.include(["HASH_MISMATCH", "MALFORMED_ENVELOPE", "SCHEMA_VALIDATION_FAILED", "CLAIM_NOT_FOUND"], r.error!.code, key)
      }
      // Reordering payload keys changes JSON.stringify and so the hash.
      const t = clone(env)
      t.payload = Object.fromEntries(Object.entries(t.payload).reverse())
      assert.strictEqual(verifyAny(type, t, "compat").error?.code, "HASH_MISMATCH")
    })

    it(`${type}: every character of hash and signature flipped → INVALID`, () => {
      const env = build() as any
      for (const field of ["payload_hash_b64u", "signature_b64u"]) {
        for (let i = 0; i < env[field].length; i++) {
          const t = { ...env, [field]: flipChar(env[field], i) }
          for (const mode of ["strict", "compat"] as const) {
            const r = verifyAny(type, t, mode)
            // compat: the reference ignores the last character's unused bits, exactly like atob.
            if (mode === "compat" && i === env[field].length - 1 && Base64Url.decodeLax(t[field]) !== undefined &&
              Buffer.compare(Buffer.from(Base64Url.decodeLax(t[field])!), Buffer.from(Base64Url.decodeLax(env[field])!)) === 0) {
              assert.strictEqual(r.status, "VALID")
              continue
            }
            assert.strictEqual(r.status, "INVALID", `${mode} ${field}[${i}]`)
          }
        }
      }
    })

    it(`${type}: another signer, version, type, algorithms, missing fields`, () => {
      const env = build() as any
      const code = (t: unknown, mode: "strict" | "compat" = "strict") => verifyAny(type, t, mode).error?.code
      assert.strictEqual(code({ ...env, signer_did: stranger.did }), "SIGNATURE_INVALID")
      assert.strictEqual(code({ ...env, signer_did: "did:key:zNotBase58!" }), "INVALID_DID_FORMAT")
      assert.strictEqual(code({ ...env, signer_did: "did:web:example.com" }), "INVALID_DID_FORMAT")
      assert.strictEqual(code({ ...env, envelope_version: "2" }), "UNKNOWN_ENVELOPE_VERSION")
      assert.strictEqual(code({ ...env, envelope_type: "nope" }), "UNKNOWN_ENVELOPE_TYPE")
      assert.strictEqual(code({ ...env, envelope_type: "proof_bundle" }), "UNKNOWN_ENVELOPE_TYPE")
      assert.strictEqual(code({ ...env, algorithm: "ES256" }), "UNKNOWN_ALGORITHM")
      assert.strictEqual(code({ ...env, hash_algorithm: "MD5" }), "UNKNOWN_HASH_ALGORITHM")
      assert.strictEqual(code({ ...env, issued_at: "yesterday" }), "MALFORMED_ENVELOPE")
      for (const key of Envelope.REQUIRED_FIELDS) {
        const t = { ...env }
        delete t[key]
        assert.strictEqual(code(t), "MALFORMED_ENVELOPE", key)
      }
    })
  }
})

describe("event_chain envelopes", () => {
  const runId = "run_chain_001"
  const chain = EventChain.build(runId, [0, 1, 2].map((i) => ({
    event_id: `evt_${i}`, event_type: "llm_call", timestamp: iso(T0 + i * 1000), payload_hash_b64u: Hash.sha256B64uOfString(`payload ${i}`)
  })))
  const signed = (payload: unknown) => Sign.envelope(agent, "event_chain", payload, times)
  const good = { chain_version: "1", chain_id: "chain_001", run_id: runId, events: chain }
  const code = (payload: unknown, mode: "strict" | "compat" = "strict") =>
    Envelope.verifyEnvelope(signed(payload), { mode, verifyAt: VERIFY_AT, expectedType: "event_chain" }).error?.code ?? "OK"

  it("a signed, linked chain verifies in both modes", () => {
    assert.strictEqual(code(good), "OK")
    assert.strictEqual(code(good, "compat"), "OK")
  })

  it("a signed payload that is not a linked chain of its run is MALFORMED_ENVELOPE, as in the reference", () => {
    const swapped = [chain[0], chain[2], chain[1]]
    const otherRun = chain.map((e) => ({ ...e, run_id: "run_other" }))
    for (const payload of [
      {},
      { ...good, chain_version: "2" },
      { ...good, chain_id: "" },
      { ...good, events: [] },
      { ...good, events: swapped },
      { ...good, events: [{ ...chain[0]!, prev_hash_b64u: chain[2]!.event_hash_b64u }, ...chain.slice(1)] },
      { ...good, run_id: "run_other" },
      { ...good, events: otherRun.map((e, i) => i === 2 ? e : { ...e, run_id: runId }) }
    ]) {
      for (const mode of ["strict", "compat"] as const) assert.strictEqual(code(payload, mode), "MALFORMED_ENVELOPE", `${mode}: ${JSON.stringify(payload).slice(0, 80)}`)
    }
  })

  it("an event whose hash is not its fields': compat passes (the reference only checks links), strict HASH_MISMATCH", () => {
    const forged = chain.map((e, i) => i === 1 ? { ...e, event_type: "tool_call" } : e)
    assert.strictEqual(code({ ...good, events: forged }, "compat"), "OK")
    assert.strictEqual(code({ ...good, events: forged }), "HASH_MISMATCH")
  })
})

describe("strict and compat differ where the reference is lax", () => {
  const env = builders.artifact_signature() as any
  const code = (t: unknown, mode: "strict" | "compat") => Envelope.verifyArtifact(t, { mode, verifyAt: VERIFY_AT }).error?.code ?? "OK"

  it("BLAKE3: compat HASH_MISMATCH (allowlisted, unimplemented), strict UNKNOWN_HASH_ALGORITHM", () => {
    assert.strictEqual(code({ ...env, hash_algorithm: "BLAKE3" }, "compat"), "HASH_MISMATCH")
    assert.strictEqual(code({ ...env, hash_algorithm: "BLAKE3" }, "strict"), "UNKNOWN_HASH_ALGORITHM")
  })

  it("a did:key with a 33-byte key: compat SIGNATURE_INVALID, strict INVALID_DID_FORMAT", async () => {
    const { Base58 } = await import("@clawbounties/domain")
    const long = `did:key:z${Base58.encode(Uint8Array.from([0xed, 0x01, ...agent.publicKey, 0]))}`
    assert.strictEqual(code({ ...env, signer_did: long }, "compat"), "SIGNATURE_INVALID")
    assert.strictEqual(code({ ...env, signer_did: long }, "strict"), "INVALID_DID_FORMAT")
  })

  it("a short signature: compat SIGNATURE_INVALID, strict MALFORMED_ENVELOPE", () => {
    const t = { ...env, signature_b64u: env.signature_b64u.slice(0, 40) }
    assert.strictEqual(code(t, "compat"), "SIGNATURE_INVALID")
    assert.strictEqual(code(t, "strict"), "MALFORMED_ENVELOPE")
  })

  it("expires_at: ignored by compat for artifacts, EXPIRED_TTL in strict", () => {
    const t = Sign.artifact(agent, env.payload, { issuedAt: iso(T0), expiresAt: iso(T0 + 1000) })
    assert.strictEqual(code(t, "compat"), "OK")
    assert.strictEqual(code(t, "strict"), "EXPIRED_TTL")
    assert.strictEqual(Envelope.verifyArtifact(t, { verifyAt: VERIFY_AT, ttlSkewMs: 120_000 }).status, "VALID")
  })

  it("issued_at: compat takes anything Date.parse takes, strict wants RFC 3339", () => {
    const t = { ...env, issued_at: "Feb 12 2026" }
    assert.strictEqual(code(t, "compat"), "OK")
    assert.strictEqual(code(t, "strict"), "MALFORMED_ENVELOPE")
  })

  it("strict: a date-time with a day past its month's end or hour 24 is not RFC 3339 (Date.parse rolls it over)", () => {
    for (const issued_at of ["2026-02-29T00:00:00Z", "2026-02-30T00:00:00Z", "2026-04-31T00:00:00Z", "2026-01-01T24:00:00Z"]) {
      assert.strictEqual(code({ ...env, issued_at }, "compat"), "OK", issued_at)
      assert.strictEqual(code({ ...env, issued_at }, "strict"), "MALFORMED_ENVELOPE", issued_at)
      const t = Sign.artifact(agent, env.payload, { issuedAt: iso(T0), expiresAt: issued_at })
      assert.strictEqual(code(t, "strict"), "MALFORMED_ENVELOPE", issued_at)
    }
    // The real end of a month, a leap day, and a skipped-over day are still date-times.
    for (const issued_at of ["2026-04-30T23:59:59Z", "2028-02-29T00:00:00Z", "2026-01-31T12:00:00+02:00"]) {
      assert.strictEqual(code({ ...env, issued_at }, "strict"), "OK", issued_at)
    }
  })
})

describe("message_signature over a server challenge (DID registration)", () => {
  const challenge = { nonce: "chal_8f2c", message: "register did with clawbounties", audience: "clawbounties" }
  const response = Sign.challengeResponse(agent, challenge, times)

  it("answers the challenge", () => {
    const r = Envelope.verifyChallengeResponse(response, { ...challenge, signerDid: agent.did }, { verifyAt: VERIFY_AT })
    assert.strictEqual(r.status, "VALID")
    assert.strictEqual(r.signer_did, agent.did)
  })

  it("another nonce, message, audience or signer → CHALLENGE_MISMATCH; a re-signed forgery too", () => {
    const o = { verifyAt: VERIFY_AT }
    assert.strictEqual(Envelope.verifyChallengeResponse(response, { ...challenge, nonce: "other" }, o).error?.code, "CHALLENGE_MISMATCH")
    assert.strictEqual(Envelope.verifyChallengeResponse(response, { ...challenge, message: "other" }, o).error?.code, "CHALLENGE_MISMATCH")
    assert.strictEqual(Envelope.verifyChallengeResponse(response, { ...challenge, audience: "other" }, o).error?.code, "CHALLENGE_MISMATCH")
    assert.strictEqual(Envelope.verifyChallengeResponse(response, { ...challenge, signerDid: stranger.did }, o).error?.code, "CHALLENGE_MISMATCH")
    const forged = { ...response, signer_did: stranger.did }
    assert.strictEqual(Envelope.verifyChallengeResponse(forged, challenge, o).error?.code, "SIGNATURE_INVALID")
  })

  it("an expired message → EXPIRED", () => {
    const m = Sign.message(agent, { message_type: "challenge_response", message: "m", nonce: "n", expires_at: iso(T0 + 1000) }, times)
    assert.strictEqual(Envelope.verifyMessage(m, { verifyAt: VERIFY_AT }).error?.code, "EXPIRED")
    assert.strictEqual(Envelope.verifyMessage(m, { verifyAt: T0 }).status, "VALID")
  })
})

describe("gateway receipts and execution attestations", () => {
  const receipt = Sign.gatewayReceipt(gateway, {
    receipt_id: "r", gateway_id: "g", provider: "p", model: "m", request_hash_b64u: Hash.sha256B64uOfString("a"),
    response_hash_b64u: Hash.sha256B64uOfString("b"), tokens_input: 1, tokens_output: 2, latency_ms: 3, timestamp: iso(T0)
  }, times)

  it("allowlist: none → DEPENDENCY_NOT_CONFIGURED, other signer → CLAIM_NOT_FOUND, listed → VALID", () => {
    assert.strictEqual(GatewayReceipt.verify(receipt, { verifyAt: VERIFY_AT }).error?.code, "DEPENDENCY_NOT_CONFIGURED")
    assert.strictEqual(GatewayReceipt.verify(receipt, { verifyAt: VERIFY_AT, gatewaySignerDids: [stranger.did] }).error?.code, "CLAIM_NOT_FOUND")
    assert.strictEqual(GatewayReceipt.verify(receipt, { verifyAt: VERIFY_AT, gatewaySignerDids: [gateway.did] }).status, "VALID")
    const t = clone(receipt) as any
    t.payload.tokens_input = -1
    assert.strictEqual(GatewayReceipt.verify(t, { verifyAt: VERIFY_AT, gatewaySignerDids: [gateway.did] }).error?.code, "SCHEMA_VALIDATION_FAILED")
  })

  it("execution attestation: signed, allowlisted, TEE evidence checked", () => {
    const base = { attestation_id: "att_1", agent_did: agent.did, run_id: "run_1", proof_bundle_hash_b64u: Hash.sha256B64uOfString("bundle"), issued_at: iso(T0) }
    const sandbox = Sign.executionAttestation(attester, { ...base, execution_type: "sandbox_execution" }, times)
    const o = { verifyAt: VERIFY_AT, signerDids: [attester.did] }
    assert.strictEqual(ExecutionAttestation.verify(sandbox, o).status, "VALID")
    assert.strictEqual(ExecutionAttestation.verify(sandbox, { verifyAt: VERIFY_AT }).error?.code, "DEPENDENCY_NOT_CONFIGURED")
    const nonce = ExecutionAttestation.teeNonceBinding(agent.did, "run_1", base.proof_bundle_hash_b64u)
    const tee = Sign.executionAttestation(attester, {
      ...base,
      execution_type: "tee_execution",
      runtime_metadata: { tee: { attestation_type: "tdx_quote", root_id: "root_a", tcb_version: "tcb_1", evidence_ref: { resource_type: "tdx_quote", resource_hash_b64u: Hash.sha256B64uOfString("quote") }, measurements: { measurement_hash_b64u: Hash.sha256B64uOfString("m"), model_weights_digest_b64u: Hash.sha256B64uOfString("w") }, nonce_binding_b64u: nonce } }
    }, times)
    const tp = { allowedRootIds: ["root_a"], allowedTcbVersions: ["tcb_1"] }
    const r = ExecutionAttestation.verify(tee, { ...o, tee: tp })
    assert.strictEqual(r.status, "VALID", `${r.error?.code} ${r.error?.field} ${r.error?.message}`)
    assert.strictEqual(ExecutionAttestation.verify(tee, { ...o, tee: { ...tp, revokedRootIds: ["root_a"] } }).error?.code, "REVOKED")
    assert.strictEqual(ExecutionAttestation.verify(tee, { ...o, tee: { ...tp, allowedRootIds: ["root_b"] } }).error?.code, "CLAIM_NOT_FOUND")
    assert.strictEqual(ExecutionAttestation.verify(tee, o).error?.code, "DEPENDENCY_NOT_CONFIGURED")
  })
})
