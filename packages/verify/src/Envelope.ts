/**
 * Signed envelopes, as the reference protocol defines them, and the generic single-envelope
 * verifier.
 *
 * ```
 * payload_hash_b64u = b64u(SHA-256(UTF-8(JSON.stringify(payload))))   // not JCS: parse order
 * signature_b64u    = b64u(Ed25519(sk, UTF-8(payload_hash_b64u)))     // 43 ASCII bytes signed
 * ```
 *
 * The checks run in the reference's order, the first failure wins, so error codes match:
 * 1. the nine fields present → MALFORMED_ENVELOPE
 * 2. envelope_version "1" → UNKNOWN_ENVELOPE_VERSION
 * 3. envelope_type allowlisted, then equal to the expected type → UNKNOWN_ENVELOPE_TYPE
 * 4. algorithm "Ed25519" → UNKNOWN_ALGORITHM; hash_algorithm → UNKNOWN_HASH_ALGORITHM
 * 5. signer_did format → INVALID_DID_FORMAT
 * 6. issued_at parses → MALFORMED_ENVELOPE
 * 7. hash and signature are base64url → MALFORMED_ENVELOPE
 * 8. payload shape for the type → MALFORMED_ENVELOPE (message: expired → EXPIRED)
 * 9. recomputed hash → HASH_MISMATCH; did:key → INVALID_DID_FORMAT; Ed25519 → SIGNATURE_INVALID
 *
 * Strict mode (default) adds, see README: BLAKE3 is refused as UNKNOWN_HASH_ALGORITHM (the
 * reference allowlists it and then fails HASH_MISMATCH); hash and signature must be canonical
 * base64url of 32 and 64 bytes; the DID must hold exactly 32 key bytes; `expires_at` is enforced
 * for every envelope type (EXPIRED_TTL), where the reference ignores it outside bundles.
 *
 * **Marketplace entry point (DID registration):** {@link verifyChallengeResponse} verifies a
 * `message_signature` envelope over a server-issued challenge.
 */
import * as Base64Url from "./Base64Url.js"
import * as DidKey from "./DidKey.js"
import * as Ed25519 from "./Ed25519.js"
import * as EventChain from "./EventChain.js"
import * as Hash from "./Hash.js"
import { type BaseResult, type CommonOptions, fail, invalid, isDateTime, isNonEmptyString, isoAt, isRecord, type Mode, parseTime, type VerificationError, shown } from "./Result.js"

export const ENVELOPE_VERSIONS: ReadonlyArray<string> = ["1"]
export const ALGORITHMS: ReadonlyArray<string> = ["Ed25519"]
/** The reference allowlists BLAKE3 but never implements it. */
export const HASH_ALGORITHMS: ReadonlyArray<string> = ["SHA-256", "BLAKE3"]

/** The reference core's envelope-type allowlist. */
export const ENVELOPE_TYPES = [
  "artifact_signature",
  "message_signature",
  "gateway_receipt",
  "web_receipt",
  "proof_bundle",
  "event_chain",
  "owner_attestation",
  "commit_proof",
  "execution_attestation",
  "derivation_attestation",
  "audit_result_attestation",
  "export_bundle",
  "aggregate_bundle",
  "compiled_evidence_report",
  "scoped_token",
  "policy_bundle",
  "tool_receipt",
  "side_effect_receipt",
  "human_approval_receipt"
] as const
export type EnvelopeType = (typeof ENVELOPE_TYPES)[number]
const envelopeTypeSet: ReadonlySet<string> = new Set(ENVELOPE_TYPES)

export const REQUIRED_FIELDS = [
  "envelope_version",
  "envelope_type",
  "payload",
  "payload_hash_b64u",
  "hash_algorithm",
  "signature_b64u",
  "algorithm",
  "signer_did",
  "issued_at"
] as const

/** A signed envelope (after the structural checks). */
export interface SignedEnvelope<P = unknown> {
  readonly envelope_version: string
  readonly envelope_type: string
  readonly payload: P
  readonly payload_hash_b64u: string
  readonly hash_algorithm: string
  readonly signature_b64u: string
  readonly algorithm: string
  readonly signer_did: string
  readonly issued_at: string
  readonly expires_at?: string
}

export interface VerifyOptions extends CommonOptions {
  /** Ed25519 backend; default node:crypto. */
  readonly backend?: Ed25519.Backend
}

