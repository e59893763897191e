/**
 * **Marketplace entry point: proof bundles.** {@link verify} checks a `proof_bundle` envelope and
 * returns its proof tier and a result for every gateway receipt in it.
 *
 * Envelope steps, reference order (first failure wins): nine fields (MALFORMED_ENVELOPE) →
 * version/type/algorithms → signer DID format → issued_at → expires_at (EXPIRED_TTL) → encodings
 * → schema `proof_bundle_envelope.v1` (SCHEMA_VALIDATION_FAILED) → payload basics
 * (MALFORMED_ENVELOPE) → limits and duplicate event ids (MALFORMED_ENVELOPE) → agent_did format and
 * signer = agent (INVALID_DID_FORMAT) → hash → DID → signature.
 *
 * Components, each fail-closed: event chain (MALFORMED_ENVELOPE / HASH_MISMATCH) → rate-limit
 * claims (RATE_LIMIT_*) → URM (URM_MISSING / SCHEMA_VALIDATION_FAILED / URM_MISMATCH /
 * HASH_MISMATCH) → gateway receipts → tool receipts → side-effect and human-approval receipts →
 * attestation references → execution attestations.
 *
 * Gateway receipts. The reference core never fails a bundle for a receipt: a forged, unallowlisted
 * or unbound receipt is skipped and the bundle stays VALID at tier `self`. Its CLI then fails the
 * bundle only for receipts carrying `binding.event_hash_b64u` (RECEIPT_BINDING_MISMATCH or
 * RECEIPT_VERIFICATION_FAILED). `compat` reproduces the CLI. `strict` fails the bundle for any
 * receipt that does not verify (RECEIPT_VERIFICATION_FAILED) or is not bound to this bundle's run
 * and events (RECEIPT_BINDING_MISMATCH); either way `receipts[]` reports each receipt.
 *
 * Not implemented (documented in the README): the service-only evidence kinds (VIR, web receipts
 * inside bundles, coverage and binary-semantic attestations, x402), metadata evidence (policy
 * binding, runner attestation, prompt packs) and the causal-graph checks. They can only raise a
 * tier in the reference, and we never grant a tier for evidence we do not check.
 */
import * as EventChain from "./EventChain.js"
import * as Envelope from "./Envelope.js"
import * as ExecutionAttestation from "./ExecutionAttestation.js"
import * as GatewayReceipt from "./GatewayReceipt.js"
import * as DidKey from "./DidKey.js"
import * as Hash from "./Hash.js"
import * as Jcs from "./Jcs.js"
import * as Tier from "./Tier.js"
import * as ToolReceipt from "./ToolReceipt.js"
import * as Base64Url from "./Base64Url.js"
import { validateNamed } from "./internal/JsonSchema.js"
import { type BaseResult, fail, isNonEmptyString, isRecord, parseTime, type VerificationError, shown } from "./Result.js"

export interface Options extends Envelope.VerifyOptions {
  /** Gateway receipt signers trusted for the `gateway` tier. */
  readonly gatewaySignerDids?: ReadonlyArray<string>
  /** Signers of `attestations[]` references trusted for the `sandbox` tier. */
  readonly attestationSignerDids?: ReadonlyArray<string>
  /** The URM document the bundle's `payload.urm` reference points at. */
  readonly urm?: unknown
  /** Execution attestation envelopes about this bundle (sandbox / tee tiers). */
  readonly executionAttestations?: ReadonlyArray<unknown>
  readonly executionAttestationSignerDids?: ReadonlyArray<string>
  readonly tee?: ExecutionAttestation.TeePolicy
}

/** The outcome for one `payload.receipts[i]` gateway receipt. */
export interface ReceiptOutcome {
  readonly index: number
  readonly receipt_id?: string
  readonly signer_did?: string
  /** Hash, signature, allowlist and payload checks passed. */
  readonly signature_verified: boolean
  /** Bound to this bundle's run and one of its event hashes. */
  readonly bound: boolean
  readonly status: "VALID" | "INVALID"
  readonly error?: VerificationError
}

