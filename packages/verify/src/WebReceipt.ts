/**
 * Witnessed web receipts: a witness's signed statement about a web (not API) interaction; one that
 * verifies and is bound to the bundle gives the `witnessed_web` tier.
 *
 * Order: header → schema `web_receipt_envelope.v1` (SCHEMA_VALIDATION_FAILED) → DID format →
 * witness allowlist (DEPENDENCY_NOT_CONFIGURED / CLAIM_NOT_FOUND) → issued_at → encodings → hash →
 * signature.
 */
import * as Envelope from "./Envelope.js"
import { validateNamed } from "./internal/JsonSchema.js"
import { fail, invalid } from "./Result.js"

export interface Options extends Envelope.VerifyOptions {
  readonly witnessSignerDids?: ReadonlyArray<string>
}

export interface WebReceiptResult extends Envelope.EnvelopeResult {
  readonly proof_tier?: "witnessed_web"
}

export const verify = (input: unknown, options: Options): WebReceiptResult => {
  const ctx = Envelope.makeCtx(options)
  const error =
    Envelope.checkHeader(input, "web_receipt", ctx) ??
    (() => {
      const env = input as Record<string, unknown>
      const schema = validateNamed("web_receipt_envelope.v1", env)
      if (schema !== undefined) return fail("SCHEMA_VALIDATION_FAILED", `Schema validation failed: ${schema.message}`, schema.path)
      const allow = options.witnessSignerDids
      return (
        Envelope.checkDidFormat(env.signer_did, "signer_did") ??
        (!allow?.length
          ? fail("DEPENDENCY_NOT_CONFIGURED", "No web receipt witness allowlist is configured", "signer_did")
          : allow.includes(env.signer_did as string)
            ? undefined
            : fail("CLAIM_NOT_FOUND", "Witness is not allowlisted", "signer_did")) ??
        Envelope.checkIssuedAt(env, ctx) ??
        (ctx.strict ? Envelope.checkExpiresAt(env, ctx) : undefined) ??
        Envelope.checkEncodings(env, ctx) ??
        Envelope.checkCrypto(env, ctx)
      )
    })()
  if (error !== undefined) return invalid(ctx.verifiedAt, error)
  const env = input as Record<string, unknown>
  return {
    status: "VALID",
    reason: "Web receipt verified successfully",
    verified_at: ctx.verifiedAt,
    envelope_type: "web_receipt",
    signer_did: env.signer_did as string,
    proof_tier: "witnessed_web"
  }
}
