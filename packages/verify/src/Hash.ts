/**
 * SHA-256 helpers. Every hash in the protocol is SHA-256, written base64url without padding.
 *
 * Uses OpenSSL through `node:crypto`: measured here it is 5-10x faster than `@noble/hashes` on
 * the protocol's inputs (a 3.5 KB bundle payload: ~15 µs against ~100 µs; a 200-byte event:
 * ~2 µs against ~20 µs), and hashing is most of a bundle's non-signature cost.
 */
import { createHash, hash as oneShot } from "node:crypto"
import * as Base64Url from "./Base64Url.js"

const digest = (bytes: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(bytes).digest())

const encoder = new TextEncoder()

export const utf8 = (text: string): Uint8Array => encoder.encode(text)

export const sha256 = (bytes: Uint8Array): Uint8Array => digest(bytes)

/** base64url(SHA-256(bytes)): 43 characters. */
export const sha256B64u = (bytes: Uint8Array): string => Base64Url.encode(digest(bytes))

/** base64url(SHA-256(UTF-8(text))). */
// `crypto.hash` (Node >= 20.12) is the one-shot form: half the per-call cost of createHash.
export const sha256B64uOfString = (text: string): string => oneShot("sha256", text, "base64url")

/**
 * The reference's payload hash: SHA-256 over the UTF-8 bytes of `JSON.stringify(value)`.
 * Not JCS: key order is the order JSON.parse produced. `undefined` when the value cannot be
 * serialised (JSON.stringify throws on BigInt and cycles, returns undefined for functions).
 */
export const jsonHashB64u = (value: unknown): string | undefined => {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch {
    return undefined
  }
  return text === undefined ? undefined : sha256B64uOfString(text)
}

/** Lower-case hex of SHA-256 (legacy m1 objects and git-style digests). */
export const sha256Hex = (bytes: Uint8Array): string => {
  let out = ""
  for (const b of digest(bytes)) out += b.toString(16).padStart(2, "0")
  return out
}
