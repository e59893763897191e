/** Canonical JSON and request hashing, shared by idempotency and audit. */
import { hash as digest } from "node:crypto"

/** JSON with object keys sorted at every depth and bigints as digit strings: equal data, equal text. */
export const canonical = (value: unknown): string => JSON.stringify(sortKeys(value, new Set()))

/** `ancestors`: the objects being written around `value`, to refuse a cycle. */
const sortKeys = (value: unknown, ancestors: Set<object>): unknown => {
  if (typeof value === "bigint") return value.toString()
  if (value === null || typeof value !== "object") return value
  // A library caller can hand over an object that contains itself: say so, as JSON.stringify
  // does, rather than overflow the stack.
  if (ancestors.has(value)) throw new TypeError("Json.canonical: the value contains itself, and a cycle cannot be JSON")
  ancestors.add(value)
  let out: unknown
  if (Array.isArray(value)) {
    out = value.map((item) => sortKeys(item, ancestors))
  } else {
    // No prototype: a `__proto__` key (JSON.parse makes it an own property) stays data, where on
    // `{}` the assignment would set the prototype and drop the key from the text and its hash.
    const record: Record<string, unknown> = Object.create(null)
    for (const key of Object.keys(value).sort()) {
      const field = (value as Record<string, unknown>)[key]
      if (field !== undefined) record[key] = sortKeys(field, ancestors)
    }
    out = record
  }
  ancestors.delete(value)
  return out
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
