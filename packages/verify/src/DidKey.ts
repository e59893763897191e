/**
 * `did:key` resolution for verification, with the reference's failure distinctions.
 *
 * The reference first gates the string with {@link FORMAT} (`did:key` or `did:web`), then decodes
 * `did:key:z` + base58btc(0xed 0x01 ‖ key) **without a length check**: a key of the wrong length
 * reaches the signature check and fails there as SIGNATURE_INVALID. Strict mode uses
 * `Did.parse` from `@clawbounties/domain`, which also requires exactly 32 key bytes, so the same
 * input fails earlier as INVALID_DID_FORMAT.
 *
 * Resolved keys are kept in a bounded cache so that a DID seen again (the agent of every bundle,
 * the gateway of every receipt) costs a map lookup, and so that the node:crypto backend, which
 * caches parsed keys by array identity, parses each key once.
 */
import { Base58, Did } from "@clawbounties/domain"
import { Either } from "effect"

/** The reference's format gate, applied before any crypto. */
export const FORMAT = /^did:(key|web):[a-zA-Z0-9._%-]+$/

export const isWellFormed = (did: unknown): did is string => typeof did === "string" && FORMAT.test(did)

/** The reference's decode: prefix, base58, multicodec 0xed01; any length after it. */
export const decodeLax = (did: string): Uint8Array | undefined => {
  if (!did.startsWith("did:key:z")) return undefined
  const bytes = Base58.decode(did.slice(9))
  if (bytes === undefined || bytes.length < 2 || bytes[0] !== 0xed || bytes[1] !== 0x01) return undefined
  return bytes.slice(2)
}

const MAX_CACHED = 4096
const strictCache = new Map<string, Uint8Array | null>()
const laxCache = new Map<string, Uint8Array | null>()

const remember = (cache: Map<string, Uint8Array | null>, did: string, key: Uint8Array | null) => {
  // Bounded: drop the oldest entry (Map iterates in insertion order).
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!)
  cache.set(did, key)
  return key
}

/**
 * The Ed25519 public key of a did:key. `strict` requires a 32-byte key (domain `Did.parse`);
 * otherwise the reference's lax decode. `undefined` when the DID does not decode.
 */
export const resolve = (did: string, strict: boolean): Uint8Array | undefined => {
  const cache = strict ? strictCache : laxCache
  const hit = cache.get(did)
  if (hit !== undefined) return hit ?? undefined
  const key = strict ? Either.getOrNull(Did.parse(did)) : (decodeLax(did) ?? null)
  return remember(cache, did, key) ?? undefined
}

/** `did:key:z…` for a 32-byte Ed25519 public key. */
export const fromPublicKey = (publicKey: Uint8Array): string => Did.fromPublicKey(publicKey)
