/**
 * Transparency-log inclusion proofs (clawlogs, `log_inclusion_proof.v1`): a leaf hash, its index,
 * the audit path and a root signed by the log (Ed25519 over UTF-8(root_hash_b64u)).
 *
 * The tree is the reference's: node = SHA-256(left ‖ right) over raw 32-byte hashes with **no**
 * leaf/node prefix (unlike RFC 6962), and an odd node at the end of a level is paired with itself.
 * Any failure is INCLUSION_PROOF_INVALID (signature: SIGNATURE_INVALID).
 */
import * as Base64Url from "./Base64Url.js"
import * as Envelope from "./Envelope.js"
import * as Hash from "./Hash.js"
import { type BaseResult, fail, invalid, isRecord, type VerificationError } from "./Result.js"

const node = (left: Uint8Array, right: Uint8Array): Uint8Array => {
  const both = new Uint8Array(left.length + right.length)
  both.set(left, 0)
  both.set(right, left.length)
  return Hash.sha256(both)
}

/** Root of a tree over the given leaf hashes. */
export const rootOf = (leaves: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (leaves.length === 0) throw new RangeError("a tree needs at least one leaf")
  let level = [...leaves]
  while (level.length > 1) {
    const next: Array<Uint8Array> = []
    for (let i = 0; i < level.length; i += 2) next.push(node(level[i]!, level[i + 1] ?? level[i]!))
    level = next
  }
  return level[0]!
}

/** Audit path for `index` (siblings bottom-up; a self-paired node contributes nothing). */
export const auditPath = (leaves: ReadonlyArray<Uint8Array>, index: number): Array<Uint8Array> => {
  const path: Array<Uint8Array> = []
  let level = [...leaves]
  let i = index
  while (level.length > 1) {
    const sibling = i % 2 === 1 ? i - 1 : i + 1
    if (sibling < level.length) path.push(level[sibling]!)
    const next: Array<Uint8Array> = []
    for (let k = 0; k < level.length; k += 2) next.push(node(level[k]!, level[k + 1] ?? level[k]!))
    level = next
    i = Math.floor(i / 2)
  }
  return path
}

/** Recomputes the root from a leaf, its index, the tree size and the audit path. */
export const computeRoot = (leaf: Uint8Array, index: number, treeSize: number, path: ReadonlyArray<Uint8Array>): Uint8Array | undefined => {
  if (!Number.isInteger(index) || !Number.isInteger(treeSize) || index < 0 || index >= treeSize) return undefined
  let hash = leaf
  let i = index
  let size = treeSize
  let p = 0
  while (size > 1) {
    if (i % 2 === 1) {
      const s = path[p++]
      if (s === undefined) return undefined
      hash = node(s, hash)
    } else if (i + 1 < size) {
      const s = path[p++]
      if (s === undefined) return undefined
      hash = node(hash, s)
    } else {
      hash = node(hash, hash)
    }
    i = Math.floor(i / 2)
    size = Math.ceil(size / 2)
  }
  return p === path.length ? hash : undefined
}

export interface Options extends Envelope.VerifyOptions {
  /** Log signers trusted for root signatures: without one, no proof verifies (fail-closed). */
  readonly logSignerDids?: ReadonlyArray<string>
}

/** Verifies a `log_inclusion_proof.v1` object (leaf index from `metadata.leaf_index` or `leaf_index`). */
export const verify = (input: unknown, options: Options): BaseResult => {
  const ctx = Envelope.makeCtx(options)
  const bad = (m: string, f?: string) => fail("INCLUSION_PROOF_INVALID", m, f)
  const error = ((): VerificationError | undefined => {
    if (!isRecord(input)) return bad("Inclusion proof must be an object")
    const index = isRecord(input.metadata) && typeof input.metadata.leaf_index === "number" ? input.metadata.leaf_index : input.leaf_index
    const decode = (s: unknown) => (typeof s === "string" ? (ctx.strict ? Base64Url.decode(s) : Base64Url.decodeLax(s)) : undefined)
    const leaf = decode(input.leaf_hash_b64u)
    const root = decode(input.root_hash_b64u)
    const path = Array.isArray(input.audit_path) ? input.audit_path.map(decode) : undefined
    if (leaf === undefined || root === undefined || path === undefined || path.some((p) => p === undefined)) return bad("Hashes must be base64url")
    const computed = computeRoot(leaf, index as number, input.tree_size as number, path as Array<Uint8Array>)
    if (computed === undefined || Base64Url.encode(computed) !== Base64Url.encode(root)) return bad("Audit path does not lead to the root", "root_hash_b64u")
    const sig = input.root_signature
    if (!isRecord(sig) || typeof sig.signer_did !== "string" || typeof sig.sig_b64u !== "string") return bad("root_signature is missing", "root_signature")
    // A root anyone can sign proves nothing: as every allowlisted signature here, fail-closed.
    if (!options.logSignerDids?.length) return fail("DEPENDENCY_NOT_CONFIGURED", "No log signer allowlist is configured", "root_signature.signer_did")
    if (!options.logSignerDids.includes(sig.signer_did)) return fail("CLAIM_NOT_FOUND", "Log signer is not allowlisted", "root_signature.signer_did")
    return Envelope.checkSignatureOver(sig.signer_did, input.root_hash_b64u as string, sig.sig_b64u, ctx, "root_signature.sig_b64u")
  })()
  return error === undefined ? { status: "VALID", reason: "Inclusion proof verified", verified_at: ctx.verifiedAt } : invalid(ctx.verifiedAt, error)
}
