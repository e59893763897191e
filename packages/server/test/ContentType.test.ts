/** Which bodies the edge reads as JSON: JSON media types in UTF-8 (or its subset US-ASCII), unencoded. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as Http from "../src/Http.js"

describe("the JSON a body may be sent as", () => {
  it("media types and charsets", () => {
    for (const accepted of ["application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8", 'application/json; charset="utf-8"', "application/json; charset=us-ascii", "application/problem+json"]) {
      assert.isTrue(Http.isJsonContentType(accepted), accepted)
    }
    for (const refused of ["text/plain", "application/json; charset=utf-16", "application/json; charset=latin1", "application/jsonx", null]) {
      assert.isFalse(Http.isJsonContentType(refused), String(refused))
    }
  })

  it("content codings: none or identity is read; any other is 415, naming it", () => {
    const parse = (contentEncoding: string | null) =>
      Effect.runSync(Effect.either(Http.parseJson({ _tag: "Text", text: '{"a":1}' }, { contentType: "application/json", contentEncoding }, 1024)))
    assert.deepStrictEqual(parse(null), Either.right({ a: 1 }))
    assert.deepStrictEqual(parse("identity"), Either.right({ a: 1 }))
    const gzip = parse("gzip")
    assert.isTrue(Either.isLeft(gzip) && gzip.left._tag === "UnsupportedMediaType" && gzip.left.content_encoding === "gzip")
  })
})
