/**
 * `route` keeps a route's declared errors equal to what its handler can fail with, so
 * `/openapi.json` neither misses a code the route returns nor lists one it cannot. The checks are
 * compile-time: `tsc -b` fails on an unused `@ts-expect-error` below if either check stops working.
 */
import { ErrorCatalogue } from "@clawbounties/domain"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { route } from "../src/Route.js"
import * as Schemas from "../src/Schemas.js"

const base = {
  method: "GET",
  path: "/probe",
  operationId: "probe",
  tag: "Test",
  summary: "probe",
  auth: "public",
  status: 200,
  response: Schemas.Health
} as const

const notFound = () => Effect.fail(new ErrorCatalogue.NotFound({ entity: "probe", id: "x" })).pipe(Effect.as({ status: "ok" as const }))

describe("route", () => {
  it("accepts declared errors equal to the handler's", () => {
    const exact = route({ ...base, errors: ["NotFound"], handler: notFound })
    assert.deepStrictEqual(exact.errors, ["NotFound"])
  })

  it("refuses, at compile time, an error the handler can fail with but the route does not declare", () => {
    // @ts-expect-error undeclared_errors: "NotFound"
    const missing = route({ ...base, errors: [], handler: notFound })
    assert.deepStrictEqual(missing.errors, [])
  })

  it("refuses, at compile time, a declared error the handler cannot fail with", () => {
    // @ts-expect-error overdeclared_errors: "InsufficientFunds"
    const extra = route({ ...base, errors: ["NotFound", "InsufficientFunds"], handler: notFound })
    assert.deepStrictEqual(extra.errors, ["NotFound", "InsufficientFunds"])
  })
})
