/** Canonical JSON and request hashing, shared by idempotency and audit. */
import { hash as digest } from "node:crypto"

/** JSON with object keys sorted at every depth and bigints as digit strings: equal data, equal text. */
export const canonical = (value: unknown): string => JSON.stringify(sortKeys(value))

const sortKeys = (value: unknown): unknown => {
  if (typeof value === "bigint") return value.toString()
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === "object") {
    // No prototype: a `__proto__` key (JSON.parse makes it an own property) stays data, where on
    // `{}` the assignment would set the prototype and drop the key from the text and its hash.
    const out: Record<string, unknown> = Object.create(null)
    for (const key of Object.keys(value).sort()) {
      const field = (value as Record<string, unknown>)[key]
      if (field !== undefined) out[key] = sortKeys(field)
    }
    return out
  }
  return value
}

/** SHA-256 of the canonical JSON, base64url without padding. */
export const hash = (value: unknown): string => hashCanonical(canonical(value))

/** {@link hash} of a value whose canonical JSON is already at hand. */
export const hashCanonical = (canonicalJson: string): string => digest("sha256", canonicalJson, "base64url")

/** The first top-level field whose canonical value differs between two requests, for error messages. */
export const firstDifference = (a: unknown, b: unknown): string => {
  const left = (a ?? {}) as Record<string, unknown>
  const right = (b ?? {}) as Record<string, unknown>
  const keys = [...new Set([...Object.keys(left), ...Object.keys(right)])].sort()
  return keys.find((key) => canonical(left[key]) !== canonical(right[key])) ?? "request"
}