/** The resolved options every step reads. */
export interface Ctx {
  readonly mode: Mode
  readonly strict: boolean
  readonly verifyAt: number
  readonly verifiedAt: string
  readonly skewMs: number
  readonly backend: Ed25519.Backend
}

export const makeCtx = (options: VerifyOptions): Ctx => {
  const mode = options.mode ?? "strict"
  return {
    mode,
    strict: mode === "strict",
    verifyAt: options.verifyAt,
    verifiedAt: isoAt(options.verifyAt),
    skewMs: options.ttlSkewMs ?? 0,
    backend: options.backend ?? Ed25519.nodeBackend
  }
}

// ---------------------------------------------------------------------------------------------
// The individual steps, exported so the bundle verifiers can run them in their own order.

/** True when the input has the reference's envelope shape marker (proof bundles use this). */
export const looksLikeEnvelope = (input: unknown): input is Record<string, unknown> =>
  isRecord(input) && "envelope_version" in input && "payload" in input && "signature_b64u" in input

export const checkPresence = (input: unknown): VerificationError | undefined => {
  if (!isRecord(input)) return fail("MALFORMED_ENVELOPE", "Envelope must be a JSON object")
  for (const key of REQUIRED_FIELDS) {
    if (!(key in input)) return fail("MALFORMED_ENVELOPE", `Missing required field: ${key}`, key)
  }
  return undefined
}

export const checkVersionAndType = (
  env: Record<string, unknown>,
  expectedType: string | undefined,
  versions: ReadonlyArray<string> = ENVELOPE_VERSIONS
): VerificationError | undefined => {
  if (typeof env.envelope_version !== "string" || !versions.includes(env.envelope_version)) {
    return fail("UNKNOWN_ENVELOPE_VERSION", `Unknown envelope version: ${shown(env.envelope_version)}`, "envelope_version")
  }
  if (typeof env.envelope_type !== "string" || !envelopeTypeSet.has(env.envelope_type)) {
    return fail("UNKNOWN_ENVELOPE_TYPE", `Unknown envelope type: ${shown(env.envelope_type)}`, "envelope_type")
  }
  if (expectedType !== undefined && env.envelope_type !== expectedType) {
    return fail("UNKNOWN_ENVELOPE_TYPE", `Expected envelope_type ${expectedType}, got ${env.envelope_type}`, "envelope_type")
  }
  return undefined
}

export const checkAlgorithms = (env: Record<string, unknown>, ctx: Ctx): VerificationError | undefined => {
  if (typeof env.algorithm !== "string" || !ALGORITHMS.includes(env.algorithm)) {
    return fail("UNKNOWN_ALGORITHM", `Unknown signature algorithm: ${shown(env.algorithm)}`, "algorithm")
  }
  const allowed = ctx.strict ? env.hash_algorithm === "SHA-256" : HASH_ALGORITHMS.includes(env.hash_algorithm as string)
  if (!allowed) {
    return fail("UNKNOWN_HASH_ALGORITHM", `Unknown hash algorithm: ${shown(env.hash_algorithm)}`, "hash_algorithm")
  }
  return undefined
}

/** Steps 1-4: presence, version, type, algorithms. */
export const checkHeader = (input: unknown, expectedType: string | undefined, ctx: Ctx): VerificationError | undefined =>
  checkPresence(input) ??
  checkVersionAndType(input as Record<string, unknown>, expectedType) ??
  checkAlgorithms(input as Record<string, unknown>, ctx)

export const checkDidFormat = (did: unknown, field: string): VerificationError | undefined =>
  DidKey.isWellFormed(did) ? undefined : fail("INVALID_DID_FORMAT", `Invalid DID format: ${shown(did)}`, field)

export const checkIssuedAt = (env: Record<string, unknown>, ctx: Ctx): VerificationError | undefined => {
  const ok = ctx.strict ? isDateTime(env.issued_at) : parseTime(env.issued_at) !== undefined
  return ok ? undefined : fail("MALFORMED_ENVELOPE", "issued_at is not a valid date-time", "issued_at")
}

