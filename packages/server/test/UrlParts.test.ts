/**
 * The URL's parts: path parameters of at most the length the OpenAPI document gives them, and a
 * query string with one value per parameter and only the parameters the route's Schema names.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as H from "./helpers.js"

let server: H.TestServer
let call: H.Call
let token: string
beforeAll(async () => {
  server = await H.startSqlite()
  call = H.client(server.url)
  token = await H.registerRequester(call, H.signer(1))
})
afterAll(async () => {
  await server?.cleanup()
})

describe("path parameters", () => {
  it("an id longer than documented is refused as invalid, not looked up", async () => {
    const document = (await call("GET", "/openapi.json")).body
    const max = document.paths["/v1/bounties/{bounty_id}"].get.parameters[0].schema.maxLength
    const atMax = await call("GET", `/v1/bounties/${"x".repeat(max)}`, { token })
    assert.deepStrictEqual([atMax.status, atMax.body.error], [404, "NOT_FOUND"])
    const over = await call("GET", `/v1/bounties/${"x".repeat(max + 1)}`, { token })
    assert.deepStrictEqual([over.status, over.body.error, over.body.details?.issues?.[0]?.path], [400, "INVALID_REQUEST", "bounty_id"])
    // The document counts characters (code points), not UTF-16 units.
    const emoji = await call("GET", `/v1/bounties/${encodeURIComponent("😀".repeat(max))}`, { token })
    assert.deepStrictEqual([emoji.status, emoji.body.error], [404, "NOT_FOUND"])
  })
})

describe("query parameters", () => {
  it("an unknown parameter is refused, whatever its name", async () => {
    for (const name of ["extra", "constructor", "__proto__"]) {
      const reply = await call("GET", `/v1/bounties?status=open&${name}=1`, { token })
      assert.deepStrictEqual([reply.status, reply.body.error, reply.body.details?.issues?.[0]?.path], [400, "INVALID_REQUEST", name], name)
    }
  })
})
