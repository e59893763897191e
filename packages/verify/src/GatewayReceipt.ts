/**
 * Gateway receipts: a model gateway's signed statement that it relayed one LLM call. A receipt
 * raises a bundle to the `gateway` tier only when it verifies, its signer is allowlisted, and its
 * `binding` ties it to the bundle's run and one of the bundle's event hashes.
 *
 * Check order (reference §2.2): header → schema (SCHEMA_VALIDATION_FAILED) → DID format →
 * allowlist (none configured: DEPENDENCY_NOT_CONFIGURED; signer not listed: CLAIM_NOT_FOUND) →
 * issued_at → encodings → payload hardening (MALFORMED_ENVELOPE) → hash → DID → signature.
 */
import * as Base64Url from "./Base64Url.js"
import * as Envelope from "./Envelope.js"
import { validateNamed } from "./internal/JsonSchema.js"
import { type BaseResult, fail, invalid, isNonBlankString, isNonEmptyString, isRecord, parseTime, type VerificationError } from "./Result.js"

export interface Options extends Envelope.VerifyOptions {
  /** DIDs whose receipts are trusted. Empty or absent: DEPENDENCY_NOT_CONFIGURED. */
  readonly gatewaySignerDids?: ReadonlyArray<string>
}

export interface ReceiptResult extends BaseResult {
  readonly envelope_type?: string
  readonly signer_did?: string
  readonly provider?: string
  readonly model?: string
  readonly gateway_id?: string
}

const intIn = (v: unknown, max: number): boolean => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max

const checkPayload = (p: unknown): VerificationError | undefined => {
  const bad = (m: string, f: string) => fail("MALFORMED_ENVELOPE", m, `payload.${f}`)
  if (!isRecord(p)) return fail("MALFORMED_ENVELOPE", "payload must be an object", "payload")
  if (p.receipt_version !== "1") return bad("receipt_version must be \"1\"", "receipt_version")
  for (const f of ["receipt_id", "gateway_id", "provider", "model"]) {
    if (!isNonEmptyString(p[f])) return bad(`${f} must be a non-empty string`, f)
  }
  for (const f of ["request_hash_b64u", "response_hash_b64u"]) {
    if (typeof p[f] !== "string" || !Base64Url.isAlphabet(p[f])) return bad(`${f} must be base64url`, f)
  }
  if (!intIn(p.tokens_input, 10_000_000)) return bad("tokens_input out of range", "tokens_input")
  if (!intIn(p.tokens_output, 10_000_000)) return bad("tokens_output out of range", "tokens_output")
  if (!intIn(p.latency_ms, 3_600_000)) return bad("latency_ms out of range", "latency_ms")
  if (parseTime(p.timestamp) === undefined) return bad("timestamp is invalid", "timestamp")
  return undefined
}

/** Verifies one gateway receipt envelope against a resolved context. */
export const verifyWithCtx = (input: unknown, allowlist: ReadonlyArray<string> | undefined, ctx: Envelope.Ctx): ReceiptResult => {
  const error =
    Envelope.checkHeader(input, "gateway_receipt", ctx) ??
    (() => {
      const env = input as Record<string, unknown>
      const schema = validateNamed("gateway_receipt_envelope.v1", env)
      if (schema !== undefined) return fail("SCHEMA_VALIDATION_FAILED", `Schema validation failed: ${schema.message}`, schema.path)
      return (
        Envelope.checkDidFormat(env.signer_did, "signer_did") ??
        (allowlist === undefined || allowlist.length === 0
          ? fail("DEPENDENCY_NOT_CONFIGURED", "No gateway receipt signer allowlist is configured", "signer_did")
          : allowlist.includes(env.signer_did as string)
            ? undefined
            : fail("CLAIM_NOT_FOUND", "Receipt signer is not an allowlisted gateway", "signer_did")) ??
        Envelope.checkIssuedAt(env, ctx) ??
        (ctx.strict ? Envelope.checkExpiresAt(env, ctx) : undefined) ??
        Envelope.checkEncodings(env, ctx) ??
        checkPayload(env.payload) ??
        Envelope.checkCrypto(env, ctx)
      )
    })()
  if (error !== undefined) return invalid(ctx.verifiedAt, error)
  const env = input as Record<string, unknown>
  const p = env.payload as Record<string, unknown>
  return {
    status: "VALID",
    reason: "Gateway receipt verified successfully",
    verified_at: ctx.verifiedAt,
    envelope_type: "gateway_receipt",
    signer_did: env.signer_did as string,
    provider: p.provider as string,
    model: p.model as string,
    gateway_id: p.gateway_id as string
  }
}

/** Verifies a standalone gateway receipt envelope. */
export const verify = (input: unknown, options: Options): ReceiptResult =>
  verifyWithCtx(input, options.gatewaySignerDids, Envelope.makeCtx(options))

/** What a receipt must be bound to: the bundle's run and its event hashes. */
export interface BindingContext {
  readonly runId: string
  readonly eventHashes: ReadonlySet<string>
}

/** True when the receipt's `payload.binding` names the run and one of the bundle's events. */
export const isBound = (receipt: unknown, context: BindingContext | undefined): boolean => {
  if (context === undefined || !isRecord(receipt) || !isRecord(receipt.payload)) return false
  const b = receipt.payload.binding
  if (!isRecord(b)) return false
  if (!isNonBlankString(b.run_id) || b.run_id !== context.runId) return false
  const h = b.event_hash_b64u
  return typeof h === "string" && h.length >= 8 && Base64Url.isAlphabet(h) && context.eventHashes.has(h)
}

/** True when the receipt carries a non-empty `binding.event_hash_b64u` (the CLI's strict count). */
export const hasEventBinding = (receipt: unknown): boolean =>
  isRecord(receipt) && receipt.envelope_type === "gateway_receipt" && isRecord(receipt.payload) &&
  isRecord(receipt.payload.binding) && isNonEmptyString(receipt.payload.binding.event_hash_b64u)
