/**
 * Export bundles: a signed, self-contained package of a proof bundle and its attestations for
 * offline audit. Unlike envelopes, the bundle hash is SHA-256 over **JCS** of the signable view
 * `{export_version, export_id, created_at, issuer_did, manifest, artifacts, issued_at,
 * expires_at?, metadata?}`, and the issuer signs UTF-8(bundle_hash_b64u).
 *
 * Order (reference §2.8): schema (SCHEMA_VALIDATION_FAILED) → issuer format (INVALID_DID_FORMAT)
 * → dates → created_at ≤ issued_at (CAUSAL_CLOCK_CONTRADICTION) → issued_at not beyond
 * verifyAt + skew, default 5 min (FUTURE_TIMESTAMP_POISONING) → expires_at (EXPIRED_TTL) →
 * manifest (see Manifest) → bundle hash (HASH_MISMATCH) → signature (SIGNATURE_INVALID) → nested
 * proof bundle → attestations (allowlisted) → execution attestations match the bundle
 * (HASH_MISMATCH).
 */
import * as AttestationEnvelope from "./AttestationEnvelope.js"
import * as Envelope from "./Envelope.js"
import * as ExecutionAttestation from "./ExecutionAttestation.js"
import * as Hash from "./Hash.js"
import * as Jcs from "./Jcs.js"
import * as Manifest from "./Manifest.js"
import * as ProofBundle from "./ProofBundle.js"
import { validateNamed } from "./internal/JsonSchema.js"
import { type BaseResult, fail, invalid, isRecord, parseTime, type VerificationError } from "./Result.js"

export const DEFAULT_FUTURE_SKEW_MS = 300_000

export interface Options extends ProofBundle.Options {
  readonly derivationAttestationSignerDids?: ReadonlyArray<string>
  readonly auditResultAttestationSignerDids?: ReadonlyArray<string>
  /** Tolerance for a future `issued_at` (default 5 minutes). */
  readonly futureSkewMs?: number
}

export interface ExportBundleResult extends BaseResult {
  readonly export_id?: string
  readonly issuer_did?: string
  readonly proof_bundle?: ProofBundle.ProofBundleResult
}

/** The object whose JCS is hashed into `bundle_hash_b64u`. */
export const signableView = (b: Record<string, unknown>): Record<string, unknown> => {
  const view: Record<string, unknown> = {
    export_version: b.export_version,
    export_id: b.export_id,
    created_at: b.created_at,
    issuer_did: b.issuer_did,
    manifest: b.manifest,
    artifacts: b.artifacts,
    issued_at: b.issued_at
  }
  if (b.expires_at !== undefined) view.expires_at = b.expires_at
  if (b.metadata !== undefined) view.metadata = b.metadata
  return view
}

export const bundleHash = (b: Record<string, unknown>): string | undefined => {
  const text = Jcs.canonicalize(signableView(b))
  return text === undefined ? undefined : Hash.sha256B64uOfString(text)
}

export const verify = (input: unknown, options: Options): ExportBundleResult => {
  const ctx = Envelope.makeCtx(options)
  const b = isRecord(input) && isRecord(input.bundle) ? input.bundle : input
  let nested: ProofBundle.ProofBundleResult | undefined
  const error = ((): VerificationError | undefined => {
    const schema = validateNamed("export_bundle.v1", b)
    if (schema !== undefined) return fail("SCHEMA_VALIDATION_FAILED", `Schema validation failed: ${schema.message}`, schema.path)
    const bundle = b as Record<string, unknown>
    const didError = Envelope.checkDidFormat(bundle.issuer_did, "issuer_did")
    if (didError) return didError
    const created = parseTime(bundle.created_at), issued = parseTime(bundle.issued_at)
    if (created === undefined || issued === undefined) return fail("MALFORMED_ENVELOPE", "created_at and issued_at must be date-times", "issued_at")
    if (created > issued) return fail("CAUSAL_CLOCK_CONTRADICTION", "created_at is after issued_at", "created_at")
    if (issued > ctx.verifyAt + (options.futureSkewMs ?? DEFAULT_FUTURE_SKEW_MS)) return fail("FUTURE_TIMESTAMP_POISONING", "issued_at is in the future", "issued_at")
    const expiry = Envelope.checkExpiresAt(bundle, ctx)
    if (expiry) return expiry
    const artifacts = bundle.artifacts as Record<string, unknown>
    const manifestError = Manifest.check(bundle.manifest, artifacts, "manifest")
    if (manifestError) return manifestError
    if (bundleHash(bundle) !== bundle.bundle_hash_b64u) return fail("HASH_MISMATCH", "bundle_hash_b64u does not match the bundle", "bundle_hash_b64u")
    if (ctx.strict) {
      const enc = Envelope.checkEncodings({ payload_hash_b64u: bundle.bundle_hash_b64u, signature_b64u: bundle.signature_b64u }, ctx)
      if (enc) return enc
    }
    const sig = Envelope.checkSignatureOver(bundle.issuer_did as string, bundle.bundle_hash_b64u as string, bundle.signature_b64u as string, ctx)
    if (sig) return sig
    nested = ProofBundle.verify(artifacts.proof_bundle_envelope, options)
    if (nested.status === "INVALID") return { ...nested.error!, field: `artifacts.proof_bundle_envelope${nested.error?.field ? `.${nested.error.field}` : ""}` }
    for (const [kind, list, allow] of [
      ["derivation_attestation", artifacts.derivation_attestation_envelopes, options.derivationAttestationSignerDids],
      ["audit_result_attestation", artifacts.audit_result_attestation_envelopes, options.auditResultAttestationSignerDids]
    ] as const) {
      if (!Array.isArray(list)) continue
      for (let i = 0; i < list.length; i++) {
        const r = AttestationEnvelope.verifyWithCtx(list[i], kind, allow, ctx)
        if (r.error) return { ...r.error, field: `artifacts.${kind}_envelopes[${i}]${r.error.field ? `.${r.error.field}` : ""}` }
      }
    }
    const execs = Array.isArray(artifacts.execution_attestation_envelopes) ? artifacts.execution_attestation_envelopes : []
    for (let i = 0; i < execs.length; i++) {
      const r = ExecutionAttestation.verifyWithCtx(execs[i], { ...options, signerDids: options.executionAttestationSignerDids ?? [] }, ctx)
      const e = r.error ?? ExecutionAttestation.matchesBundle(execs[i], { agentDid: nested.agent_did!, runId: nested.run_id, payloadHashB64u: nested.payload_hash_b64u! })
      if (e) return { ...e, field: `artifacts.execution_attestation_envelopes[${i}]${e.field ? `.${e.field}` : ""}` }
    }
    return undefined
  })()
  if (error !== undefined) return { ...invalid(ctx.verifiedAt, error), ...(nested ? { proof_bundle: nested } : {}) }
  const bundle = b as Record<string, unknown>
  return {
    status: "VALID",
    reason: "Export bundle verified successfully",
    verified_at: ctx.verifiedAt,
    export_id: bundle.export_id as string,
    issuer_did: bundle.issuer_did as string,
    ...(nested ? { proof_bundle: nested } : {})
  }
}
