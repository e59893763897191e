/**
 * Base64url without padding (RFC 4648 §5), the encoding of every hash and signature in the
 * protocol.
 *
 * Two decoders, because the reference verifier is lax and we are not:
 * - {@link decode} is strict: alphabet `A-Z a-z 0-9 - _`, no padding, no length ≡ 1 (mod 4), and
 *   the unused low bits of the last character must be zero. Exactly one string encodes each byte
 *   sequence, so a signature cannot be re-encoded into a second accepted form.
 * - {@link decodeLax} reproduces the reference (`atob` after mapping `-_` to `+/`): it ignores the
 *   unused trailing bits. Used only in compat mode.
 *
 * Written without `Buffer` so the package also runs where Node's APIs do not exist.
 */

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
const values = new Int16Array(128).fill(-1)
for (let i = 0; i < alphabet.length; i++) values[alphabet.charCodeAt(i)] = i

/** The reference's shape check, `/^[A-Za-z0-9_-]+$/` (no emptiness, no padding). */
export const PATTERN = /^[A-Za-z0-9_-]+$/

export const isAlphabet = (text: string): boolean => PATTERN.test(text)

export const encode = (bytes: Uint8Array): string => {
  let out = ""
  const n = bytes.length
  let i = 0
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out += alphabet[v >> 18]! + alphabet[(v >> 12) & 63]! + alphabet[(v >> 6) & 63]! + alphabet[v & 63]!
  }
  if (n - i === 1) {
    const v = bytes[i]! << 16
    out += alphabet[v >> 18]! + alphabet[(v >> 12) & 63]!
  } else if (n - i === 2) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8)
    out += alphabet[v >> 18]! + alphabet[(v >> 12) & 63]! + alphabet[(v >> 6) & 63]!
  }
  return out
}

const at = (text: string, k: number): number => {
  const c = text.charCodeAt(k)
  return c < 128 ? values[c]! : -1
}

const decodeWith = (text: string, canonical: boolean): Uint8Array | undefined => {
  const len = text.length
  if (len % 4 === 1) return undefined
  const out = new Uint8Array(Math.floor((len * 3) / 4))
  let o = 0
  let i = 0
  for (; i + 3 < len; i += 4) {
    const a = at(text, i), b = at(text, i + 1), c = at(text, i + 2), d = at(text, i + 3)
    if ((a | b | c | d) < 0) return undefined
    const v = (a << 18) | (b << 12) | (c << 6) | d
    out[o++] = v >> 16
    out[o++] = (v >> 8) & 255
    out[o++] = v & 255
  }
  const rest = len - i
  if (rest === 2) {
    const a = at(text, i), b = at(text, i + 1)
    if ((a | b) < 0) return undefined
    if (canonical && (b & 15) !== 0) return undefined
    out[o++] = (a << 2) | (b >> 4)
  } else if (rest === 3) {
    const a = at(text, i), b = at(text, i + 1), c = at(text, i + 2)
    if ((a | b | c) < 0) return undefined
    if (canonical && (c & 3) !== 0) return undefined
    out[o++] = (a << 2) | (b >> 4)
    out[o++] = ((b & 15) << 4) | (c >> 2)
  }
  return out
}

/** Strict, canonical decode; `undefined` for anything that is not the one canonical encoding. */
export const decode = (text: string): Uint8Array | undefined => decodeWith(text, true)

/** The reference's decode: accepts non-zero unused trailing bits (compat mode only). */
export const decodeLax = (text: string): Uint8Array | undefined => decodeWith(text, false)

/** True when `text` is the canonical encoding of some byte string. */
export const isCanonical = (text: string): boolean => decode(text) !== undefined

/** Standard base64 with padding (used only by legacy "m1" Protocol M objects), decoded like `atob`. */
export const decodeStandardBase64 = (text: string): Uint8Array | undefined => {
  // atob: strips ASCII whitespace, allows 0-2 '=' padding when the length works out.
  const cleaned = text.replace(/[\t\n\f\r ]/g, "")
  let body = cleaned
  if (body.length % 4 === 0 && body.endsWith("==")) body = body.slice(0, -2)
  else if (body.length % 4 === 0 && body.endsWith("=")) body = body.slice(0, -1)
  if (!/^[A-Za-z0-9+/]*$/.test(body)) return undefined
  return decodeLax(body.replace(/\+/g, "-").replace(/\//g, "_"))
}

export const encodeStandardBase64 = (bytes: Uint8Array): string => {
  const s = encode(bytes).replace(/-/g, "+").replace(/_/g, "/")
  return s + "=".repeat((4 - (s.length % 4)) % 4)
}