/** `expires_at` (optional): must parse, and `verifyAt` must not be past it plus the skew. */
export const checkExpiresAt = (env: Record<string, unknown>, ctx: Ctx): VerificationError | undefined => {
  if (env.expires_at === undefined) return undefined
  const t = ctx.strict && !isDateTime(env.expires_at) ? undefined : parseTime(env.expires_at)
  if (t === undefined) return fail("MALFORMED_ENVELOPE", "expires_at is not a valid date-time", "expires_at")
  if (ctx.verifyAt > t + ctx.skewMs) return fail("EXPIRED_TTL", `Envelope expired at ${shown(env.expires_at)}`, "expires_at")
  return undefined
}

/**
 * Step 7: hash and signature encodings. Compat: the reference's alphabet regex. Strict: canonical
 * base64url of exactly 32 (hash) and 64 (signature) bytes.
 */
export const checkEncodings = (env: Record<string, unknown>, ctx: Ctx): VerificationError | undefined => {
  for (const [field, size] of [["payload_hash_b64u", 32], ["signature_b64u", 64]] as const) {
    const value = env[field]
    if (typeof value !== "string" || !Base64Url.isAlphabet(value)) {
      return fail("MALFORMED_ENVELOPE", `${field} is not base64url`, field)
    }
    if (ctx.strict) {
      const bytes = Base64Url.decode(value)
      if (bytes === undefined) return fail("MALFORMED_ENVELOPE", `${field} is not canonical base64url`, field)
      if (bytes.length !== size) return fail("MALFORMED_ENVELOPE", `${field} must encode ${size} bytes`, field)
    }
  }
  return undefined
}

/** Step 9a: recompute `b64u(SHA-256(JSON.stringify(payload)))`. */
export const checkHash = (env: Record<string, unknown>, _ctx: Ctx): VerificationError | undefined => {
  // Compat: BLAKE3 passed the allowlist but is not implemented: the reference fails here.
  if (env.hash_algorithm !== "SHA-256") {
    return fail("HASH_MISMATCH", `Hash algorithm ${shown(env.hash_algorithm)} is not implemented`, "payload_hash_b64u")
  }
  const computed = Hash.jsonHashB64u(env.payload)
  if (computed === undefined || computed !== env.payload_hash_b64u) {
    return fail("HASH_MISMATCH", "Computed payload hash does not match envelope hash", "payload_hash_b64u")
  }
  return undefined
}

/** Verifies `signatureB64u` by `did` over UTF-8(`signedText`). Returns the DID/signature failure. */
export const checkSignatureOver = (
  did: string,
  signedText: string,
  signatureB64u: string,
  ctx: Ctx,
  field = "signature_b64u"
): VerificationError | undefined => {
  const key = DidKey.resolve(did, ctx.strict)
  if (key === undefined) return fail("INVALID_DID_FORMAT", `Cannot resolve public key from DID: ${did}`, "signer_did")
  const signature = ctx.strict ? Base64Url.decode(signatureB64u) : Base64Url.decodeLax(signatureB64u)
  if (signature === undefined || !ctx.backend.verify(key, Hash.utf8(signedText), signature)) {
    return fail("SIGNATURE_INVALID", "Signature verification failed", field)
  }
  return undefined
}

/** Step 9b/c: the signer's key signs UTF-8(payload_hash_b64u). */
export const checkSignature = (env: Record<string, unknown>, ctx: Ctx): VerificationError | undefined =>
  checkSignatureOver(env.signer_did as string, env.payload_hash_b64u as string, env.signature_b64u as string, ctx)

/** Steps 9a-c. */
export const checkCrypto = (env: Record<string, unknown>, ctx: Ctx): VerificationError | undefined =>
  checkHash(env, ctx) ?? checkSignature(env, ctx)

// ---------------------------------------------------------------------------------------------
// Generic single-envelope verification.

export interface EnvelopeResult extends BaseResult {
  readonly envelope_type?: string
  readonly signer_did?: string
}

/** A payload check for step 8, returning the first problem. */
export type PayloadCheck = (payload: unknown, env: Record<string, unknown>, ctx: Ctx) => VerificationError | undefined

const malformed = (message: string, field: string) => fail("MALFORMED_ENVELOPE", message, field)

/** artifact_signature payload: the reference's field checks (extra fields allowed). */
export const checkArtifactPayload: PayloadCheck = (p) => {
  if (!isRecord(p)) return malformed("payload must be an object", "payload")
  if (p.artifact_version !== "1") return malformed("artifact_version must be \"1\"", "payload.artifact_version")
  for (const f of ["artifact_id", "artifact_type", "content_hash_b64u", "content_type"]) {
    if (typeof p[f] !== "string") return malformed(`${f} must be a string`, `payload.${f}`)
  }
  if (typeof p.content_size_bytes !== "number") return malformed("content_size_bytes must be a number", "payload.content_size_bytes")
  return undefined
}

