/**
 * Derivation and audit-result attestation envelopes (carried in export bundles): the generic
 * pipeline plus the type's schema and a signer allowlist.
 *
 * Order: header → schema (SCHEMA_VALIDATION_FAILED) → DID format → allowlist
 * (DEPENDENCY_NOT_CONFIGURED / CLAIM_NOT_FOUND) → issued_at → encodings → hash → signature.
 */
import * as Envelope from "./Envelope.js"
import { validateNamed } from "./internal/JsonSchema.js"
import { fail, invalid } from "./Result.js"

export type Kind = "derivation_attestation" | "audit_result_attestation"

export const verifyWithCtx = (input: unknown, kind: Kind, allowlist: ReadonlyArray<string> | undefined, ctx: Envelope.Ctx): Envelope.EnvelopeResult => {
  const error =
    Envelope.checkHeader(input, kind, ctx) ??
    (() => {
      const env = input as Record<string, unknown>
      const schema = validateNamed(`${kind}_envelope.v1`, env)
      if (schema !== undefined) return fail("SCHEMA_VALIDATION_FAILED", `Schema validation failed: ${schema.message}`, schema.path)
      return (
        Envelope.checkDidFormat(env.signer_did, "signer_did") ??
        (!allowlist?.length
          ? fail("DEPENDENCY_NOT_CONFIGURED", `No ${kind} signer allowlist is configured`, "signer_did")
          : allowlist.includes(env.signer_did as string)
            ? undefined
            : fail("CLAIM_NOT_FOUND", "Attestation signer is not allowlisted", "signer_did")) ??
        Envelope.checkIssuedAt(env, ctx) ??
        (ctx.strict ? Envelope.checkExpiresAt(env, ctx) : undefined) ??
        Envelope.checkEncodings(env, ctx) ??
        Envelope.checkCrypto(env, ctx)
      )
    })()
  if (error !== undefined) return invalid(ctx.verifiedAt, error)
  const env = input as Record<string, unknown>
  return { status: "VALID", reason: "Attestation verified successfully", verified_at: ctx.verifiedAt, envelope_type: kind, signer_did: env.signer_did as string }
}
