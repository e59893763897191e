import { assert, describe, it } from "@effect/vitest"
import { CommitProof, Ed25519, Sign } from "@clawbounties/verify"
import { agent, iso, stranger, T0, VERIFY_AT } from "./fixtures.js"

const SHA = "135016bbeda0a95d5745ff9031c1287263ea0a06"
const claim = Sign.defaultRepoClaimId("Octo/Repo")

describe("commit proofs: commit_proof envelope", () => {
  const env = Sign.commitProof(agent, { repo_claim_id: claim, commit_sha: SHA, repository: "octo/repo", branch: "main" }, { issuedAt: iso(T0) })
  const o = { verifyAt: VERIFY_AT, repoClaimIds: [claim] }

  it("verifies and reports the commit", () => {
    const r = CommitProof.verify(env, o)
    assert.strictEqual(r.status, "VALID")
    assert.strictEqual(r.format, "envelope")
    assert.strictEqual(r.commit_sha, SHA)
    assert.strictEqual(r.repository, "octo/repo")
    assert.strictEqual(r.repo_claim_id, claim)
    assert.match(claim, /^claim_[0-9a-f]{32}$/)
  })

  it("repo claim registry: missing → DEPENDENCY_NOT_CONFIGURED, unknown → CLAIM_NOT_FOUND, predicate works", () => {
    assert.strictEqual(CommitProof.verify(env, { verifyAt: VERIFY_AT }).error?.code, "DEPENDENCY_NOT_CONFIGURED")
    assert.strictEqual(CommitProof.verify(env, { verifyAt: VERIFY_AT, repoClaimIds: ["claim_other"] }).error?.code, "CLAIM_NOT_FOUND")
    assert.strictEqual(CommitProof.verify(env, { verifyAt: VERIFY_AT, repoClaimIds: (id) => id === claim }).status, "VALID")
  })

  it("expected signer, bad sha, extra fields (strict only)", () => {
    assert.strictEqual(CommitProof.verify(env, { ...o, expectedSignerDid: stranger.did }).error?.code, "INVALID_DID_FORMAT")
    const short = Sign.commitProof(agent, { repo_claim_id: claim, commit_sha: "abc", repository: "octo/repo" }, { issuedAt: iso(T0) })
    assert.strictEqual(CommitProof.verify(short, o).error?.code, "MALFORMED_ENVELOPE")
    const extra = Sign.envelope(agent, "commit_proof", { proof_version: "1", repo_claim_id: claim, commit_sha: SHA, repository: "octo/repo", surprise: 1 }, { issuedAt: iso(T0) })
    assert.strictEqual(CommitProof.verify(extra, o).error?.code, "SCHEMA_VALIDATION_FAILED")
    assert.strictEqual(CommitProof.verify(extra, { ...o, mode: "compat" }).status, "VALID")
    const upper = Sign.envelope(agent, "commit_proof", { proof_version: "1", repo_claim_id: claim, commit_sha: SHA.toUpperCase(), repository: "octo/repo" }, { issuedAt: iso(T0) })
    assert.strictEqual(CommitProof.verify(upper, o).error?.code, "SCHEMA_VALIDATION_FAILED")
    assert.strictEqual(CommitProof.verify(upper, { ...o, mode: "compat" }).status, "VALID")
  })
})

describe("commit proofs: legacy m1 commit.sig.json", () => {
  const sig = Sign.m1CommitSignature(agent, SHA, iso(T0))

  it("verifies on both backends, in both modes", () => {
    for (const backend of Ed25519.backends) {
      for (const mode of ["strict", "compat"] as const) {
        const r = CommitProof.verify(sig, { verifyAt: VERIFY_AT, backend, mode })
        assert.strictEqual(r.status, "VALID", `${backend.name}/${mode}`)
        assert.strictEqual(r.format, "m1")
        assert.strictEqual(r.commit_sha, SHA)
      }
    }
  })

  it("the reference CLI's order of failures", () => {
    const code = (t: unknown, mode: "strict" | "compat" = "strict") => CommitProof.verify(t, { verifyAt: VERIFY_AT, mode }).error?.code
    assert.strictEqual(code({ ...sig, version: "m2", did: "did:web:x" }), "UNKNOWN_VERSION")
    assert.strictEqual(code({ ...sig, type: "artifact_signature" }), "UNKNOWN_TYPE")
    assert.strictEqual(code({ ...sig, algo: "rsa" }), "UNKNOWN_ALGO")
    assert.strictEqual(code({ ...sig, message: "commit:xyz" }), "COMMIT_MESSAGE_INVALID")
    assert.strictEqual(code({ ...sig, did: "did:web:example.com" }), "INVALID_DID_FORMAT")
    assert.strictEqual(code({ ...sig, signature: "AAAA" }), "MALFORMED_ENVELOPE")
    assert.strictEqual(code({ ...sig, message: `commit:${SHA.slice(0, 39)}0` }), "SIGNATURE_INVALID")
    assert.strictEqual(code({ ...sig, createdAt: iso(T0 + 1) }), "SIGNATURE_INVALID")
    assert.strictEqual(code({ ...sig, extra: "signed too" }), "SIGNATURE_INVALID")
    assert.strictEqual(code({ ...sig, did: stranger.did }), "SIGNATURE_INVALID")
  })

  it("strict: a createdAt after verifyAt, or an upper-case SHA, is refused; compat accepts", () => {
    const future = Sign.m1CommitSignature(agent, SHA, iso(VERIFY_AT + 3_600_000))
    assert.strictEqual(CommitProof.verify(future, { verifyAt: VERIFY_AT }).error?.code, "MALFORMED_ENVELOPE")
    assert.strictEqual(CommitProof.verify(future, { verifyAt: VERIFY_AT, mode: "compat" }).status, "VALID")
    const upper = { ...sig, message: `commit:${SHA.toUpperCase()}` }
    assert.strictEqual(CommitProof.verify(upper, { verifyAt: VERIFY_AT }).error?.code, "COMMIT_MESSAGE_INVALID")
    assert.strictEqual(CommitProof.verify(upper, { verifyAt: VERIFY_AT, mode: "compat" }).error?.code, "SIGNATURE_INVALID")
  })

  it("expectedSignerDid applies to m1 too", () => {
    assert.strictEqual(CommitProof.verify(sig, { verifyAt: VERIFY_AT, expectedSignerDid: stranger.did }).error?.code, "INVALID_DID_FORMAT")
  })
})
