/**
 * Hostile bodies for every route that takes one (fast-check): wrong types, missing and extra fields,
 * huge strings, negative and fractional amounts, deep nesting, arbitrary JSON, non-JSON, a wrong
 * content type, an oversized body. Every answer is a 4xx whose code is in the catalogue with the
 * catalogue's status (or a 2xx only for a body the route's Schema accepts, on a route that writes
 * nothing), never a 5xx; and the database is unchanged. The bodies start from `targets.ts`.
 */
import { ErrorCatalogue } from "@clawbounties/domain"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Either, JSONSchema, Schema } from "effect"
import * as fc from "fast-check"
import type { Route } from "../src/Route.js"
import { routes } from "../src/Routes.js"
import * as H from "./helpers.js"
import { targets } from "./targets.js"

/** Routes that change nothing even when they succeed. */
const readOnly = new Set(["simulateFees", "verifyEnvelope", "verifyProofBundle", "verifyCommitProof"])

type Json = unknown
const kind = (v: Json) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v)
const isEmptyObject = (v: Json) => kind(v) === "object" && Object.keys(v as object).length === 0
const nest = (depth: number): Json => {
  let value: Json = 1
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { a: value }
  return value
}

interface FieldInfo {
  readonly required: ReadonlyArray<string>
  readonly properties: ReadonlySet<string>
  /** Fields whose schema constrains the JSON type (not `unknown`). */
  readonly typed: ReadonlySet<string>
}

const fieldsOf = (route: Route): FieldInfo => {
  const schema = JSONSchema.fromAST(route.body!.ast, { definitions: {}, topLevelReferenceStrategy: "skip" }) as {
    properties?: Record<string, Record<string, unknown>>
    required?: Array<string>
  }
  const properties = schema.properties ?? {}
  const meaningful = (s: Record<string, unknown>) => Object.keys(s).some((k) => !["description", "title", "$id", "examples"].includes(k))
  return {
    required: schema.required ?? [],
    properties: new Set(Object.keys(properties)),
    typed: new Set(Object.entries(properties).filter(([, s]) => meaningful(s)).map(([k]) => k))
  }
}

const amountPaths = (template: Record<string, unknown>): Array<Array<string>> => {
  const out: Array<Array<string>> = []
  const walk = (value: unknown, path: Array<string>) => {
    if (kind(value) !== "object") return
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (k.endsWith("amount_minor")) out.push([...path, k])
      else walk(v, [...path, k])
    }
  }
  walk(template, [])
  return out
}

const setPath = (value: Record<string, unknown>, path: ReadonlyArray<string>, leaf: unknown): Record<string, unknown> => {
  const [head, ...rest] = path
  return { ...value, [head!]: rest.length === 0 ? leaf : setPath(value[head!] as Record<string, unknown>, rest, leaf) }
}

/** Bodies derived from the template that no strict reading accepts as is. */
const hostileBodies = (template: Record<string, unknown>, info: FieldInfo): fc.Arbitrary<Json> => {
  const present = Object.keys(template)
  const typedPresent = present.filter((k) => info.typed.has(k))
  const stringFields = present.filter((k) => typeof template[k] === "string")
  const amounts = amountPaths(template)
  const options: Array<fc.Arbitrary<Json>> = [
    // Extra fields at the top level (strict schemas refuse them).
    fc.tuple(fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !info.properties.has(k) && k !== "__proto__"), fc.jsonValue({ maxDepth: 2 }))
      .map(([k, v]) => ({ ...template, [k]: v })),
    // Arbitrary JSON in place of the body.
    fc.jsonValue({ maxDepth: 3 }).filter((v) => !isEmptyObject(v) && !(kind(v) === "object" && Object.keys(v as object).every((k) => info.properties.has(k)))),
    // Deep nesting, in a field or as the whole body.
    fc.integer({ min: 65, max: 3000 }).chain((depth) =>
      fc.constantFrom<Json>(nest(depth), { ...template, [present[0] ?? "x"]: nest(depth) }))
  ]
  const required = info.required.filter((k) => k in template)
  if (required.length > 0) {
    options.push(fc.constantFrom(...required).map((k) => {
      const { [k]: _dropped, ...rest } = template
      return rest
    }))
  }
  if (typedPresent.length > 0) {
    options.push(fc.constantFrom(...typedPresent).chain((k) =>
      fc.jsonValue({ maxDepth: 2 }).filter((v) => kind(v) !== kind(template[k])).map((v) => ({ ...template, [k]: v }))))
  }
  if (stringFields.length > 0) {
    options.push(fc.tuple(fc.constantFrom(...stringFields), fc.constantFrom("x", "\u0000", "é"))
      .map(([k, c]) => ({ ...template, [k]: c.repeat(100_000) })))
  }
  if (amounts.length > 0) {
    options.push(fc.tuple(
      fc.constantFrom(...amounts),
      fc.constantFrom<Json>("-5", "1.5", "0x10", "1e3", " 5", "", "05", "1000000000000000000001", 5000, -1, 1.5, null, true)
    ).map(([path, v]) => setPath(template, path, v)))
  }
  return fc.oneof(...options)
}

