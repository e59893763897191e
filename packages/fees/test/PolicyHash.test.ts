import { assert, describe, it } from "@effect/vitest"
import { Policy, PolicyHash } from "@clawbounties/fees"
import { createHash } from "node:crypto"

describe("PolicyHash", () => {
  it("serialises canonically: sorted keys, no whitespace, bigints as digit strings", () => {
    assert.strictEqual(PolicyHash.canonicalJson({ b: 1, a: [true, null, "x"], c: 25n }), '{"a":[true,null,"x"],"b":1,"c":"25"}')
    assert.strictEqual(PolicyHash.canonicalJson({ z: { y: 1, x: 2 }, skipped: undefined }), '{"z":{"x":2,"y":1}}')
    assert.strictEqual(PolicyHash.canonicalJson("é\"\n"), JSON.stringify("é\"\n"))
    assert.throws(() => PolicyHash.canonicalJson({ rate: 7.5 }))
    assert.throws(() => PolicyHash.canonicalJson({ f: () => 1 }))
  })

  it("hashes SHA-256 over that serialisation, base64url without padding", () => {
    const expected = createHash("sha256").update(PolicyHash.canonicalJson(Policy.bountiesV1)).digest("base64url")
    assert.strictEqual(PolicyHash.hash(Policy.bountiesV1), expected)
    assert.match(PolicyHash.hash(Policy.bountiesV1), /^[A-Za-z0-9_-]{43}$/)
  })

  it("is pinned: a change to a published policy must be a new version, not a silent edit", () => {
    // If one of these changes, a stored bounty's policy hash no longer matches its policy.
    assert.strictEqual(PolicyHash.hash(Policy.bountiesV1), BOUNTIES_V1_HASH)
    assert.strictEqual(PolicyHash.hash(Policy.tipsV1), TIPS_V1_HASH)
    assert.strictEqual(
      PolicyHash.canonicalJson(Policy.tipsV1),
      '{"id":"tips_v1","product":"clawtips","rounding":"ceil","rules":[{"buyer_fee_bps":0,"closure_type":"*","is_code_bounty":"*","min_fee_minor":"0","worker_fee_bps":0}],"version":"1"}'
    )
    assert.deepStrictEqual(PolicyHash.reference(Policy.bountiesV1), { id: "bounties_v1", version: "1", hash_b64u: BOUNTIES_V1_HASH })
  })

  it("does not depend on key order, and changes with any rule field", () => {
    const reordered = JSON.parse(JSON.stringify(Policy.bountiesV1, (_, v) => (typeof v === "bigint" ? `${v}n` : v)))
    const revive = (value: unknown): unknown =>
      Array.isArray(value) ? value.map(revive)
        : typeof value === "object" && value !== null
        ? Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, revive(v)]))
        : typeof value === "string" && /^[0-9]+n$/.test(value) ? BigInt(value.slice(0, -1))
        : value
    assert.strictEqual(PolicyHash.hash(revive(reordered) as Policy.Policy), PolicyHash.hash(Policy.bountiesV1))

    const base = PolicyHash.hash(Policy.bountiesV1)
    const edits: ReadonlyArray<Policy.Policy> = [
      { ...Policy.bountiesV1, version: "2" },
      { ...Policy.bountiesV1, rules: Policy.bountiesV1.rules.slice(1) },
      { ...Policy.bountiesV1, rules: Policy.bountiesV1.rules.map((r, i) => (i === 0 ? { ...r, buyer_fee_bps: 501 } : r)) },
      { ...Policy.bountiesV1, rules: Policy.bountiesV1.rules.map((r, i) => (i === 1 ? { ...r, min_fee_minor: 26n } : r)) },
      { ...Policy.bountiesV1, rules: Policy.bountiesV1.rules.map((r, i) => (i === 3 ? { ...r, is_code_bounty: true } : r)) }
    ]
    for (const edited of edits) assert.notStrictEqual(PolicyHash.hash(edited), base)
  })
})

const BOUNTIES_V1_HASH = "F9Z-uPJsIDIM0uFrPRjtn-fVcu7SVQI6h88kt7DfRHo"
const TIPS_V1_HASH = "omDy3vxsrVZk8S177sPeMFFv9vVGtAlfS3HxHWrvq0c"
