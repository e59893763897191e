/**
 * **Marketplace entry point: commit proofs, both formats.** {@link verify} takes either
 *
 * - a `commit_proof` envelope: payload `{proof_version:"1", repo_claim_id, commit_sha, repository,
 *   branch?}`, hashed and signed like every envelope, checked against a repo-claim allowlist; or
 * - a legacy m1 `commit.sig.json` (`version: "m1"`), signed over JCS (see ProtocolM).
 *
 * Envelope order (reference §3.1): the generic pipeline; at the payload step the strings are
 * trimmed and must be non-blank and `commit_sha` must be 7-64 hex (MALFORMED_ENVELOPE); then the
 * repo claim (no allowlist: DEPENDENCY_NOT_CONFIGURED; not listed: CLAIM_NOT_FOUND); then hash,
 * DID and signature.
 *
 * Strict adds: the payload must satisfy `commit_proof.v1` (no unknown fields, lower-case SHA:
 * SCHEMA_VALIDATION_FAILED) and, when `expectedSignerDid` is given, the signer must be it
 * (INVALID_DID_FORMAT, the reference's code for a signer mismatch).
 */
import * as Envelope from "./Envelope.js"
import { validateNamed } from "./internal/JsonSchema.js"
import * as ProtocolM from "./ProtocolM.js"
import { type BaseResult, fail, isNonBlankString, isRecord, type VerificationError } from "./Result.js"

export interface Options extends Envelope.VerifyOptions {
  /** Known repository claims: a list, or a predicate over the claim id. */
  readonly repoClaimIds?: ReadonlyArray<string> | ((repoClaimId: string) => boolean)
  /** When set, the proof must be signed by this DID (strict and compat). */
  readonly expectedSignerDid?: string
}

export interface CommitProofResult extends BaseResult {
  readonly format?: "envelope" | "m1"
  readonly signer_did?: string
  readonly commit_sha?: string
  readonly repository?: string
  readonly repo_claim_id?: string
  readonly branch?: string
}

const COMMIT_SHA = /^[a-f0-9]{7,64}$/i

const checkPayload: Envelope.PayloadCheck = (p, _env, ctx) => {
  if (!isRecord(p)) return fail("MALFORMED_ENVELOPE", "payload must be an object", "payload")
  if (p.proof_version !== "1") return fail("MALFORMED_ENVELOPE", "proof_version must be \"1\"", "payload.proof_version")
  for (const f of ["repo_claim_id", "commit_sha", "repository"]) {
    if (!isNonBlankString(p[f])) return fail("MALFORMED_ENVELOPE", `${f} must be a non-blank string`, `payload.${f}`)
  }
  if (!COMMIT_SHA.test((p.commit_sha as string).trim())) return fail("MALFORMED_ENVELOPE", "commit_sha must be 7-64 hex characters", "payload.commit_sha")
  if (ctx.strict) {
    const e = validateNamed("commit_proof.v1", p)
    if (e !== undefined) return fail("SCHEMA_VALIDATION_FAILED", `Schema validation failed: ${e.message}`, `payload.${e.path}`)
    if (p.commit_sha !== (p.commit_sha as string).toLowerCase()) return fail("SCHEMA_VALIDATION_FAILED", "commit_sha must be lower-case", "payload.commit_sha")
  }
  return undefined
}
Envelope.registerPayloadCheck("commit_proof", checkPayload)

const checkClaim = (options: Options) => (env: Record<string, unknown>): VerificationError | undefined => {
  const id = ((env.payload as Record<string, unknown>).repo_claim_id as string).trim()
  const known = options.repoClaimIds
  if (known === undefined || (Array.isArray(known) && known.length === 0)) {
    return fail("DEPENDENCY_NOT_CONFIGURED", "No repository claim registry is configured", "payload.repo_claim_id")
  }
  const found = typeof known === "function" ? known(id) : (known as ReadonlyArray<string>).includes(id)
  return found ? undefined : fail("CLAIM_NOT_FOUND", `Unknown repository claim: ${id}`, "payload.repo_claim_id")
}

/** Verifies a `commit_proof` envelope. */
export const verifyEnvelope = (input: unknown, options: Options): CommitProofResult => {
  const ctx = Envelope.makeCtx(options)
  const r = Envelope.verifyWith(input, "commit_proof", ctx, checkPayload, checkClaim(options), (env) =>
    options.expectedSignerDid !== undefined && env.signer_did !== options.expectedSignerDid
      ? fail("INVALID_DID_FORMAT", "The commit proof is signed by another DID", "signer_did")
      : undefined)
  if (r.status === "INVALID") return { ...r, format: "envelope" }
  const p = (input as Record<string, unknown>).payload as Record<string, unknown>
  return {
    ...r,
    format: "envelope",
    commit_sha: (p.commit_sha as string).trim(),
    repository: (p.repository as string).trim(),
    repo_claim_id: (p.repo_claim_id as string).trim(),
    ...(typeof p.branch === "string" ? { branch: p.branch } : {})
  }
}

/**
 * Verifies a commit proof in either format. Objects with a `version` and no `envelope_version`
 * are legacy Protocol M signatures (so `version: "m2"` reports UNKNOWN_VERSION, as the CLI does).
 */
export const verify = (input: unknown, options: Options): CommitProofResult => {
  if (isRecord(input) && "version" in input && !("envelope_version" in input)) {
    const r = ProtocolM.verifyCommitSignature(input, options)
    if (r.status === "VALID" && options.expectedSignerDid !== undefined && r.signer_did !== options.expectedSignerDid) {
      const error = fail("INVALID_DID_FORMAT", "The commit signature is by another DID", "did")
      return { status: "INVALID", reason: error.message, verified_at: r.verified_at, error, format: "m1" }
    }
    return { ...r, format: "m1" }
  }
  return verifyEnvelope(input, options)
}