describe("fuzzing the request bodies", () => {
  let server: H.TestServer
  let call: H.Call
  let f: H.Fixture
  beforeAll(async () => {
    server = await H.startSqlite()
    call = H.client(server.url)
    f = await H.buildFixture(call, 70)
  })
  afterAll(async () => {
    await server?.cleanup()
  })

  const withBody = routes.filter((route) => route.body !== undefined)

  it("has a target for every route that takes a body", () => {
    assert.deepStrictEqual(Object.keys(targets).sort(), withBody.map((route) => route.operationId).sort())
  })

  const codes = new Map(ErrorCatalogue.table.map((row) => [row.code, row.status]))
  const checkRefusal = (label: string, reply: H.Reply) => {
    assert.isBelow(reply.status, 500, `${label}: ${JSON.stringify(reply.body).slice(0, 500)}`)
    assert.isAtLeast(reply.status, 400, `${label}: ${JSON.stringify(reply.body).slice(0, 500)}`)
    assert.strictEqual(codes.get(reply.body.error), reply.status, `${label}: ${reply.body.error} is not catalogued with ${reply.status}`)
    assert.isString(reply.body.message)
    assert.strictEqual(kind(reply.body.details), "object")
  }

  for (const route of withBody) {
    it(`${route.method} ${route.path}: hostile bodies get a catalogued 4xx and write nothing`, async () => {
      const target = targets[route.operationId]!
      const info = fieldsOf(route)
      const token = target.token(f)
      const path = target.path(f)
      const template = target.template(f)
      const decodes = Schema.decodeUnknownEither(route.body!, { onExcessProperty: "error" })
      const before = await H.snapshot(server)

      await fc.assert(
        fc.asyncProperty(hostileBodies(template, info), async (body) => {
          const reply = await call(route.method, path, { token, body })
          if (reply.status < 300 && readOnly.has(route.operationId)) {
            assert.isTrue(Either.isRight(decodes(body)), `accepted a body its schema refuses: ${JSON.stringify(body).slice(0, 300)}`)
            return
          }
          checkRefusal(`${route.method} ${route.path} ${JSON.stringify(body).slice(0, 200)}`, reply)
        }),
        { numRuns: 25 }
      )

      // Not JSON at all; JSON under another content type; a body over the limit.
      await fc.assert(
        fc.asyncProperty(fc.string({ minLength: 1, maxLength: 200 }).filter((s) => {
          try {
            JSON.parse(s)
            return false
          } catch {
            return true
          }
        }), async (text) => {
          const reply = await call(route.method, path, { token, raw: text })
          checkRefusal(`non-JSON ${JSON.stringify(text)}`, reply)
          assert.strictEqual(reply.body.error, "MALFORMED_JSON")
        }),
        { numRuns: 5 }
      )
      const asText = await call(route.method, path, { token, raw: JSON.stringify(template), contentType: "text/plain" })
      assert.strictEqual(asText.body.error, "UNSUPPORTED_MEDIA_TYPE")
      assert.strictEqual(asText.status, 415)
      // A body labelled gzip, or in a charset other than UTF-8, is not read as plain UTF-8 JSON.
      const encoded = await call(route.method, path, { token, raw: JSON.stringify(template), headers: { "content-encoding": "gzip" } })
      assert.deepStrictEqual([encoded.status, encoded.body.error, encoded.body.details?.content_encoding], [415, "UNSUPPORTED_MEDIA_TYPE", "gzip"])
      const utf16 = await call(route.method, path, { token, raw: JSON.stringify(template), contentType: "application/json; charset=utf-16" })
      assert.deepStrictEqual([utf16.status, utf16.body.error], [415, "UNSUPPORTED_MEDIA_TYPE"])
      const huge = await call(route.method, path, { token, raw: JSON.stringify({ ...template, pad: "x".repeat(300 * 1024) }) })
      assert.strictEqual(huge.body.error, "PAYLOAD_TOO_LARGE")
      assert.strictEqual(huge.status, 413)
      const invalidUtf8 = await call(route.method, path, { token, raw: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) })
      assert.strictEqual(invalidUtf8.body.error, "MALFORMED_JSON")

      assert.strictEqual(await H.snapshot(server), before, `${route.operationId}: a refused request wrote something`)
    })
  }
})
