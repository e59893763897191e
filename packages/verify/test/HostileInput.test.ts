/**
 * Verifiers return INVALID for any input, never throw: a library caller passes values the HTTP
 * edge's depth limit never sees. Deep nesting used to overflow the stack in error messages
 * (`String(value)`), the metadata size check and JCS canonicalisation.
 */
import { assert, describe, it } from "@effect/vitest"
import { CommitProof, Envelope, Jcs, ProofBundle, Sign } from "@clawbounties/verify"
import { agent, gateway, typicalBundle, VERIFY_AT } from "./fixtures.js"

const deepArray = (depth: number): unknown => JSON.parse("[".repeat(depth) + "]".repeat(depth))
const deepObject = (depth: number): unknown => JSON.parse('{"a":'.repeat(depth) + "1" + "}".repeat(depth))
const DEPTH = 20_000

describe("hostile input", () => {
  it("a proof bundle with metadata nested 20,000 deep is MALFORMED_ENVELOPE", () => {
    const { envelope } = typicalBundle()
    const deep = { ...envelope, payload: { ...(envelope as { payload: object }).payload, metadata: deepObject(DEPTH) } }
    const result = ProofBundle.verify(deep, { verifyAt: VERIFY_AT, gatewaySignerDids: [gateway.did] })
    assert.strictEqual(result.error?.code, "MALFORMED_ENVELOPE")
    assert.strictEqual(result.error?.field, "payload.metadata")
  })

  it("deeply nested header fields are refused by their checks, their values not printed", () => {
    const { envelope } = typicalBundle()
    const version = ProofBundle.verify({ ...envelope, envelope_version: deepArray(DEPTH) }, { verifyAt: VERIFY_AT })
    assert.strictEqual(version.error?.code, "UNKNOWN_ENVELOPE_VERSION")
    assert.strictEqual(version.error?.message, "Unknown envelope version: an array")
    const signer = Envelope.verifyEnvelope({ ...envelope, signer_did: deepArray(DEPTH) }, { verifyAt: VERIFY_AT, mode: "compat" })
    assert.strictEqual(signer.error?.code, "INVALID_DID_FORMAT")
  })

  it("a commit signature carrying a field nested 20,000 deep is INVALID", () => {
    const m1 = { ...Sign.m1CommitSignature(agent, "abcdef1234567", "2026-02-12T00:00:00.000Z"), extra: deepObject(DEPTH) }
    assert.strictEqual(CommitProof.verify(m1, { verifyAt: VERIFY_AT }).status, "INVALID")
  })

  it("JCS does not canonicalise what it cannot write without overflowing", () => {
    assert.strictEqual(Jcs.canonicalize(deepObject(DEPTH)), undefined)
    assert.strictEqual(Jcs.canonicalize(deepObject(100)), JSON.stringify(deepObject(100)))
  })
})