export interface ComponentResults {
  readonly envelope_valid: boolean
  readonly event_chain_valid: boolean
  readonly chain_root_hash?: string
  readonly urm_valid: boolean
  readonly receipts_valid: boolean
  readonly receipts_count: number
  readonly receipts_signature_verified_count: number
  readonly receipts_verified_count: number
  readonly attestations_count: number
  readonly attestations_verified_count: number
  readonly tool_receipts_valid: boolean
  readonly tool_receipts_count: number
  readonly rate_limit_claims_valid: boolean
  readonly rate_limit_claims_count: number
  readonly side_effect_receipts_count: number
  readonly human_approval_receipts_count: number
  readonly execution_attestations_verified_count: number
  readonly tee_execution_verified_count: number
}

export interface ProofBundleResult extends BaseResult {
  readonly bundle_id?: string
  readonly agent_did?: string
  readonly run_id?: string
  /** The envelope's payload hash: what execution attestations and URMs point at. */
  readonly payload_hash_b64u?: string
  readonly trust_tier: Tier.TrustTier
  readonly proof_tier: Tier.ProofTier
  readonly poh_tier: number
  /** True when the input was a bare payload (compat only; strict refuses it). */
  readonly unsigned?: boolean
  readonly component_results?: ComponentResults
  readonly receipts: ReadonlyArray<ReceiptOutcome>
}

const MAX_EVENTS = 1000
const MAX_RECEIPTS = 1000
const MAX_ATTESTATIONS = 100
const MAX_METADATA_BYTES = 16384
const SIDE_EFFECT_CLASSES: ReadonlyArray<string> = ["network_egress", "filesystem_write", "external_api_write"]
const APPROVAL_TYPES: ReadonlyArray<string> = ["explicit_approve", "explicit_deny", "auto_approve", "timeout_deny"]

const invalidBundle = (ctx: Envelope.Ctx, error: VerificationError, receipts: ReadonlyArray<ReceiptOutcome> = [], extra: Partial<ProofBundleResult> = {}): ProofBundleResult => ({
  status: "INVALID",
  reason: error.message,
  verified_at: ctx.verifiedAt,
  error,
  trust_tier: "unknown",
  proof_tier: "unknown",
  poh_tier: Tier.pohTier("unknown"),
  receipts,
  ...extra
})

/** The JSON size of `value`; one JSON.stringify cannot write (too deep, a cycle) is too large. */
const utf8Length = (value: unknown): number => {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch {
    return Number.POSITIVE_INFINITY
  }
  return text === undefined ? 0 : Hash.utf8(text).length
}

/** Causal binding fields whose schema failures the reference reports with their own codes. */
const schemaCode = (path: string): "CAUSAL_PHASE_INVALID" | "CAUSAL_CONFIDENCE_OUT_OF_RANGE" | "CAUSAL_BINDING_NORMALIZATION_FAILED" | "SCHEMA_VALIDATION_FAILED" => {
  if (/binding\.phase$/.test(path)) return "CAUSAL_PHASE_INVALID"
  if (/binding\.(attribution_confidence|attributionConfidence)$/.test(path)) return "CAUSAL_CONFIDENCE_OUT_OF_RANGE"
  if (/binding\.(span_id|spanId|parent_span_id|parentSpanId|tool_span_id|toolSpanId)$/.test(path)) return "CAUSAL_BINDING_NORMALIZATION_FAILED"
  return "SCHEMA_VALIDATION_FAILED"
}

