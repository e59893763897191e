/**
 * Decentralised identifiers. Principals are `did:key` DIDs holding an Ed25519 public key:
 * `did:key:z` + base58btc(0xed 0x01 || 32-byte key). Any other method is refused.
 */
import { Either, ParseResult, Schema } from "effect"
import * as Base58 from "./Base58.js"

const ED25519_MULTICODEC = [0xed, 0x01] as const
export const ED25519_PUBLIC_KEY_LENGTH = 32
/** Longest accepted DID string: a did:key with an Ed25519 key is 56 characters. */
export const MAX_DID_LENGTH = 128

export type DidProblem =
  | "empty"
  | "too_long"
  | "not_a_did"
  | "unsupported_method"
  | "not_multibase_base58btc"
  | "invalid_base58"
  | "not_ed25519"
  | "wrong_key_length"

const messages: Record<DidProblem, string> = {
  empty: "a DID must not be empty",
  too_long: `a DID is at most ${MAX_DID_LENGTH} characters`,
  not_a_did: "a DID has the form did:<method>:<id>",
  unsupported_method: "only did:key DIDs are supported",
  not_multibase_base58btc: "a did:key identifier starts with 'z' (multibase base58btc)",
  invalid_base58: "the did:key identifier is not valid base58btc",
  not_ed25519: "the did:key does not hold an Ed25519 key (multicodec 0xed01)",
  wrong_key_length: `an Ed25519 did:key holds exactly ${ED25519_PUBLIC_KEY_LENGTH} key bytes`
}

export const describeProblem = (problem: DidProblem): string => messages[problem]

/** Parses a `did:key` and returns its Ed25519 public key, or the first problem found. */
export const parse = (did: string): Either.Either<Uint8Array, DidProblem> => {
  if (did.length === 0) return Either.left("empty")
  if (did.length > MAX_DID_LENGTH) return Either.left("too_long")
  const match = /^did:([a-z0-9]+):(.+)$/.exec(did)
  if (match === null) return Either.left("not_a_did")
  if (match[1] !== "key") return Either.left("unsupported_method")
  const id = match[2]!
  if (!id.startsWith("z")) return Either.left("not_multibase_base58btc")
  const bytes = Base58.decode(id.slice(1))
  if (bytes === undefined) return Either.left("invalid_base58")
  if (bytes[0] !== ED25519_MULTICODEC[0] || bytes[1] !== ED25519_MULTICODEC[1]) return Either.left("not_ed25519")
  if (bytes.length !== 2 + ED25519_PUBLIC_KEY_LENGTH) return Either.left("wrong_key_length")
  return Either.right(bytes.slice(2))
}

/** Formats an Ed25519 public key as a `did:key`. */
export const fromPublicKey = (publicKey: Uint8Array): DidKey => {
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH) {
    throw new RangeError(messages.wrong_key_length)
  }
  return `did:key:z${Base58.encode(Uint8Array.from([...ED25519_MULTICODEC, ...publicKey]))}` as DidKey
}

/** A `did:key` string that parses to an Ed25519 public key. */
export const DidKey = Schema.String.pipe(
  Schema.filter((input) => {
    const parsed = parse(input)
    return Either.isRight(parsed) || messages[parsed.left]
  }),
  Schema.brand("DidKey")
).annotations({ identifier: "DidKey", description: "a did:key DID with an Ed25519 key" })
export type DidKey = typeof DidKey.Type

/** The public key inside a `DidKey` (it was checked when decoded). */
export const publicKeyOf = (did: DidKey): Uint8Array =>
  Either.getOrThrowWith(parse(did), (problem) => new ParseResult.Type(DidKey.ast, did, messages[problem]))
