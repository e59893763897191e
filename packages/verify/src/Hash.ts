/**
 * SHA-256 helpers. Every hash in the protocol is SHA-256, written base64url without padding.
 *
 * Uses `@noble/hashes` (pure JS, audited) so the package needs no `node:crypto` for hashing;
 * for the sub-kilobyte inputs the protocol hashes it is as fast as OpenSSL through Node's binding.
 */
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js"
import * as Base64Url from "./Base64Url.js"

const encoder = new TextEncoder()

export const utf8 = (text: string): Uint8Array => encoder.encode(text)

export const sha256 = (bytes: Uint8Array): Uint8Array => nobleSha256(bytes)

/** base64url(SHA-256(bytes)): 43 characters. */
export const sha256B64u = (bytes: Uint8Array): string => Base64Url.encode(nobleSha256(bytes))

/** base64url(SHA-256(UTF-8(text))). */
export const sha256B64uOfString = (text: string): string => sha256B64u(encoder.encode(text))

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
  for (const b of nobleSha256(bytes)) out += b.toString(16).padStart(2, "0")
  return out
}