/** E9, E10 and E11's agent check over the payload. */
const checkPayloadBasics = (p: Record<string, unknown>, raw: boolean): VerificationError | undefined => {
  const code = raw ? "SCHEMA_VALIDATION_FAILED" : "MALFORMED_ENVELOPE"
  if (p.bundle_version !== "1") return fail(code, "bundle_version must be \"1\"", "payload.bundle_version")
  if (!isNonEmptyString(p.bundle_id)) return fail(code, "bundle_id must be a non-empty string", "payload.bundle_id")
  if (typeof p.agent_did !== "string" || !p.agent_did.startsWith("did:")) return fail(code, "agent_did must be a DID", "payload.agent_did")
  if (p.urm === undefined && p.event_chain === undefined && p.receipts === undefined && p.attestations === undefined) {
    return fail(code, "A bundle needs at least one of urm, event_chain, receipts or attestations", "payload")
  }
  const events = Array.isArray(p.event_chain) ? p.event_chain : []
  if (events.length > MAX_EVENTS) return fail("MALFORMED_ENVELOPE", `At most ${MAX_EVENTS} events`, "payload.event_chain")
  if (Array.isArray(p.receipts) && p.receipts.length > MAX_RECEIPTS) return fail("MALFORMED_ENVELOPE", `At most ${MAX_RECEIPTS} receipts`, "payload.receipts")
  if (Array.isArray(p.attestations) && p.attestations.length > MAX_ATTESTATIONS) return fail("MALFORMED_ENVELOPE", `At most ${MAX_ATTESTATIONS} attestations`, "payload.attestations")
  if (p.metadata !== undefined && utf8Length(p.metadata) > MAX_METADATA_BYTES) return fail("MALFORMED_ENVELOPE", "payload.metadata is too large", "payload.metadata")
  if (isRecord(p.urm) && p.urm.metadata !== undefined && utf8Length(p.urm.metadata) > MAX_METADATA_BYTES) return fail("MALFORMED_ENVELOPE", "payload.urm.metadata is too large", "payload.urm.metadata")
  if (Array.isArray(p.receipts)) {
    for (let i = 0; i < p.receipts.length; i++) {
      const r = p.receipts[i]
      if (isRecord(r) && isRecord(r.payload) && r.payload.metadata !== undefined && utf8Length(r.payload.metadata) > MAX_METADATA_BYTES) {
        return fail("MALFORMED_ENVELOPE", "receipt metadata is too large", `payload.receipts[${i}].payload.metadata`)
      }
    }
  }
  const seen = new Set<unknown>()
  for (let i = 0; i < events.length; i++) {
    const id = isRecord(events[i]) ? (events[i] as Record<string, unknown>).event_id : undefined
    if (seen.has(id)) return fail("MALFORMED_ENVELOPE", `Duplicate event_id ${shown(id)}`, `payload.event_chain[${i}].event_id`)
    seen.add(id)
  }
  if (!DidKey.isWellFormed(p.agent_did)) return fail("INVALID_DID_FORMAT", "agent_did has an invalid format", "payload.agent_did")
  return undefined
}

const finiteNonNegative = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0

const checkRateLimits = (claims: ReadonlyArray<unknown>, runId: string | undefined): VerificationError | undefined => {
  for (let i = 0; i < claims.length; i++) {
    const c = claims[i] as Record<string, unknown>
    const at = `payload.rate_limit_claims[${i}]`
    const start = parseTime(c.window_start), end = parseTime(c.window_end)
    if (start === undefined || end === undefined || start > end) return fail("RATE_LIMIT_WINDOW_INVALID", "Rate-limit window is invalid", `${at}.window_start`)
    if (!finiteNonNegative(c.max_requests) || !finiteNonNegative(c.observed_requests)) {
      return fail("RATE_LIMIT_CLAIM_INCONSISTENT", "Request counts must be non-negative numbers", `${at}.max_requests`)
    }
    if (c.observed_requests > c.max_requests) return fail("RATE_LIMIT_EXCEEDED", "Observed requests exceed the maximum", `${at}.observed_requests`)
    for (const kind of ["tokens_input", "tokens_output"]) {
      const max = c[`max_${kind}`], observed = c[`observed_${kind}`]
      if (max === undefined && observed === undefined) continue
      if (!finiteNonNegative(max) || !finiteNonNegative(observed)) {
        return fail("RATE_LIMIT_CLAIM_INCONSISTENT", `max_${kind} and observed_${kind} come in pairs`, `${at}.max_${kind}`)
      }
      if (observed > max) return fail("RATE_LIMIT_EXCEEDED", `Observed ${kind} exceed the maximum`, `${at}.observed_${kind}`)
    }
    if (c.run_id !== undefined && c.run_id !== runId) return fail("RATE_LIMIT_CLAIM_INCONSISTENT", "Rate-limit claim is for another run", `${at}.run_id`)
  }
  return undefined
}

