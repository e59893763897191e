/**
 * Reading request bodies: a body sent in chunks with no `Content-Length` is read as it arrives and
 * refused once it passes the limit, with a catalogued 413, nothing written and the connection closed
 * (the unread rest must not hold it); a body in many small chunks reads whole. Over a real socket the
 * app reads Node's request stream; through `app.request` (no Node request) it reads the Fetch body.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { request } from "node:http"
import * as App from "../src/App.js"
import * as H from "./helpers.js"

/** POSTs `chunks` with chunked transfer encoding (no Content-Length), one write per chunk. */
const postChunked = (url: string, chunks: ReadonlyArray<string>) =>
  new Promise<{ status: number; body: any; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = request(url, {
      method: "POST",
      headers: { "content-type": "application/json" }
    }, (res) => {
      const parts: Array<Buffer> = []
      res.on("data", (part: Buffer) => parts.push(part))
      res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(parts).toString("utf8")), headers: res.headers }))
      res.on("error", reject)
    })
    // The server may answer (and close) before the whole body is sent: that is the point.
    req.on("error", (error) => (error as NodeJS.ErrnoException).code === "EPIPE" || (error as NodeJS.ErrnoException).code === "ECONNRESET" ? undefined : reject(error))
    for (const chunk of chunks) req.write(chunk)
    req.end()
  })

describe("request bodies", () => {
  let server: H.TestServer
  beforeAll(async () => {
    server = await H.startSqlite()
  }, 60_000)
  afterAll(() => server.cleanup())

  it("a chunked body past the limit is refused with 413 and writes nothing", async () => {
    const before = await H.snapshot(server)
    const pad = "x".repeat(64 * 1024)
    const chunks = [`{"purpose":"register","pad":"`, ...Array.from({ length: 8 }, () => pad), `"}`]
    const reply = await postChunked(`${server.url}/v1/auth/challenge`, chunks)
    assert.strictEqual(reply.status, 413)
    assert.strictEqual(reply.body.error, "PAYLOAD_TOO_LARGE")
    assert.strictEqual(reply.headers.connection, "close")
    assert.strictEqual(await H.snapshot(server), before)
  })

  it("without Node's request, the Fetch body stream is read within the limit too", async () => {
    const app = App.make(server.runtime, { bodyLimitBytes: 1024 })
    const post = (parts: ReadonlyArray<string>) => {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const part of parts) controller.enqueue(new TextEncoder().encode(part))
          controller.close()
        }
      })
      return app.request("/v1/auth/challenge", { method: "POST", headers: { "content-type": "application/json" }, body, duplex: "half" } as RequestInit)
    }
    const tooLarge = await post([`{"purpose":"register","pad":"`, "x".repeat(600), "x".repeat(600), `"}`])
    assert.strictEqual(tooLarge.status, 413)
    assert.strictEqual(((await tooLarge.json()) as { error: string }).error, "PAYLOAD_TOO_LARGE")
    const fits = await post([`{"did":"${H.signer(2).did}",`, `"purpose":"register"}`])
    assert.strictEqual(fits.status, 201)
  })

  it("a body in many small chunks is read whole", async () => {
    const body = JSON.stringify({ did: H.signer(1).did, purpose: "register" })
    const chunks = body.match(/.{1,3}/gs)!
    const reply = await postChunked(`${server.url}/v1/auth/challenge`, chunks)
    assert.strictEqual(reply.status, 201, JSON.stringify(reply.body))
    assert.isString(reply.body.challenge_id)
  })
})
