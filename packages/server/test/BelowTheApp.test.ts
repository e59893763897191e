/**
 * Requests refused before the app sees them (by Node's HTTP parser, or because no Request can be
 * built from them) still get the catalogue's `{ error, message, details }` body, as raw bytes on a
 * socket show: not Node's bare status line, nor the adapter's empty 400.
 */
import { ErrorCatalogue } from "@clawbounties/domain"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as EdgeRefusals from "../src/EdgeRefusals.js"
import * as H from "./helpers.js"

let server: H.TestServer
beforeAll(async () => {
  server = await H.startSqlite()
})
afterAll(async () => {
  await server.cleanup()
})

const assertCatalogued = (reply: { readonly status: number; readonly headers: string; readonly body: string }, code: string) => {
  assert.include(reply.headers, "content-type: application/json", reply.headers)
  const body = JSON.parse(reply.body) as { error: string; message: string; details: unknown }
  assert.strictEqual(body.error, code, reply.body)
  assert.isString(body.message)
  assert.isObject(body.details)
  const entry = Object.values(ErrorCatalogue.entries).find((e) => e.code === code)
  assert.strictEqual(reply.status, entry?.status, `status of ${code}`)
}

describe("refusals below the app", () => {
  it("headers larger than Node accepts: 431 HEADERS_TOO_LARGE", async () => {
    const reply = await H.rawExchange(server.port, `GET /v1/bounties HTTP/1.1\r\nHost: x\r\nX-Filler: ${"a".repeat(20_000)}\r\n\r\n`)
    assertCatalogued(reply, "HEADERS_TOO_LARGE")
  })

  it("a request that is not HTTP: 400 INVALID_REQUEST", async () => {
    assertCatalogued(await H.rawExchange(server.port, "HELLO THERE\r\n\r\n"), "INVALID_REQUEST")
    assertCatalogued(await H.rawExchange(server.port, "GET /v1/bounties HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"), "INVALID_REQUEST")
  })

  it("a request no URL can be built from (a bad Host): 400 INVALID_REQUEST", async () => {
    assertCatalogued(await H.rawExchange(server.port, "GET /health HTTP/1.1\r\nHost: exa mple\r\nConnection: close\r\n\r\n"), "INVALID_REQUEST")
  })

  it("a request that never arrives in full: 408 REQUEST_TIMEOUT (Node's request timeout is minutes: checked on the answer)", () => {
    const refusal = EdgeRefusals.parserRefusal(Object.assign(new Error("timeout"), { code: "ERR_HTTP_REQUEST_TIMEOUT" }))
    assert.isDefined(refusal)
    const raw = EdgeRefusals.rawResponse(refusal!)
    const end = raw.indexOf("\r\n\r\n")
    assertCatalogued({ status: Number(raw.split(" ", 2)[1]), headers: raw.slice(0, end).toLowerCase(), body: raw.slice(end + 4) }, "REQUEST_TIMEOUT")
    assert.isUndefined(EdgeRefusals.parserRefusal(Object.assign(new Error("reset"), { code: "ECONNRESET" })))
  })

  it("the API document lists the edge's refusals for every operation", async () => {
    const doc = (await H.client(server.url)("GET", "/openapi.json")).body as { paths: Record<string, Record<string, { responses: Record<string, { "x-error-codes"?: ReadonlyArray<string> }> }>> }
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const codes = Object.values(operation.responses).flatMap((r) => H.documentedResponse(doc, r)["x-error-codes"] ?? [])
        for (const code of ["HEADERS_TOO_LARGE", "REQUEST_TIMEOUT", "INVALID_REQUEST"]) assert.include(codes, code, `${method} ${path}`)
      }
    }
  })

  it("the server still serves after each", async () => {
    const reply = await H.rawExchange(server.port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert.strictEqual(reply.status, 200)
    assert.deepStrictEqual(JSON.parse(reply.body), { status: "ok" })
  })
})
