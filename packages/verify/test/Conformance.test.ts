/**
 * Conformance with the reference protocol: every vector of
 * `vectors/protocol-conformance/manifest.v1.json` that is present reproduces its expected status
 * and reason code in compat mode (listed-but-absent files are skipped and reported), through both
 * Ed25519 backends; and the golden vectors are reproduced byte for byte.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import {
  AggregateBundle,
  Base64Url,
  CommitProof,
  DidKey,
  Ed25519,
  ExportBundle,
  Hash,
  Jcs,
  LogInclusionProof,
  Manifest,
  ProofBundle,
  ProtocolM,
  Sign,
  WebReceipt
} from "@clawbounties/verify"
import { seed } from "./fixtures.js"

const reference = new URL("../../../../shared/reference/", import.meta.url)
const vectors = new URL("vectors/", reference)
const readJson = (url: URL): any => JSON.parse(fs.readFileSync(url, "utf8"))
const manifest = readJson(new URL("protocol-conformance/manifest.v1.json", vectors))
const config = readJson(new URL("protocol-conformance/clawverify.config.conformance.v1.json", vectors))

// The r48 aggregate vectors expired on 2026-03-31; the reference ran them at ~2026-02-18.
const VERIFY_AT = Date.parse("2026-02-18T00:00:00.000Z")
const options = (backend: Ed25519.Backend) => ({
  mode: "compat" as const,
  verifyAt: VERIFY_AT,
  backend,
  gatewaySignerDids: config.allowlists.gateway_receipt_signer_dids as Array<string>,
  derivationAttestationSignerDids: config.allowlists.derivation_attestation_signer_dids as Array<string>
})

const run = (kind: string, input: unknown, backend: Ed25519.Backend): { status: string; code: string } => {
  const o = options(backend)
  const r =
    kind === "proof_bundle" ? ProofBundle.verify(input, o)
    : kind === "commit_sig" ? CommitProof.verify(input, o)
    : kind === "export_bundle" ? ExportBundle.verify(input, o)
    : kind === "aggregate_bundle" ? AggregateBundle.verify(input, o)
    : undefined
  if (r === undefined) throw new Error(`unknown vector kind ${kind}`)
  return { status: r.status, code: r.status === "VALID" ? "OK" : r.error!.code }
}

const present: Array<any> = []
const absent: Array<string> = []
for (const v of manifest.vectors) {
  const url = new URL(v.path.replace("packages/schema/fixtures/", ""), vectors)
  if (fs.existsSync(url)) present.push({ ...v, url })
  else absent.push(v.name)
}

describe("protocol conformance manifest (compat mode)", () => {
  it("reports the vectors listed in the manifest but absent from the tree", () => {
    console.log(`conformance: ${present.length} present, ${absent.length} listed but absent (skipped): ${absent.join(", ")}`)
    assert.strictEqual(present.length + absent.length, manifest.vectors.length)
    assert.isAbove(present.length, 20)
  })

  for (const v of present) {
    it(`${v.name} → ${[v.expected.reason_code].flat().join("|")}`, () => {
      const input = readJson(v.url)
      const expectedCodes = [v.expected.reason_code].flat()
      for (const backend of Ed25519.backends) {
        const got = run(v.kind, input, backend)
        assert.strictEqual(got.status, v.expected.valid ? "VALID" : "INVALID", `${backend.name}: ${got.code}`)
        assert.include(expectedCodes, got.code, `${backend.name}`)
      }
    })
  }

  for (const name of absent) it.skip(`${name} (listed in the manifest, file absent)`, () => {})

  it("proof_bundle.pass reaches the gateway tier only with the gateway allowlisted", () => {
    const input = readJson(new URL("protocol-conformance/proof_bundle_pass.v1.json", vectors))
    const withList = ProofBundle.verify(input, options(Ed25519.nodeBackend))
    assert.strictEqual(withList.proof_tier, "gateway")
    assert.strictEqual(withList.trust_tier, "verified")
    assert.strictEqual(withList.poh_tier, 2)
    // Without the allowlist the CLI reports DEPENDENCY_NOT_CONFIGURED for a bound receipt.
    const without = ProofBundle.verify(input, { mode: "compat", verifyAt: VERIFY_AT })
    assert.strictEqual(without.error?.code, "DEPENDENCY_NOT_CONFIGURED")
  })

  it("the aggregate vectors expire: verified at today's reference time they give EXPIRED_TTL", () => {
    const input = readJson(new URL("protocol-conformance/r48-r49-v02/aggregate_bundle/aggregate_pass_golden.v1.json", vectors))
    const r = AggregateBundle.verify(input, { ...options(Ed25519.nodeBackend), verifyAt: Date.parse("2026-04-01T00:00:00Z") })
    assert.strictEqual(r.error?.code, "EXPIRED_TTL")
  })
})

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)))
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")

describe("golden vectors", () => {
  const golden = readJson(new URL("protocol-m-golden-vector.v1.json", vectors))

  it("did:key from the RFC 8032 test-1 seed", () => {
    const signer = Sign.signerFromSeed(hex(golden.seed_hex))
    assert.strictEqual(toHex(signer.publicKey), golden.public_key_hex)
    assert.strictEqual(signer.did, golden.did)
    assert.strictEqual(toHex(DidKey.resolve(golden.did, true)!), golden.public_key_hex)
  })

  it("m1 artifact signature: JCS text, signature bytes, and verification over the file", () => {
    const signer = Sign.signerFromSeed(hex(golden.seed_hex))
    const envelope = golden.signature_envelope
    assert.strictEqual(Jcs.canonicalize(envelope), golden.canonical_jcs)
    const sig = Ed25519.sign(signer, Hash.utf8(golden.canonical_jcs))
    assert.strictEqual(Base64Url.encodeStandardBase64(sig), golden.signature_base64)
    assert.strictEqual(toHex(sig), golden.signature_hex)
    const signed = { ...envelope, signature: golden.signature_base64 }
    const file = Hash.utf8(golden.test_artifact.file_bytes_utf8)
    for (const backend of Ed25519.backends) {
      for (const mode of ["strict", "compat"] as const) {
        const ok = ProtocolM.verifyArtifactSignature(signed, file, { mode, verifyAt: VERIFY_AT, backend })
        assert.strictEqual(ok.status, "VALID", `${backend.name}/${mode}: ${ok.error?.message}`)
      }
      const other = ProtocolM.verifyArtifactSignature(signed, Hash.utf8("hello world!\n"), { verifyAt: VERIFY_AT, backend })
      assert.strictEqual(other.error?.code, "HASH_MISMATCH")
    }
  })

  it("the archived copy's wrong signature_hex is detected", () => {
    const archived = readJson(new URL("docs-archive/protocol-m-phase-1/golden-vector.json", vectors))
    assert.notStrictEqual(archived.signature_hex, golden.signature_hex)
    const signer = Sign.signerFromSeed(hex(golden.seed_hex))
    for (const backend of Ed25519.backends) {
      assert.isFalse(backend.verify(signer.publicKey, Hash.utf8(golden.canonical_jcs), hex(archived.signature_hex)))
      assert.isTrue(backend.verify(signer.publicKey, Hash.utf8(golden.canonical_jcs), hex(golden.signature_hex)))
    }
  })

  it("web receipt: VALID (witnessed_web) with its witness allowlisted, DEPENDENCY_NOT_CONFIGURED without", () => {
    const v = readJson(new URL("web_receipt_golden.v1.json", vectors))
    for (const backend of Ed25519.backends) {
      const ok = WebReceipt.verify(v.envelope, { mode: "compat", verifyAt: VERIFY_AT, backend, witnessSignerDids: [v.envelope.signer_did] })
      assert.strictEqual(ok.status, "VALID")
      assert.strictEqual(ok.proof_tier, "witnessed_web")
      const no = WebReceipt.verify(v.envelope, { mode: "compat", verifyAt: VERIFY_AT, backend })
      assert.strictEqual(no.error?.code, "DEPENDENCY_NOT_CONFIGURED")
    }
  })

  it("log inclusion proof: root from the leaves, audit path, and the signed root", () => {
    const v = readJson(new URL("log_inclusion_proof_golden.v1.json", vectors))
    const leaves = (v.leaves as Array<string>).map((l) => Base64Url.decode(l)!)
    assert.strictEqual(Base64Url.encode(LogInclusionProof.rootOf(leaves)), v.proof.root_hash_b64u)
    assert.deepStrictEqual(LogInclusionProof.auditPath(leaves, v.proof.leaf_index).map(Base64Url.encode), v.proof.audit_path)
    const logSignerDids = [v.inclusion_proof_v1.root_signature.signer_did as string]
    for (const backend of Ed25519.backends) {
      assert.strictEqual(LogInclusionProof.verify(v.inclusion_proof_v1, { verifyAt: VERIFY_AT, backend, logSignerDids }).status, "VALID")
    }
    // Fail-closed: without an allowlist no root verifies, and a signer outside it is refused.
    assert.strictEqual(LogInclusionProof.verify(v.inclusion_proof_v1, { verifyAt: VERIFY_AT }).error?.code, "DEPENDENCY_NOT_CONFIGURED")
    assert.strictEqual(LogInclusionProof.verify(v.inclusion_proof_v1, { verifyAt: VERIFY_AT, logSignerDids: [] }).error?.code, "DEPENDENCY_NOT_CONFIGURED")
    const forger = Sign.signerFromSeed(seed(200))
    const forged = { ...v.inclusion_proof_v1, root_signature: { signer_did: forger.did, sig_b64u: Sign.signText(forger, v.proof.root_hash_b64u) } }
    assert.strictEqual(LogInclusionProof.verify(forged, { verifyAt: VERIFY_AT, logSignerDids }).error?.code, "CLAIM_NOT_FOUND")
    // Every leaf of the golden tree proves against the same root.
    for (let i = 0; i < leaves.length; i++) {
      const root = LogInclusionProof.computeRoot(leaves[i]!, i, leaves.length, LogInclusionProof.auditPath(leaves, i))
      assert.strictEqual(Base64Url.encode(root!), v.proof.root_hash_b64u)
    }
    const wrongIndex = { ...v.inclusion_proof_v1, metadata: { leaf_index: 2 } }
    assert.strictEqual(LogInclusionProof.verify(wrongIndex, { verifyAt: VERIFY_AT, logSignerDids }).error?.code, "INCLUSION_PROOF_INVALID")
    const wrongSig = { ...v.inclusion_proof_v1, root_signature: { ...v.inclusion_proof_v1.root_signature, signer_did: "did:key:z6MkneMkZqwqRiU5mJzSG3kDwzt9P8C59N4NGTfBLfSGE7c7" } }
    assert.strictEqual(LogInclusionProof.verify(wrongSig, { verifyAt: VERIFY_AT, logSignerDids: [wrongSig.root_signature.signer_did] }).error?.code, "SIGNATURE_INVALID")
  })

  it("export bundle golden: VALID in both modes with the derivation allowlist, CLAIM_NOT_FOUND outside it", () => {
    const v = readJson(new URL("export_bundle_golden.v1.json", vectors))
    for (const mode of ["strict", "compat"] as const) {
      const r = ExportBundle.verify(v, { ...options(Ed25519.nodeBackend), mode })
      assert.strictEqual(r.status, "VALID", `${mode}: ${r.error?.code} ${r.error?.field}`)
      assert.strictEqual(r.proof_bundle?.proof_tier, "self")
    }
    const r = ExportBundle.verify(v, { ...options(Ed25519.nodeBackend), derivationAttestationSignerDids: ["did:key:z6MkehRgf7yJbgaGfYsdoAsKdBPE3dj2CYhowQdcjqSJgvVd"] })
    assert.strictEqual(r.error?.code, "CLAIM_NOT_FOUND")
  })

  it("an aggregate refuses an export member that fails its own checks, though its proof bundle is valid", () => {
    const golden = readJson(new URL("export_bundle_golden.v1.json", vectors)).bundle
    const o = { ...options(Ed25519.nodeBackend), verifyAt: Date.parse("2026-02-18T00:00:00.000Z") }
    const artifacts = structuredClone(golden.artifacts)
    const signature: string = artifacts.derivation_attestation_envelopes[0].signature_b64u
    artifacts.derivation_attestation_envelopes[0].signature_b64u = (signature[0] === "A" ? "B" : "A") + signature.slice(1)
    const forged = Sign.exportBundle(Sign.signerFromSeed(seed(55)), { export_id: "exp_forged", created_at: golden.created_at, issued_at: golden.issued_at, artifacts })
    const exported = ExportBundle.verify(forged, o)
    assert.strictEqual(exported.error?.code, "SIGNATURE_INVALID")
    assert.strictEqual(exported.proof_bundle?.status, "VALID")

    const aggregateOf = (member: unknown) => {
      const issuer = Sign.signerFromSeed(seed(77))
      const memberArtifacts = { member_bundles: [member] }
      return Sign.envelope(issuer, "aggregate_bundle", {
        aggregate_version: "1", aggregate_id: "agg_forged", created_at: "2026-02-17T00:00:00.000Z", issuer_did: issuer.did,
        manifest: { manifest_version: "1", generated_at: "2026-02-17T00:00:00.000Z", entries: Manifest.expectedEntries(memberArtifacts) },
        artifacts: memberArtifacts,
        metadata: { fleet_summary: { total_members: 1, unique_agents: 1, total_runs: 1 } }
      }, { issuedAt: "2026-02-17T00:00:01.000Z" })
    }
    const refused = AggregateBundle.verify(aggregateOf(forged), o)
    assert.strictEqual(refused.error?.code, "AGGREGATE_MEMBER_INVALID")
    assert.match(refused.error!.message, /SIGNATURE_INVALID/)
    // The untouched golden export passes as a member with its allowlist, and not without it.
    const genuine = Sign.exportBundle(Sign.signerFromSeed(seed(55)), { export_id: "exp_genuine", created_at: golden.created_at, issued_at: golden.issued_at, artifacts: golden.artifacts })
    assert.strictEqual(AggregateBundle.verify(aggregateOf(genuine), o).status, "VALID")
    const unconfigured = AggregateBundle.verify(aggregateOf(genuine), { ...o, derivationAttestationSignerDids: undefined })
    assert.match(unconfigured.error!.message, /DEPENDENCY_NOT_CONFIGURED/)
  })

  it("the deterministic seeds (seed[i] = k + i) reproduce the vector DIDs", () => {
    const seed = (k: number) => Uint8Array.from({ length: 32 }, (_, i) => (k + i) & 0xff)
    assert.strictEqual(Sign.signerFromSeed(seed(1)).did, "did:key:z6MkneMkZqwqRiU5mJzSG3kDwzt9P8C59N4NGTfBLfSGE7c7")
    assert.strictEqual(Sign.signerFromSeed(seed(100)).did, "did:key:z6MkfF4ykuxdK3Cea9xDqWgLLgMBvxcypy6Tv1K45Eahxy3m")
    assert.strictEqual(Sign.signerFromSeed(seed(0)).did, "did:key:z6MkehRgf7yJbgaGfYsdoAsKdBPE3dj2CYhowQdcjqSJgvVd")
  })

  it("event hash worked example (proof_bundle_pass)", async () => {
    const { EventChain } = await import("@clawbounties/verify")
    assert.strictEqual(
      EventChain.eventHash({ event_id: "evt_conformance_001", run_id: "run_conformance_001", event_type: "llm_call", timestamp: "2026-02-12T00:00:00.000Z", payload_hash_b64u: "ibhRTWt5gh47v4X1fAtBRKwEKCHZir1w-de3fNfCEu8", prev_hash_b64u: null }),
      "mo72_ab1UHvxY2DERZG2Tn12KNl2e_NSUrVDEQ5-Jds"
    )
  })
})
