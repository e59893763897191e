/**
 * Keys from fixed seeds: every principal of a test or a simulation is an Ed25519 key pair derived
 * from a number or a (seed, label) pair, so a run replays with the same DIDs and signatures.
 * Never use these keys for anything real: their private halves are derivable by anyone.
 */
import { Did } from "@clawbounties/domain"
import { Hash, Sign } from "@clawbounties/verify"

/** A principal's key pair, its did:key and a signer for `@clawbounties/verify`'s builders. */
export interface Key {
  readonly did: Did.DidKey
  readonly signer: Sign.Signer
}

/** The key of a 32-byte seed. */
export const fromSeed = (seed: Uint8Array): Key => {
  const signer = Sign.signerFromSeed(seed)
  return { did: Did.fromPublicKey(signer.publicKey), signer }
}

/**
 * `key(1)`, `key(2)`, ...: a key whose seed is 32 bytes of `n` (1..255). The same keys as the
 * marketplace's own tests, so fixtures agree.
 */
export const key = (n: number): Key => {
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new RangeError(`key(n) takes 0..255, got ${n}`)
  return fromSeed(new Uint8Array(32).fill(n))
}

/** A key derived from a run's seed and a label (`derive(42, "requester/3")`): SHA-256 of both. */
export const derive = (seed: number | string, label: string): Key =>
  fromSeed(Hash.sha256(Hash.utf8(`clawbounties-testkit:${seed}:${label}`)))
