/**
 * Ed25519 signature verification behind one interface, with two backends:
 *
 * - {@link nodeBackend}: `node:crypto` (OpenSSL). Fast; the default on Node. Parsed public keys are
 *   cached per key object, see {@link KeyCache}.
 * - {@link nobleBackend}: `@noble/ed25519` with `{ zip215: false }`, i.e. RFC 8032 strict
 *   (canonical point encodings, S < L, cofactorless equation) like OpenSSL. For runtimes without
 *   `node:crypto`. About ten times slower.
 *
 * Both are plain values so the hot path is a synchronous call; {@link Ed25519} is the Effect
 * service carrying the chosen backend, with {@link layerNode} and {@link layerNoble}.
 *
 * Both backends apply the checks they must agree on: the key is 32 bytes and the signature 64 bytes
 * (anything else is simply "not valid"), and the key is a canonical point not of small order.
 */
import { sha512 } from "@noble/hashes/sha2.js"
import * as ed from "@noble/ed25519"
import { Context, Layer } from "effect"
import * as nodeCrypto from "node:crypto"

ed.hashes.sha512 = sha512

export const PUBLIC_KEY_LENGTH = 32
export const SIGNATURE_LENGTH = 64
export const SEED_LENGTH = 32

export interface Backend {
  readonly name: "node" | "noble"
  /** Returns false (never throws) for an invalid key, signature or mismatch. */
  readonly verify: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean
}

// DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows.
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])
// DER prefix of an Ed25519 PKCS#8 private key; the 32-byte seed follows.
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20
])

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

/**
 * Parsed `KeyObject`s, keyed by the identity of the raw key array. Callers that resolve keys
 * through `DidKey.resolve` get the same array for the same DID (from its bounded cache), so each
 * DID's key is parsed by OpenSSL once; a WeakMap lets unused entries go with their arrays.
 */
const KeyCache = new WeakMap<Uint8Array, nodeCrypto.KeyObject | null>()

/**
 * RFC 8032 strict keys only, as the noble backend: a canonical point encoding, not of small order.
 * OpenSSL checks neither, and under a small-order key one signature (R the identity, S = 0)
 * verifies for every message.
 */
const isStrictKey = (publicKey: Uint8Array): boolean => {
  try {
    return !ed.Point.fromBytes(publicKey, false).isSmallOrder()
  } catch {
    return false
  }
}

const nodeKey = (publicKey: Uint8Array): nodeCrypto.KeyObject | null => {
  const cached = KeyCache.get(publicKey)
  if (cached !== undefined) return cached
  let key: nodeCrypto.KeyObject | null
  try {
    key = isStrictKey(publicKey)
      ? nodeCrypto.createPublicKey({ key: Buffer.from(concat(SPKI_PREFIX, publicKey)), format: "der", type: "spki" })
      : null
  } catch {
    key = null
  }
  KeyCache.set(publicKey, key)
  return key
}

export const nodeBackend: Backend = {
  name: "node",
  verify: (publicKey, message, signature) => {
    if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false
    const key = nodeKey(publicKey)
    if (key === null) return false
    try {
      return nodeCrypto.verify(null, message, key, signature)
    } catch {
      return false
    }
  }
}

export const nobleBackend: Backend = {
  name: "noble",
  verify: (publicKey, message, signature) => {
    if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false
    try {
      return ed.verify(signature, message, publicKey, { zip215: false })
    } catch {
      return false
    }
  }
}

export const backends: ReadonlyArray<Backend> = [nodeBackend, nobleBackend]

/** The Ed25519 backend in use. */
export class Ed25519 extends Context.Tag("@clawbounties/verify/Ed25519")<Ed25519, Backend>() {}

export const layerNode: Layer.Layer<Ed25519> = Layer.succeed(Ed25519, nodeBackend)
export const layerNoble: Layer.Layer<Ed25519> = Layer.succeed(Ed25519, nobleBackend)

// ---------------------------------------------------------------------------------------------
// Keys and signing (used by the signing builders, the testkit and workers).

/** An Ed25519 key pair from a 32-byte seed (RFC 8032 secret key). */
export interface KeyPair {
  readonly seed: Uint8Array
  readonly publicKey: Uint8Array
}

export const keyPairFromSeed = (seed: Uint8Array): KeyPair => {
  if (seed.length !== SEED_LENGTH) throw new RangeError("an Ed25519 seed is 32 bytes")
  return { seed: Uint8Array.from(seed), publicKey: ed.getPublicKey(seed) }
}

const privateKeys = new WeakMap<Uint8Array, nodeCrypto.KeyObject>()

/** Signs with node:crypto (deterministic, identical to noble's output per RFC 8032). */
export const sign = (keyPair: KeyPair, message: Uint8Array): Uint8Array => {
  let key = privateKeys.get(keyPair.seed)
  if (key === undefined) {
    key = nodeCrypto.createPrivateKey({ key: Buffer.from(concat(PKCS8_PREFIX, keyPair.seed)), format: "der", type: "pkcs8" })
    privateKeys.set(keyPair.seed, key)
  }
  return new Uint8Array(nodeCrypto.sign(null, message, key))
}

/** Signs with @noble/ed25519 (for runtimes without node:crypto). */
export const signNoble = (keyPair: KeyPair, message: Uint8Array): Uint8Array => ed.sign(message, keyPair.seed)
