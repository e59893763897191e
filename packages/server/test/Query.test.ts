/** The query string: one value per parameter, and only the parameters the route's Schema names. */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as H from "./helpers.js"

describe("query parameters", () => {
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

  it("an unknown parameter is refused, whatever its name", async () => {
    for (const name of ["extra", "constructor", "__proto__"]) {
      const reply = await call("GET", `/v1/bounties?status=open&${name}=1`, { token })
      assert.deepStrictEqual([reply.status, reply.body.error, reply.body.details?.issues?.[0]?.path], [400, "INVALID_REQUEST", name], name)
    }
  })
})
