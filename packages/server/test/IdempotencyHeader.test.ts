/**
 * The Idempotency-Key header names one key. Node joins a header sent twice into one value
 * ("a" and "" became the key "a, "), so a retry sending only "a" was a different request.
 * Sent twice, it is refused, as a query parameter given twice is, and nothing is written.
 */
import { assert, describe, it } from "@effect/vitest"
import * as H from "./helpers.js"

describe("Idempotency-Key header", () => {
  it("sent twice: INVALID_REQUEST, and nothing is written", async () => {
    const server = await H.startSqlite()
    try {
      const call = H.client(server.url)
      const requester = H.signer(5)
      const token = await H.registerRequester(call, requester)
      await H.fund(call, requester.did, "100000", "twice-fund")
      const { idempotency_key: _, ...body } = H.researchBounty() as Record<string, unknown>
      const text = JSON.stringify(body)
      const send = (keys: ReadonlyArray<string>) =>
        H.rawExchange(server.port, `POST /v1/bounties HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
          "Content-Type: application/json\r\nConnection: close\r\n" +
          keys.map((key) => `Idempotency-Key: ${key}\r\n`).join("") +
          `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`)
      const before = await H.rowCounts(server)
      const twice = await send(["post-twice", ""])
      assert.strictEqual(twice.status, 400, twice.body)
      assert.strictEqual(JSON.parse(twice.body).error, "INVALID_REQUEST")
      assert.match(JSON.parse(twice.body).message, /Idempotency-Key/)
      assert.deepStrictEqual(await H.rowCounts(server), before)
      // Once, the same request is taken.
      const once = await send(["post-twice"])
      assert.strictEqual(once.status, 201, once.body)
    } finally {
      await server.cleanup()
    }
  })
})
