/**
 * Tool receipts (v1 and v2): an agent's record of one tool call, as a raw payload or a signed
 * envelope (v2 envelopes may carry co-signatures and selective disclosure of arguments/results).
 *
 * Reference order (§2.6): schema match (envelope v2, envelope v1, payload v2, payload v1; none →
 * UNKNOWN_VERSION when `receipt_version` is present, else SCHEMA_VALIDATION_FAILED) → agent
 * (PROOF_BUNDLE_AGENT_MISMATCH) → binding when present and the chain verified
 * (RECEIPT_BINDING_MISMATCH) → envelope expiry (EXPIRED_TTL), hash (BLAKE3:
 * UNKNOWN_HASH_ALGORITHM; HASH_MISMATCH), 64-byte signature (SIGNATURE_INVALID), co-signatures over
 * the same payload hash (CO_SIGNATURE_INVALID) → selective disclosure (DISCLOSURE_*).
 *
 * Tool receipts never raise the proof tier; their signers are not allowlisted.
 */
import * as Base64Url from "./Base64Url.js"
import * as DidKey from "./DidKey.js"
import * as Envelope from "./Envelope.js"
import type { BindingContext } from "./GatewayReceipt.js"
import * as Hash from "./Hash.js"
import * as Jcs from "./Jcs.js"
import { validateNamed } from "./internal/JsonSchema.js"
import { fail, isRecord, parseTime, type VerificationError, shown } from "./Result.js"

export const DISCLOSURE_ALGORITHM = "vir_v2_typed_lexicographical"
export const CO_SIGNER_ROLES: ReadonlyArray<string> = ["proxy", "approver", "auditor", "supervisor"]

type Form = "envelope_v2" | "envelope_v1" | "payload_v2" | "payload_v1"
const FORMS: ReadonlyArray<readonly [Form, string]> = [
  ["envelope_v2", "tool_receipt_envelope.v2"],
  ["envelope_v1", "https://schemas.clawbureau.com/poh/tool_receipt_envelope.v1.json"],
  ["payload_v2", "tool_receipt.v2"],
  ["payload_v1", "https://schemas.clawbureau.com/poh/tool_receipt.v1.json"]
]

const jsonType = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "object" ? "object" : typeof v

/** Leaf hash of a disclosed value: b64u(SHA-256(`${path}:${JCS({type,value,salt_b64u})}`)). */
export const leafHash = (path: string, leaf: { readonly type: string; readonly value: unknown; readonly salt_b64u: string }): string | undefined => {
  const canonical = Jcs.canonicalize({ type: leaf.type, value: leaf.value, salt_b64u: leaf.salt_b64u })
  return canonical === undefined ? undefined : Hash.sha256B64uOfString(`${path}:${canonical}`)
}

/** Root over leaf hashes: b64u(SHA-256(JCS(sorted hashes))). */
export const disclosureRoot = (leafHashes: ReadonlyArray<string>): string =>
  Hash.sha256B64uOfString(Jcs.canonicalize([...leafHashes].sort())!)

const checkDisclosure = (d: unknown, expectedRoot: unknown, field: string): VerificationError | undefined => {
  if (!isRecord(d)) return fail("SCHEMA_VALIDATION_FAILED", "Disclosure must be an object", field)
  if (d.disclosure_algorithm !== DISCLOSURE_ALGORITHM) {
    return fail("DISCLOSURE_ALGORITHM_UNKNOWN", `Unknown disclosure algorithm: ${shown(d.disclosure_algorithm)}`, `${field}.disclosure_algorithm`)
  }
  if (d.merkle_root_b64u !== expectedRoot) {
    return fail("DISCLOSURE_ROOT_MISMATCH", "Disclosure root does not equal the committed hash", `${field}.merkle_root_b64u`)
  }
  const hashes: Array<string> = Array.isArray(d.redacted_leaf_hashes_b64u) ? [...(d.redacted_leaf_hashes_b64u as Array<string>)] : []
  const leaves = isRecord(d.disclosed_leaves) ? d.disclosed_leaves : {}
  for (const [path, leaf] of Object.entries(leaves)) {
    if (!isRecord(leaf) || typeof leaf.type !== "string" || typeof leaf.salt_b64u !== "string") {
      return fail("SCHEMA_VALIDATION_FAILED", "Disclosed leaf is malformed", `${field}.disclosed_leaves.${path}`)
    }
    if (jsonType(leaf.value) !== leaf.type) {
      return fail("DISCLOSURE_TYPE_MISMATCH", `Disclosed leaf type ${leaf.type} does not match its value`, `${field}.disclosed_leaves.${path}`)
    }
    const h = leafHash(path, leaf as { type: string; value: unknown; salt_b64u: string })
    if (h === undefined) return fail("SCHEMA_VALIDATION_FAILED", "Disclosed leaf cannot be canonicalised", `${field}.disclosed_leaves.${path}`)
    hashes.push(h)
  }
  if (disclosureRoot(hashes) !== d.merkle_root_b64u) {
    return fail("DISCLOSURE_ROOT_MISMATCH", "Recomputed disclosure root does not match", `${field}.merkle_root_b64u`)
  }
  return undefined
}

