/**
 * The policy hash: SHA-256 of the policy's canonical serialisation, as base64url without padding.
 * It is stored on every bounty at post time (`fee_policy_hash_b64u`), so anyone can check which exact
 * rules priced a job.
 *
 * Canonical serialisation (a small JCS-like form, stable across runs and machines):
 * - objects: keys sorted by UTF-16 code unit order (JavaScript's default sort), written as
 *   `{"key":value,...}` with no whitespace; properties whose value is `undefined` are left out;
 * - arrays: `[a,b,...]` in order, no whitespace;
 * - strings: as `JSON.stringify` writes them;
 * - bigints (money): as a JSON string of decimal digits, `25n` -> `"25"` (the wire form of amounts);
 * - numbers: finite integers only (basis points), in decimal; booleans and `null` as in JSON.
 * Anything else (non-integer numbers, functions, symbols) is refused, so a policy cannot silently
 * hash differently on another runtime.
 */
import { createHash } from "node:crypto"
import type { Policy } from "./Policy.js"

export const canonicalJson = (value: unknown): string => {
  if (value === null) return "null"
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false"
    case "string":
      return JSON.stringify(value)
    case "bigint":
      return JSON.stringify(value.toString())
    case "number":
      if (!Number.isSafeInteger(value)) throw new TypeError(`canonicalJson: ${value} is not a safe integer`)
      return String(value)
    case "object": {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`
    }
    default:
      throw new TypeError(`canonicalJson: cannot serialise a ${typeof value}`)
  }
}

/** `base64url(sha256(canonicalJson(policy)))`, no padding: 43 characters. */
export const hash = (policy: Policy): string =>
  createHash("sha256").update(canonicalJson(policy), "utf8").digest("base64url")

/** Policies are immutable values, so each one's hash is computed once (every quote needs it). */
const hashes = new WeakMap<Policy, string>()

/** The policy reference returned with every quote and stored on every bounty. */
export const reference = (policy: Policy): { readonly id: string; readonly version: string; readonly hash_b64u: string } => {
  let hashB64u = hashes.get(policy)
  if (hashB64u === undefined) {
    hashB64u = hash(policy)
    hashes.set(policy, hashB64u)
  }
  return { id: policy.id, version: policy.version, hash_b64u: hashB64u }
}