export const MESSAGE_TYPES: ReadonlyArray<string> = ["account_binding", "ownership_proof", "challenge_response"]

/** message_signature payload; an expired `payload.expires_at` → EXPIRED. */
export const checkMessagePayload: PayloadCheck = (p, _env, ctx) => {
  if (!isRecord(p)) return malformed("payload must be an object", "payload")
  if (p.message_version !== "1") return malformed("message_version must be \"1\"", "payload.message_version")
  if (typeof p.message_type !== "string" || !MESSAGE_TYPES.includes(p.message_type)) {
    return malformed(`message_type must be one of ${MESSAGE_TYPES.join(", ")}`, "payload.message_type")
  }
  if (!isNonEmptyString(p.message)) return malformed("message must be a non-empty string", "payload.message")
  if (!isNonEmptyString(p.nonce)) return malformed("nonce must be a non-empty string", "payload.nonce")
  if (p.audience !== undefined && typeof p.audience !== "string") return malformed("audience must be a string", "payload.audience")
  if (p.expires_at !== undefined) {
    const t = ctx.strict && !isDateTime(p.expires_at) ? undefined : parseTime(p.expires_at)
    if (t === undefined) return malformed("expires_at is not a valid date-time", "payload.expires_at")
    if (t + ctx.skewMs < ctx.verifyAt) return fail("EXPIRED", "Message has expired", "payload.expires_at")
  }
  return undefined
}

/** event_chain payload: the reference's shape (chain_version "1", chain_id, run_id, events[]). */
export const checkEventChainPayload: PayloadCheck = (p) => {
  if (!isRecord(p)) return malformed("payload must be an object", "payload")
  if (p.chain_version !== "1") return malformed("chain_version must be \"1\"", "payload.chain_version")
  if (!isNonEmptyString(p.chain_id)) return malformed("chain_id must be a non-empty string", "payload.chain_id")
  if (!isNonEmptyString(p.run_id)) return malformed("run_id must be a non-empty string", "payload.run_id")
  if (!Array.isArray(p.events)) return malformed("events must be an array", "payload.events")
  return undefined
}

/**
 * After the signature, as the reference: the events are a linked chain of the payload's run
 * (MALFORMED_ENVELOPE). Strict also recomputes each event's hash (HASH_MISMATCH); the reference's
 * event_chain endpoint does not.
 */
export const checkEventChainLinks = (env: Record<string, unknown>, ctx: Ctx): VerificationError | undefined => {
  const p = env.payload as Record<string, unknown>
  const events = p.events as ReadonlyArray<unknown>
  const e = EventChain.check(events, "payload.events", { strict: ctx.strict, recompute: ctx.strict })
  if (e !== undefined) return e
  const first = events[0] as Record<string, unknown>
  return first.run_id === p.run_id ? undefined : malformed("The events' run_id differs from the chain's run_id", "payload.events[0].run_id")
}

const payloadChecks: Partial<Record<string, PayloadCheck>> = {
  artifact_signature: checkArtifactPayload,
  message_signature: checkMessagePayload,
  event_chain: checkEventChainPayload
}

const afterSignatureChecks: Partial<Record<string, (env: Record<string, unknown>, ctx: Ctx) => VerificationError | undefined>> = {
  event_chain: checkEventChainLinks
}

/** Registers the payload check for an envelope type (used by CommitProof and EventChain). */
export const registerPayloadCheck = (type: string, check: PayloadCheck): void => {
  payloadChecks[type] = check
}

/**
 * The generic pipeline (§2.1 of the reference study) with a payload check and an optional check
 * run after the payload check and before the hash (commit proofs use it for the claim allowlist).
 */