const checkUrm = (
  ref: Record<string, unknown>,
  doc: unknown,
  agentDid: string,
  runId: string | undefined,
  chainRoot: string | undefined
): VerificationError | undefined => {
  if (doc === undefined) return fail("URM_MISSING", "The bundle references a URM but none was supplied", "urm")
  const schema = validateNamed("urm.v1", doc)
  if (schema !== undefined) return fail("SCHEMA_VALIDATION_FAILED", `URM schema validation failed: ${schema.message}`, `urm.${schema.path}`)
  const u = doc as Record<string, unknown>
  if (u.urm_id !== ref.urm_id) return fail("URM_MISMATCH", "URM urm_id does not match the reference", "urm.urm_id")
  if (u.agent_did !== agentDid) return fail("URM_MISMATCH", "URM agent_did does not match the bundle", "urm.agent_did")
  if (runId !== undefined && u.run_id !== runId) return fail("URM_MISMATCH", "URM run_id does not match the event chain", "urm.run_id")
  if (u.event_chain_root_hash_b64u !== undefined && u.event_chain_root_hash_b64u !== chainRoot) {
    return fail("URM_MISMATCH", "URM event_chain_root_hash_b64u does not match", "urm.event_chain_root_hash_b64u")
  }
  if (Hash.jsonHashB64u(doc) !== ref.resource_hash_b64u) return fail("HASH_MISMATCH", "URM hash does not match resource_hash_b64u", "payload.urm.resource_hash_b64u")
  return undefined
}

const checkRawReceipts = (
  list: ReadonlyArray<unknown>,
  name: "side_effect_receipts" | "human_approval_receipts",
  agentDid: string
): VerificationError | undefined => {
  for (let i = 0; i < list.length; i++) {
    const r = list[i] as Record<string, unknown>
    const at = `payload.${name}[${i}]`
    if (r.receipt_version !== "1") return fail("UNKNOWN_VERSION", "Unknown receipt version", `${at}.receipt_version`)
    if (r.hash_algorithm !== undefined && r.hash_algorithm !== "SHA-256") return fail("UNKNOWN_HASH_ALGORITHM", "Unknown hash algorithm", `${at}.hash_algorithm`)
    if (name === "side_effect_receipts" && !SIDE_EFFECT_CLASSES.includes(r.effect_class as string)) {
      return fail("SCHEMA_VALIDATION_FAILED", "Unknown effect_class", `${at}.effect_class`)
    }
    if (name === "human_approval_receipts" && !APPROVAL_TYPES.includes(r.approval_type as string)) {
      return fail("SCHEMA_VALIDATION_FAILED", "Unknown approval_type", `${at}.approval_type`)
    }
    if (r.agent_did !== agentDid) return fail("PROOF_BUNDLE_AGENT_MISMATCH", "Receipt agent_did does not match the bundle agent", `${at}.agent_did`)
  }
  return undefined
}

/** An attestation reference signs UTF-8(JCS({...attestation, signature_b64u: ""})). */
export const attestationSigningText = (attestation: Record<string, unknown>): string | undefined =>
  Jcs.canonicalize({ ...attestation, signature_b64u: "" })

const verifyAttestationRef = (a: Record<string, unknown>, agentDid: string, allowlist: ReadonlyArray<string> | undefined, ctx: Envelope.Ctx): boolean => {
  if (typeof a.attester_did !== "string" || typeof a.signature_b64u !== "string") return false
  if (!allowlist?.includes(a.attester_did) || a.subject_did !== agentDid) return false
  const text = attestationSigningText(a)
  const key = DidKey.resolve(a.attester_did, ctx.strict)
  const sig = ctx.strict ? Base64Url.decode(a.signature_b64u) : Base64Url.decodeLax(a.signature_b64u)
  return text !== undefined && key !== undefined && sig !== undefined && sig.length === 64 && ctx.backend.verify(key, Hash.utf8(text), sig)
}

