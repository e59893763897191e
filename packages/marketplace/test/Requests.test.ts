/**
 * Command inputs: a post carries its idempotency key, and free text that PostgreSQL could not store
 * (U+0000) or either store would silently change (an unpaired surrogate) is refused when decoding,
 * so both stores answer alike.
 */
import { assert, describe, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import * as Operators from "../src/Operators.js"
import * as Requests from "../src/Requests.js"

const post = {
  title: "Research best approach",
  description: "Summarise the options.\n\n\tThen recommend one.\r\n",
  reward: { amount_minor: "5000", currency: "USD" },
  closure_type: "requester",
  difficulty_scalar: 1,
  tags: ["research"],
  idempotency_key: "post-1"
}
const decodes = <A, I>(schema: Schema.Schema<A, I>, input: unknown) => Either.isRight(Schema.decodeUnknownEither(schema)(input))

describe("command inputs", () => {
  it("keeps tabs, newlines and paired surrogates", () => {
    assert.isTrue(decodes(Requests.PostBounty, post))
    assert.isTrue(decodes(Requests.PostBounty, { ...post, title: "Fix the parser 🦀" }))
  })

  it("a post needs an idempotency key: it moves the reward into escrow", () => {
    const { idempotency_key: _key, ...keyless } = post
    assert.isFalse(decodes(Requests.PostBounty, keyless))
  })

  it("refuses U+0000, other control characters and unpaired surrogates in every text field", () => {
    for (const bad of ["a\u0000b", "a\u0007b", "a\u007fb", "a\ud800b", "a\udc00b", "\ud83e"]) {
      assert.isFalse(decodes(Requests.PostBounty, { ...post, title: bad }), JSON.stringify(bad))
      assert.isFalse(decodes(Requests.PostBounty, { ...post, description: bad }), JSON.stringify(bad))
      assert.isFalse(decodes(Requests.PostBounty, { ...post, tags: ["ok", bad] }), JSON.stringify(bad))
      assert.isFalse(decodes(Requests.Reject, { submission_id: "sub_000001", reason: bad }), JSON.stringify(bad))
      assert.isFalse(decodes(Requests.Cancel, { reason: bad }), JSON.stringify(bad))
      assert.isFalse(decodes(Requests.ResolveDispute, { outcome: "worker_award", note: bad }), JSON.stringify(bad))
      assert.isFalse(
        decodes(Operators.Credit, { did: "did:key:z6Mk", amount_minor: "1", currency: "USD", reason: bad, idempotency_key: "k" }),
        JSON.stringify(bad)
      )
    }
  })
})
