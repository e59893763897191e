/**
 * Execution attestations: a sandbox or TEE operator's signed statement that it ran an agent's
 * bundle. One that verifies and matches the bundle raises its tier to `sandbox`, or `tee` for a
 * `tee_execution` whose root and TCB are allowlisted and whose nonce binding matches.
 *
 * Order (reference §2.9): header → schema → allowlist (DEPENDENCY_NOT_CONFIGURED / CLAIM_NOT_FOUND)
 * → DID format → issued_at → encodings → attester_did = signer_did (SIGNATURE_INVALID) → hash →
 * signature → TEE evidence (SCHEMA_VALIDATION_FAILED, DEPENDENCY_NOT_CONFIGURED, REVOKED,
 * CLAIM_NOT_FOUND, EVIDENCE_MISMATCH). Matching a bundle: agent, run and
 * `proof_bundle_hash_b64u` equal to the bundle's payload hash, else HASH_MISMATCH.
 */
import * as Envelope from "./Envelope.js"
import * as Hash from "./Hash.js"
import { validateNamed } from "./internal/JsonSchema.js"
import { type BaseResult, fail, invalid, isRecord, type VerificationError } from "./Result.js"

export interface TeePolicy {
  readonly allowedRootIds?: ReadonlyArray<string>
  readonly allowedTcbVersions?: ReadonlyArray<string>
  readonly revokedRootIds?: ReadonlyArray<string>
  readonly revokedTcbVersions?: ReadonlyArray<string>
}

export interface Options extends Envelope.VerifyOptions {
  readonly signerDids?: ReadonlyArray<string>
  readonly tee?: TeePolicy
}

export interface AttestationResult extends BaseResult {
  readonly execution_type?: "sandbox_execution" | "tee_execution"
  readonly signer_did?: string
}

/** SHA-256 nonce binding a TEE quote to one bundle. */
export const teeNonceBinding = (agentDid: string, runId: string, proofBundleHashB64u: string): string =>
  Hash.sha256B64uOfString(
    JSON.stringify({ nonce_binding_version: "tee_nonce_binding_v1", agent_did: agentDid, run_id: runId, proof_bundle_hash_b64u: proofBundleHashB64u })
  )

const checkTee = (p: Record<string, unknown>, policy: TeePolicy | undefined): VerificationError | undefined => {
  const rm = isRecord(p.runtime_metadata) ? p.runtime_metadata : undefined
  const tee = rm !== undefined && isRecord(rm.tee) ? rm.tee : undefined
  const measurements = tee !== undefined && isRecord(tee.measurements) ? tee.measurements : undefined
  if (tee === undefined || typeof tee.root_id !== "string" || typeof tee.tcb_version !== "string" ||
    typeof tee.nonce_binding_b64u !== "string" || typeof measurements?.model_weights_digest_b64u !== "string") {
    return fail("SCHEMA_VALIDATION_FAILED", "tee_execution requires runtime_metadata.tee evidence", "payload.runtime_metadata.tee")
  }
  if (!policy?.allowedRootIds?.length || !policy.allowedTcbVersions?.length) {
    return fail("DEPENDENCY_NOT_CONFIGURED", "TEE root and TCB allowlists are not configured", "payload.runtime_metadata.tee")
  }
  if (policy.revokedRootIds?.includes(tee.root_id) || policy.revokedTcbVersions?.includes(tee.tcb_version)) {
    return fail("REVOKED", "TEE root or TCB version is revoked", "payload.runtime_metadata.tee")
  }
  if (!policy.allowedRootIds.includes(tee.root_id) || !policy.allowedTcbVersions.includes(tee.tcb_version)) {
    return fail("CLAIM_NOT_FOUND", "TEE root or TCB version is not allowlisted", "payload.runtime_metadata.tee")
  }
  const expected = teeNonceBinding(p.agent_did as string, p.run_id as string, p.proof_bundle_hash_b64u as string)
  if (tee.nonce_binding_b64u !== expected) {
    return fail("EVIDENCE_MISMATCH", "TEE nonce binding does not match the bundle", "payload.runtime_metadata.tee.nonce_binding_b64u")
  }
  return undefined
}

export const verifyWithCtx = (input: unknown, options: Options, ctx: Envelope.Ctx): AttestationResult => {
  const error =
    Envelope.checkHeader(input, "execution_attestation", ctx) ??
    (() => {
      const env = input as Record<string, unknown>
      const schema = validateNamed("execution_attestation_envelope.v1", env)
      if (schema !== undefined) return fail("SCHEMA_VALIDATION_FAILED", `Schema validation failed: ${schema.message}`, schema.path)
      const p = env.payload as Record<string, unknown>
      return (
        (!options.signerDids?.length
          ? fail("DEPENDENCY_NOT_CONFIGURED", "No execution attestation signer allowlist is configured", "signer_did")
          : options.signerDids.includes(env.signer_did as string)
            ? undefined
            : fail("CLAIM_NOT_FOUND", "Attestation signer is not allowlisted", "signer_did")) ??
        Envelope.checkDidFormat(env.signer_did, "signer_did") ??
        Envelope.checkIssuedAt(env, ctx) ??
        Envelope.checkEncodings(env, ctx) ??
        (p.attester_did !== env.signer_did ? fail("SIGNATURE_INVALID", "attester_did must equal signer_did", "payload.attester_did") : undefined) ??
        Envelope.checkCrypto(env, ctx) ??
        (p.execution_type === "tee_execution" ? checkTee(p, options.tee) : undefined)
      )
    })()
  if (error !== undefined) return invalid(ctx.verifiedAt, error)
  const env = input as Record<string, unknown>
  return {
    status: "VALID",
    reason: "Execution attestation verified successfully",
    verified_at: ctx.verifiedAt,
    execution_type: (env.payload as Record<string, unknown>).execution_type as "sandbox_execution" | "tee_execution",
    signer_did: env.signer_did as string
  }
}

export const verify = (input: unknown, options: Options): AttestationResult => verifyWithCtx(input, options, Envelope.makeCtx(options))

/** The attestation must be about this bundle: agent, run and the bundle's payload hash. */
export const matchesBundle = (
  input: unknown,
  bundle: { readonly agentDid: string; readonly runId: string | undefined; readonly payloadHashB64u: string }
): VerificationError | undefined => {
  const p = (input as Record<string, unknown>).payload as Record<string, unknown>
  if (p.agent_did !== bundle.agentDid) return fail("HASH_MISMATCH", "Attestation agent_did does not match the bundle", "payload.agent_did")
  if (p.run_id !== bundle.runId) return fail("HASH_MISMATCH", "Attestation run_id does not match the bundle", "payload.run_id")
  if (p.proof_bundle_hash_b64u !== bundle.payloadHashB64u) {
    return fail("HASH_MISMATCH", "Attestation is for another bundle", "payload.proof_bundle_hash_b64u")
  }
  return undefined
}
