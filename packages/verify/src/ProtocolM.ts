/**
 * Legacy "Protocol M" (`version: "m1"`) signatures: `commit.sig.json` commit signatures and m1
 * artifact signatures. Unlike envelopes, the Ed25519 signature covers
 * UTF-8(JCS({...object, signature: ""})) (every field, extras included) and is written in
 * standard base64 with padding.
 *
 * Commit-signature order (reference CLI, §3.2): object (MALFORMED_ENVELOPE) → version "m1"
 * (UNKNOWN_VERSION) → type (UNKNOWN_TYPE) → algo "ed25519" (UNKNOWN_ALGO) → message
 * `commit:<7-64 hex>` (COMMIT_MESSAGE_INVALID) → did:key (INVALID_DID_FORMAT) → signature
 * decodes to 64 bytes (MALFORMED_ENVELOPE) → Ed25519 (SIGNATURE_INVALID).
 *
 * Strict adds: a 32-byte did:key; the signature in canonical base64; `createdAt` an RFC 3339
 * date-time not after `verifyAt` plus the skew; a lower-case commit SHA.
 */
import * as Base64Url from "./Base64Url.js"
import * as DidKey from "./DidKey.js"
import * as Ed25519 from "./Ed25519.js"
import * as Envelope from "./Envelope.js"
import * as Hash from "./Hash.js"
import * as Jcs from "./Jcs.js"
import { type BaseResult, fail, invalid, isDateTime, isRecord, type VerificationError, shown } from "./Result.js"

export const COMMIT_MESSAGE = /^commit:([a-f0-9]{7,64})$/i
const STRICT_COMMIT_MESSAGE = /^commit:([a-f0-9]{7,64})$/

export interface M1Result extends BaseResult {
  readonly signer_did?: string
  readonly commit_sha?: string
}

/** The bytes an m1 object's signature covers. */
export const signingText = (obj: Record<string, unknown>): string | undefined => Jcs.canonicalize({ ...obj, signature: "" })

const checkM1Signature = (obj: Record<string, unknown>, ctx: Envelope.Ctx): VerificationError | undefined => {
  const key = DidKey.resolve(obj.did as string, ctx.strict)
  if (key === undefined) return fail("INVALID_DID_FORMAT", `Cannot resolve public key from DID: ${shown(obj.did)}`, "did")
  const sigText = obj.signature
  const sig = typeof sigText === "string" && sigText.length > 0 ? Base64Url.decodeStandardBase64(sigText) : undefined
  if (sig === undefined || sig.length !== Ed25519.SIGNATURE_LENGTH || (ctx.strict && Base64Url.encodeStandardBase64(sig) !== sigText)) {
    return fail("MALFORMED_ENVELOPE", "signature must be base64 of 64 bytes", "signature")
  }
  const text = signingText(obj)
  if (text === undefined) return fail("MALFORMED_ENVELOPE", "The object cannot be canonicalised", "signature")
  if (!ctx.backend.verify(key, Hash.utf8(text), sig)) return fail("SIGNATURE_INVALID", "Signature verification failed", "signature")
  return undefined
}

const checkCreatedAt = (obj: Record<string, unknown>, ctx: Envelope.Ctx): VerificationError | undefined => {
  if (!ctx.strict) return undefined
  if (!isDateTime(obj.createdAt)) return fail("MALFORMED_ENVELOPE", "createdAt must be an RFC 3339 date-time", "createdAt")
  if (Date.parse(obj.createdAt) > ctx.verifyAt + ctx.skewMs) return fail("MALFORMED_ENVELOPE", "createdAt is in the future", "createdAt")
  return undefined
}

/** Verifies an m1 `commit.sig.json` object. */
export const verifyCommitSignatureWithCtx = (input: unknown, ctx: Envelope.Ctx): M1Result => {
  const error = ((): VerificationError | undefined => {
    if (!isRecord(input)) return fail("MALFORMED_ENVELOPE", "Commit signature must be a JSON object")
    if (input.version !== "m1") return fail("UNKNOWN_VERSION", `Unknown version: ${shown(input.version)}`, "version")
    if (input.type !== "message_signature") return fail("UNKNOWN_TYPE", `Unknown type: ${shown(input.type)}`, "type")
    if (input.algo !== "ed25519") return fail("UNKNOWN_ALGO", `Unknown algorithm: ${shown(input.algo)}`, "algo")
    if (typeof input.message !== "string" || !(ctx.strict ? STRICT_COMMIT_MESSAGE : COMMIT_MESSAGE).test(input.message)) {
      return fail("COMMIT_MESSAGE_INVALID", "message must be commit:<7-64 hex characters>", "message")
    }
    if (typeof input.did !== "string" || DidKey.resolve(input.did, ctx.strict) === undefined) {
      return fail("INVALID_DID_FORMAT", `Invalid did:key: ${shown(input.did)}`, "did")
    }
    return checkCreatedAt(input, ctx) ?? checkM1Signature(input, ctx)
  })()
  if (error !== undefined) return invalid(ctx.verifiedAt, error)
  const obj = input as Record<string, unknown>
  return {
    status: "VALID",
    reason: "Commit signature verified successfully",
    verified_at: ctx.verifiedAt,
    signer_did: obj.did as string,
    commit_sha: COMMIT_MESSAGE.exec(obj.message as string)![1]!
  }
}

export const verifyCommitSignature = (input: unknown, options: Envelope.VerifyOptions): M1Result =>
  verifyCommitSignatureWithCtx(input, Envelope.makeCtx(options))

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")

/**
 * Verifies an m1 `artifact_signature` over the file's bytes: the signature over the JCS text, and
 * `hash.value` equal to the SHA-256 (hex) of `fileBytes` (HASH_MISMATCH).
 */
export const verifyArtifactSignature = (input: unknown, fileBytes: Uint8Array, options: Envelope.VerifyOptions): M1Result => {
  const ctx = Envelope.makeCtx(options)
  const error = ((): VerificationError | undefined => {
    if (!isRecord(input)) return fail("MALFORMED_ENVELOPE", "Artifact signature must be a JSON object")
    if (input.version !== "m1") return fail("UNKNOWN_VERSION", `Unknown version: ${shown(input.version)}`, "version")
    if (input.type !== "artifact_signature") return fail("UNKNOWN_TYPE", `Unknown type: ${shown(input.type)}`, "type")
    if (input.algo !== "ed25519") return fail("UNKNOWN_ALGO", `Unknown algorithm: ${shown(input.algo)}`, "algo")
    const h = input.hash
    if (!isRecord(h) || h.algo !== "sha256" || typeof h.value !== "string") return fail("MALFORMED_ENVELOPE", "hash must be {algo:'sha256', value}", "hash")
    if (h.value.toLowerCase() !== hex(Hash.sha256(fileBytes))) return fail("HASH_MISMATCH", "File hash does not match hash.value", "hash.value")
    if (typeof input.did !== "string" || DidKey.resolve(input.did, ctx.strict) === undefined) {
      return fail("INVALID_DID_FORMAT", `Invalid did:key: ${shown(input.did)}`, "did")
    }
    return checkCreatedAt(input, ctx) ?? checkM1Signature(input, ctx)
  })()
  if (error !== undefined) return invalid(ctx.verifiedAt, error)
  return { status: "VALID", reason: "Artifact signature verified successfully", verified_at: ctx.verifiedAt, signer_did: (input as Record<string, unknown>).did as string }
}
