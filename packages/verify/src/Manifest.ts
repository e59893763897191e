/**
 * Export-bundle style manifests: one entry per artifact, `{path, sha256_b64u, content_type,
 * size_bytes}` where the hash is SHA-256 over the artifact's JCS text and the size is that text's
 * UTF-8 length. Shared by export bundles (`artifacts/<kind>/<i>.json`) and aggregate bundles
 * (`artifacts/member_bundles/<i>.json`).
 *
 * Order (reference §2.8): duplicate path → MALFORMED_ENVELOPE; count or missing path →
 * MISSING_REQUIRED_FIELD; hash or size → HASH_MISMATCH; content_type → MALFORMED_ENVELOPE.
 */
import * as Hash from "./Hash.js"
import * as Jcs from "./Jcs.js"
import { fail, isRecord, type VerificationError } from "./Result.js"

export interface Entry {
  readonly path: string
  readonly sha256_b64u: string
  readonly content_type: "application/json"
  readonly size_bytes: number
}

/** The manifest entry an artifact must have. */
export const entryFor = (path: string, artifact: unknown): Entry => {
  const text = Jcs.canonicalize(artifact) ?? ""
  const bytes = Hash.utf8(text)
  return { path, sha256_b64u: Hash.sha256B64u(bytes), content_type: "application/json", size_bytes: bytes.length }
}

/** Expected entries for `artifacts`: single objects at `artifacts/<kind>.json`, arrays at `artifacts/<kind>/<i>.json`. */
export const expectedEntries = (artifacts: Record<string, unknown>): Array<Entry> => {
  const out: Array<Entry> = []
  for (const [kind, value] of Object.entries(artifacts)) {
    if (Array.isArray(value)) value.forEach((a, i) => out.push(entryFor(`artifacts/${kind}/${i}.json`, a)))
    else if (value !== undefined) out.push(entryFor(`artifacts/${kind}.json`, value))
  }
  return out
}

export const check = (manifest: unknown, artifacts: Record<string, unknown>, field: string): VerificationError | undefined => {
  const entries = isRecord(manifest) && Array.isArray(manifest.entries) ? (manifest.entries as Array<Record<string, unknown>>) : []
  const byPath = new Map<string, Record<string, unknown>>()
  for (let i = 0; i < entries.length; i++) {
    const path = entries[i]!.path as string
    if (byPath.has(path)) return fail("MALFORMED_ENVELOPE", `Duplicate manifest path ${path}`, `${field}.entries[${i}].path`)
    byPath.set(path, entries[i]!)
  }
  const expected = expectedEntries(artifacts)
  if (expected.length !== entries.length) return fail("MISSING_REQUIRED_FIELD", "Manifest entry count does not match the artifacts", `${field}.entries`)
  for (const e of expected) {
    const actual = byPath.get(e.path)
    if (actual === undefined) return fail("MISSING_REQUIRED_FIELD", `Manifest has no entry for ${e.path}`, `${field}.entries`)
    if (actual.sha256_b64u !== e.sha256_b64u || actual.size_bytes !== e.size_bytes) {
      return fail("HASH_MISMATCH", `Manifest hash or size mismatch for ${e.path}`, `${field}.entries[${entries.indexOf(actual)}].sha256_b64u`)
    }
    if (actual.content_type !== e.content_type) return fail("MALFORMED_ENVELOPE", `Manifest content_type mismatch for ${e.path}`, `${field}.entries[${entries.indexOf(actual)}].content_type`)
  }
  return undefined
}
