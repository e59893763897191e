import { assert, describe, it } from "@effect/vitest"
import * as Json from "../src/Json.js"

describe("Json.canonical", () => {
  it("refuses a value that contains itself with a TypeError saying so, not a stack overflow", () => {
    const metadata: Record<string, unknown> = { a: 1 }
    metadata.self = { back: [metadata] }
    assert.throws(() => Json.canonical({ metadata }), TypeError, "Json.canonical: the value contains itself")
  })

  it("writes a value shared by two fields (no cycle) at both places", () => {
    const shared = { b: 2n, a: 1 }
    assert.strictEqual(Json.canonical({ y: shared, x: [shared] }), `{"x":[{"a":1,"b":"2"}],"y":{"a":1,"b":"2"}}`)
  })
})
