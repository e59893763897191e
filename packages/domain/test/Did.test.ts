import { assert, describe, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { createPrivateKey, createPublicKey } from "node:crypto"
import { Base58, Did } from "@clawbounties/domain"

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, "hex"))

/** RFC 8032 §7.1 test vectors 1-3: secret key and public key. */
const rfc8032 = [
  {
    secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    public: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
  },
  {
    secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    public: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
  },
  {
    secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    public: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025"
  }
] as const

/** The raw public key node:crypto derives from an Ed25519 seed (PKCS#8 prefix + 32 bytes). */
const publicKeyFromSeed = (seed: string): Uint8Array => {
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(seed, "hex")])
  const spki = createPublicKey(createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" })).export({
    format: "der",
    type: "spki"
  })
  return Uint8Array.from(spki.subarray(spki.length - 32))
}

describe("Did", () => {
  it("formats RFC 8032 test key 1 as the known did:key (golden value from the reference vectors)", () => {
    assert.strictEqual(
      Did.fromPublicKey(hex(rfc8032[0].public)),
      "did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw"
    )
  })

  for (const [index, vector] of rfc8032.entries()) {
    it(`round-trips RFC 8032 test ${index + 1}'s key through did:key`, () => {
      // The vector's public key is what node:crypto derives from its secret: the test data is right.
      assert.deepStrictEqual(publicKeyFromSeed(vector.secret), hex(vector.public))
      const did = Did.fromPublicKey(hex(vector.public))
      assert.isTrue(did.startsWith("did:key:z6Mk"))
      assert.deepStrictEqual(Either.getOrThrow(Did.parse(did)), hex(vector.public))
      const decoded = Schema.decodeUnknownSync(Did.DidKey)(did)
      assert.deepStrictEqual(Did.publicKeyOf(decoded), hex(vector.public))
    })
  }

  it("rejects other methods, other multicodecs, wrong lengths and bad base58 with a named problem", () => {
    const key = hex(rfc8032[0].public)
    const encode = (bytes: ReadonlyArray<number>) => `did:key:z${Base58.encode(Uint8Array.from(bytes))}`
    const cases: ReadonlyArray<readonly [string, Did.DidProblem]> = [
      ["", "empty"],
      ["x".repeat(Did.MAX_DID_LENGTH + 1), "too_long"],
      ["not-a-did", "not_a_did"],
      ["did:web:example.com", "unsupported_method"],
      ["did:claw:abc", "unsupported_method"],
      ["did:key:f" + "ab".repeat(34), "not_multibase_base58btc"],
      ["did:key:z6Mk0OIl", "invalid_base58"],
      // secp256k1 multicodec (0xe7 0x01) with a 33-byte key.
      [encode([0xe7, 0x01, 2, ...key]), "not_ed25519"],
      // X25519 multicodec (0xec 0x01).
      [encode([0xec, 0x01, ...key]), "not_ed25519"],
      [encode([0xed, 0x01, ...key.slice(0, 31)]), "wrong_key_length"],
      [encode([0xed, 0x01, ...key, 0]), "wrong_key_length"]
    ]
    for (const [did, problem] of cases) {
      assert.deepStrictEqual(Did.parse(did), Either.left(problem), did)
    }
  })

  it("explains each problem when the DidKey schema rejects", () => {
    const result = Schema.decodeUnknownEither(Did.DidKey)("did:web:example.com")
    if (Either.isRight(result)) throw new Error("did:web must be rejected")
    assert.include(result.left.message, Did.describeProblem("unsupported_method"))
  })

  it("refuses to format a key of the wrong length", () => {
    assert.throws(() => Did.fromPublicKey(new Uint8Array(31)))
  })

  it("keeps leading zero bytes through base58", () => {
    const bytes = Uint8Array.from([0, 0, 1, 2, 255])
    assert.deepStrictEqual(Base58.decode(Base58.encode(bytes)), bytes)
    assert.strictEqual(Base58.encode(Uint8Array.from([0, 0])), "11")
    assert.isUndefined(Base58.decode("0OIl"))
  })
})