/** Verifies one `tool_receipts[i]` entry of a bundle. */
export const check = (
  entry: unknown,
  agentDid: string,
  binding: BindingContext | undefined,
  field: string,
  ctx: Envelope.Ctx
): VerificationError | undefined => {
  const form = FORMS.find(([, schema]) => validateNamed(schema, entry) === undefined)?.[0]
  if (form === undefined) {
    return isRecord(entry) && "receipt_version" in entry
      ? fail("UNKNOWN_VERSION", `Unknown tool receipt version: ${shown(entry.receipt_version)}`, `${field}.receipt_version`)
      : fail("SCHEMA_VALIDATION_FAILED", "Tool receipt matches no known schema", field)
  }
  const env = entry as Record<string, unknown>
  const isEnvelope = form === "envelope_v1" || form === "envelope_v2"
  const payload = (isEnvelope ? env.payload : env) as Record<string, unknown>
  const pField = isEnvelope ? `${field}.payload` : field

  if (payload.agent_did !== agentDid) {
    return fail("PROOF_BUNDLE_AGENT_MISMATCH", "Tool receipt agent_did does not match the bundle agent", `${pField}.agent_did`)
  }
  if (isRecord(payload.binding) && binding !== undefined) {
    const b = payload.binding
    if (b.run_id !== undefined && b.run_id !== binding.runId) {
      return fail("RECEIPT_BINDING_MISMATCH", "Tool receipt is bound to another run", `${pField}.binding.run_id`)
    }
    if (b.event_hash_b64u !== undefined) {
      if (typeof b.event_hash_b64u !== "string" || !Base64Url.isAlphabet(b.event_hash_b64u)) {
        return fail("SCHEMA_VALIDATION_FAILED", "binding.event_hash_b64u is not base64url", `${pField}.binding.event_hash_b64u`)
      }
      if (!binding.eventHashes.has(b.event_hash_b64u)) {
        return fail("RECEIPT_BINDING_MISMATCH", "Tool receipt is bound to an event not in the chain", `${pField}.binding.event_hash_b64u`)
      }
    }
  }
  if (isEnvelope) {
    if (env.expires_at !== undefined) {
      const t = parseTime(env.expires_at)
      if (t === undefined) return fail("SCHEMA_VALIDATION_FAILED", "expires_at is invalid", `${field}.expires_at`)
      if (ctx.verifyAt > t + ctx.skewMs) return fail("EXPIRED_TTL", "Tool receipt has expired", `${field}.expires_at`)
    }
    if (env.hash_algorithm !== "SHA-256") {
      return fail("UNKNOWN_HASH_ALGORITHM", `Unsupported hash algorithm: ${shown(env.hash_algorithm)}`, `${field}.hash_algorithm`)
    }
    if (Hash.jsonHashB64u(env.payload) !== env.payload_hash_b64u) {
      return fail("HASH_MISMATCH", "Tool receipt payload hash mismatch", `${field}.payload_hash_b64u`)
    }
    const sigError = checkSig(env.signer_did, env.payload_hash_b64u as string, env.signature_b64u, ctx)
    if (sigError) return fail("SIGNATURE_INVALID", "Tool receipt signature is invalid", `${field}.signature_b64u`)
    if (Array.isArray(env.co_signatures)) {
      for (let i = 0; i < env.co_signatures.length; i++) {
        const c = env.co_signatures[i]
        const ok = isRecord(c) && c.algorithm === "Ed25519" && typeof c.role === "string" && CO_SIGNER_ROLES.includes(c.role) &&
          !checkSig(c.signer_did, env.payload_hash_b64u as string, c.signature_b64u, ctx)
        if (!ok) return fail("CO_SIGNATURE_INVALID", `Co-signature ${i} is invalid`, `${field}.co_signatures[${i}]`)
      }
    }
  }
  if (form === "envelope_v2" || form === "payload_v2") {
    if (payload.args_disclosure !== undefined) {
      const e = checkDisclosure(payload.args_disclosure, payload.args_hash_b64u, `${pField}.args_disclosure`)
      if (e !== undefined) return e
    }
    if (payload.result_disclosure !== undefined) {
      const e = checkDisclosure(payload.result_disclosure, payload.result_hash_b64u, `${pField}.result_disclosure`)
      if (e !== undefined) return e
    }
  }
  return undefined
}

/** True when the signature fails (the signature must decode to exactly 64 bytes). */
const checkSig = (did: unknown, signed: string, sig: unknown, ctx: Envelope.Ctx): boolean => {
  if (typeof did !== "string" || typeof sig !== "string") return true
  const key = DidKey.resolve(did, ctx.strict)
  const bytes = ctx.strict ? Base64Url.decode(sig) : Base64Url.decodeLax(sig)
  if (key === undefined || bytes === undefined || bytes.length !== 64) return true
  return !ctx.backend.verify(key, Hash.utf8(signed), bytes)
}