export const verifyWith = (
  input: unknown,
  expectedType: string | undefined,
  ctx: Ctx,
  payloadCheck: PayloadCheck | undefined,
  beforeCrypto?: (env: Record<string, unknown>) => VerificationError | undefined,
  afterSignature?: (env: Record<string, unknown>) => VerificationError | undefined
): EnvelopeResult => {
  const error =
    checkHeader(input, expectedType, ctx) ??
    (() => {
      const env = input as Record<string, unknown>
      return (
        checkDidFormat(env.signer_did, "signer_did") ??
        checkIssuedAt(env, ctx) ??
        (ctx.strict ? checkExpiresAt(env, ctx) : undefined) ??
        checkEncodings(env, ctx) ??
        payloadCheck?.(env.payload, env, ctx) ??
        beforeCrypto?.(env) ??
        checkCrypto(env, ctx) ??
        afterSignature?.(env)
      )
    })()
  if (error !== undefined) return invalid(ctx.verifiedAt, error)
  const env = input as Record<string, unknown>
  return {
    status: "VALID",
    reason: "Envelope signature verified successfully",
    verified_at: ctx.verifiedAt,
    envelope_type: env.envelope_type as string,
    signer_did: env.signer_did as string
  }
}

export interface VerifyEnvelopeOptions extends VerifyOptions {
  /** The envelope type this call accepts (the reference's per-endpoint type). */
  readonly expectedType?: string
}

/**
 * Verifies one signed envelope: header, signer, payload shape for the known types
 * (artifact_signature, message_signature, commit_proof, event_chain) and the signature.
 * Bundles and receipts have their own verifiers (ProofBundle, GatewayReceipt, ...).
 */
export const verifyEnvelope = (input: unknown, options: VerifyEnvelopeOptions): EnvelopeResult => {
  const ctx = makeCtx(options)
  const type = options.expectedType ?? (isRecord(input) && typeof input.envelope_type === "string" ? input.envelope_type : undefined)
  const after = type === undefined ? undefined : afterSignatureChecks[type]
  return verifyWith(input, options.expectedType, ctx, type === undefined ? undefined : payloadChecks[type], undefined, after && ((env) => after(env, ctx)))
}

/** An `artifact_signature` envelope (the agent-pack bundle's signature, among others). */
export const verifyArtifact = (input: unknown, options: VerifyOptions): EnvelopeResult =>
  verifyWith(input, "artifact_signature", makeCtx(options), checkArtifactPayload)

/** A `message_signature` envelope, without challenge binding (see {@link verifyChallengeResponse}). */
export const verifyMessage = (input: unknown, options: VerifyOptions): EnvelopeResult =>
  verifyWith(input, "message_signature", makeCtx(options), checkMessagePayload)

/** The challenge a server issued and expects signed. */
export interface Challenge {
  /** The nonce the server issued; the payload's `nonce` must equal it. */
  readonly nonce: string
  /** When set, the payload's `message` must equal it. */
  readonly message?: string
  /** When set, the payload's `audience` must equal it. */
  readonly audience?: string
  /** When set, the envelope must be signed by this DID. */
  readonly signerDid?: string
}

/**
 * **Marketplace entry point (DID registration, strict by default).** Verifies a
 * `message_signature` envelope that answers a server challenge: the envelope verifies as a
 * message, and its nonce (and message, audience and signer when given) equal the challenge's,
 * else CHALLENGE_MISMATCH. The signature proves control of `signer_did`'s key; the nonce makes the
 * proof fresh. Replay protection (each nonce used once) is the caller's: remember used nonces.
 */
export const verifyChallengeResponse = (input: unknown, challenge: Challenge, options: VerifyOptions): EnvelopeResult => {
  const ctx = makeCtx(options)
  const mismatch = (what: string, field: string) => fail("CHALLENGE_MISMATCH", `The ${what} does not match the challenge`, field)
  return verifyWith(input, "message_signature", ctx, checkMessagePayload, (env) => {
    const p = env.payload as Record<string, unknown>
    if (p.nonce !== challenge.nonce) return mismatch("nonce", "payload.nonce")
    if (challenge.message !== undefined && p.message !== challenge.message) return mismatch("message", "payload.message")
    if (challenge.audience !== undefined && p.audience !== challenge.audience) return mismatch("audience", "payload.audience")
    if (challenge.signerDid !== undefined && env.signer_did !== challenge.signerDid) return mismatch("signer", "signer_did")
    return undefined
  })
}

/** Parses JSON text; PARSE_ERROR when it is not JSON. */
export const parseJson = (text: string): { readonly value: unknown } | { readonly error: VerificationError } => {
  try {
    return { value: JSON.parse(text) as unknown }
  } catch {
    return { error: fail("PARSE_ERROR", "Input is not valid JSON") }
  }
}