/** Verifies a proof bundle (envelope, or in compat mode also a bare payload). */
export const verify = (input: unknown, options: Options): ProofBundleResult => {
  const ctx = Envelope.makeCtx(options)
  // The CLI also accepts `{ envelope: ... }`.
  const subject = isRecord(input) && !("envelope_version" in input) && isRecord(input.envelope) ? input.envelope : input
  const raw = !Envelope.looksLikeEnvelope(subject)
  if (raw && ctx.strict) {
    return invalidBundle(ctx, fail("MALFORMED_ENVELOPE", "A proof bundle must be a signed envelope (an unsigned payload is refused in strict mode)"))
  }

  let payload: Record<string, unknown>
  let payloadHash: string | undefined
  if (raw) {
    if (!isRecord(subject)) return invalidBundle(ctx, fail("SCHEMA_VALIDATION_FAILED", "A proof bundle payload must be an object"))
    const schema = validateNamed("proof_bundle.v1", subject)
    if (schema !== undefined) return invalidBundle(ctx, fail(schemaCode(schema.path), `Schema validation failed: ${schema.message}`, schema.path))
    payload = subject
    const e = checkPayloadBasics(payload, true)
    if (e !== undefined) return invalidBundle(ctx, e)
  } else {
    const env = subject as Record<string, unknown>
    const headerError =
      Envelope.checkHeader(env, "proof_bundle", ctx) ??
      Envelope.checkDidFormat(env.signer_did, "signer_did") ??
      Envelope.checkIssuedAt(env, ctx) ??
      Envelope.checkExpiresAt(env, ctx) ??
      Envelope.checkEncodings(env, ctx)
    if (headerError !== undefined) return invalidBundle(ctx, headerError)
    // Legacy `clawsig wrap` diagnostics (receipt_type, no envelope_type) are skipped by the
    // reference before schema validation; strict mode lets the schema refuse them.
    let forSchema: Record<string, unknown> = env
    const p0 = env.payload
    if (!ctx.strict && isRecord(p0) && Array.isArray(p0.receipts) && p0.receipts.some((r) => isRecord(r) && "receipt_type" in r && !("envelope_type" in r))) {
      const receipts = p0.receipts.filter((r) => !(isRecord(r) && "receipt_type" in r && !("envelope_type" in r)))
      const copy: Record<string, unknown> = { ...p0 }
      if (receipts.length === 0) delete copy.receipts
      else copy.receipts = receipts
      forSchema = { ...env, payload: copy }
    }
    const schema = validateNamed("proof_bundle_envelope.v1", forSchema)
    if (schema !== undefined) return invalidBundle(ctx, fail(schemaCode(schema.path), `Schema validation failed: ${schema.message}`, schema.path))
    payload = forSchema.payload as Record<string, unknown>
    const e =
      checkPayloadBasics(payload, false) ??
      (env.signer_did !== payload.agent_did ? fail("INVALID_DID_FORMAT", "signer_did must equal payload.agent_did", "signer_did") : undefined) ??
      Envelope.checkCrypto(env, ctx)
    if (e !== undefined) return invalidBundle(ctx, e)
    payloadHash = env.payload_hash_b64u as string
  }

  const agentDid = payload.agent_did as string
  const bundleId = payload.bundle_id as string
  const base = { bundle_id: bundleId, agent_did: agentDid, ...(payloadHash === undefined ? {} : { payload_hash_b64u: payloadHash }) }

  // C1 event chain
  const events = Array.isArray(payload.event_chain) ? (payload.event_chain as Array<Record<string, unknown>>) : undefined
  let chainValid = false
  let runId: string | undefined
  let chainRoot: string | undefined
  if (events !== undefined) {
    const e = EventChain.check(events, "payload.event_chain", { strict: ctx.strict, schemaChecked: true })
    if (e !== undefined) return invalidBundle(ctx, e, [], base)
    chainValid = true
    runId = events[0]!.run_id as string
    chainRoot = events[0]!.event_hash_b64u as string
  }
  const binding: GatewayReceipt.BindingContext | undefined = chainValid
    ? { runId: runId!, eventHashes: new Set(events!.map((e) => e.event_hash_b64u as string)) }
    : undefined

  // C2 rate-limit claims
  const claims = Array.isArray(payload.rate_limit_claims) ? payload.rate_limit_claims : []
  const rateError = checkRateLimits(claims, runId)
  if (rateError !== undefined) return invalidBundle(ctx, rateError, [], base)

  // C4 URM
  let urmValid = false
  if (isRecord(payload.urm)) {
    const e = checkUrm(payload.urm, options.urm, agentDid, chainValid ? runId : undefined, chainRoot)
    if (e !== undefined) return invalidBundle(ctx, e, [], base)
    urmValid = true
  }

  // C5 gateway receipts
  const receiptList = Array.isArray(payload.receipts) ? payload.receipts : []
  const receipts: Array<ReceiptOutcome> = []
  let sigVerified = 0
  let verified = 0
  for (let i = 0; i < receiptList.length; i++) {
    const r = receiptList[i]
    const result = GatewayReceipt.verifyWithCtx(r, options.gatewaySignerDids, ctx)
    const signatureVerified = result.status === "VALID"
    const bound = signatureVerified && GatewayReceipt.isBound(r, binding)
    if (signatureVerified) sigVerified++
    if (bound) verified++
    const p = isRecord(r) && isRecord(r.payload) ? r.payload : undefined
    const error = result.error ?? (bound ? undefined : fail("RECEIPT_BINDING_MISMATCH", "Receipt is not bound to this bundle's run and events", `payload.receipts[${i}].payload.binding`))
    receipts.push({
      index: i,
      ...(typeof p?.receipt_id === "string" ? { receipt_id: p.receipt_id } : {}),
      ...(isRecord(r) && typeof r.signer_did === "string" ? { signer_did: r.signer_did } : {}),
      signature_verified: signatureVerified,
      bound,
      status: bound ? "VALID" : "INVALID",
      ...(error === undefined ? {} : { error })
    })
  }

  // C6 tool receipts
  const toolList = Array.isArray(payload.tool_receipts) ? payload.tool_receipts : []
  for (let i = 0; i < toolList.length; i++) {
    const e = ToolReceipt.check(toolList[i], agentDid, binding, `payload.tool_receipts[${i}]`, ctx)
    if (e !== undefined) return invalidBundle(ctx, e, receipts, base)
  }

  // C7 side-effect and human-approval receipts (unsigned claims)
  const sideEffects = Array.isArray(payload.side_effect_receipts) ? payload.side_effect_receipts : []
  const approvals = Array.isArray(payload.human_approval_receipts) ? payload.human_approval_receipts : []
  const rawError = checkRawReceipts(sideEffects, "side_effect_receipts", agentDid) ?? checkRawReceipts(approvals, "human_approval_receipts", agentDid)
  if (rawError !== undefined) return invalidBundle(ctx, rawError, receipts, base)

  // C10 attestation references
  const attestations = Array.isArray(payload.attestations) ? (payload.attestations as Array<Record<string, unknown>>) : []
  let attestationsVerified = 0
  for (let i = 0; i < attestations.length; i++) {
    const a = attestations[i]!
    const expires = parseTime(a.expires_at)
    if (a.expires_at !== undefined && (expires === undefined || ctx.verifyAt > expires + ctx.skewMs)) continue
    if (verifyAttestationRef(a, agentDid, options.attestationSignerDids, ctx)) attestationsVerified++
  }

  // Receipt policy: strict fails on any bad receipt; compat reproduces the CLI wrapper.
  if (ctx.strict) {
    if (receiptList.length > 0 && !options.gatewaySignerDids?.length) {
      return invalidBundle(ctx, fail("DEPENDENCY_NOT_CONFIGURED", "The bundle has gateway receipts but no gateway allowlist is configured", "payload.receipts"), receipts, base)
    }
    const bad = receipts.find((r) => r.status === "INVALID")
    if (bad !== undefined) {
      const code = bad.signature_verified ? "RECEIPT_BINDING_MISMATCH" : "RECEIPT_VERIFICATION_FAILED"
      return invalidBundle(ctx, fail(code, `Gateway receipt ${bad.index} ${bad.signature_verified ? "is not bound to this bundle" : `failed: ${bad.error?.code}`}`, `payload.receipts[${bad.index}]`), receipts, base)
    }
  } else {
    const counted = receiptList.filter(GatewayReceipt.hasEventBinding)
    if (counted.length > 0) {
      if (!options.gatewaySignerDids?.length) {
        return invalidBundle(ctx, fail("DEPENDENCY_NOT_CONFIGURED", "Gateway receipts require a signer allowlist", "payload.receipts"), receipts, base)
      }
      if (verified !== counted.length) {
        const code = sigVerified === counted.length ? "RECEIPT_BINDING_MISMATCH" : "RECEIPT_VERIFICATION_FAILED"
        return invalidBundle(ctx, fail(code, "Gateway receipt verification failed", "payload.receipts"), receipts, base)
      }
    }
  }

  // Execution attestations (sandbox / tee)
  let execVerified = 0
  let teeVerified = 0
  const execList = options.executionAttestations ?? []
  for (let i = 0; i < execList.length; i++) {
    const a = execList[i]
    const r = ExecutionAttestation.verifyWithCtx(a, { ...options, signerDids: options.executionAttestationSignerDids ?? [], ...(options.tee ? { tee: options.tee } : {}) }, ctx)
    const e = r.error ?? (payloadHash === undefined
      ? fail("HASH_MISMATCH", "Execution attestations need a signed bundle", "execution_attestations")
      : ExecutionAttestation.matchesBundle(a, { agentDid, runId, payloadHashB64u: payloadHash }))
    if (e !== undefined) return invalidBundle(ctx, { ...e, field: `execution_attestations[${i}]${e.field ? `.${e.field}` : ""}` }, receipts, base)
    execVerified++
    if (r.execution_type === "tee_execution") teeVerified++
  }

  let proofTier: Tier.ProofTier = "self"
  if (verified > 0) proofTier = Tier.max(proofTier, "gateway")
  if (attestationsVerified > 0 || execVerified > 0) proofTier = Tier.max(proofTier, "sandbox")
  if (teeVerified > 0) proofTier = Tier.max(proofTier, "tee")
  const receiptsValid = receiptList.length > 0 && verified === receiptList.length
  const trustTier: Tier.TrustTier = chainValid || receiptsValid ? "verified" : "basic"

  return {
    status: "VALID",
    reason: raw ? "Unsigned proof bundle payload verified (compat mode)" : "Proof bundle verified successfully",
    verified_at: ctx.verifiedAt,
    ...base,
    ...(runId === undefined ? {} : { run_id: runId }),
    trust_tier: trustTier,
    proof_tier: proofTier,
    poh_tier: Tier.pohTier(proofTier),
    ...(raw ? { unsigned: true } : {}),
    component_results: {
      envelope_valid: !raw,
      event_chain_valid: chainValid,
      ...(chainRoot === undefined ? {} : { chain_root_hash: chainRoot }),
      urm_valid: urmValid,
      receipts_valid: receiptsValid,
      receipts_count: receiptList.length,
      receipts_signature_verified_count: sigVerified,
      receipts_verified_count: verified,
      attestations_count: attestations.length,
      attestations_verified_count: attestationsVerified,
      tool_receipts_valid: true,
      tool_receipts_count: toolList.length,
      rate_limit_claims_valid: true,
      rate_limit_claims_count: claims.length,
      side_effect_receipts_count: sideEffects.length,
      human_approval_receipts_count: approvals.length,
      execution_attestations_verified_count: execVerified,
      tee_execution_verified_count: teeVerified
    },
    receipts
  }
}
