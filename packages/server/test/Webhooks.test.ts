/**
 * Webhooks through the packaged server: the default settings refuse http and private addresses
 * over HTTP (writing nothing), and with `WEBHOOK_ALLOW_PRIVATE` the server's own delivery loop
 * pushes a principal's event to a real HTTP server on 127.0.0.1, signed as docs/webhooks.md says.
 */
import { Webhooks } from "@clawbounties/marketplace"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { createHmac } from "node:crypto"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"
import * as H from "./helpers.js"

const received: Array<{ readonly headers: IncomingHttpHeaders; readonly body: string }> = []
const receiver = createServer((request, response) => {
  let body = ""
  request.setEncoding("utf8")
  request.on("data", (chunk) => (body += chunk))
  request.on("end", () => {
    received.push({ headers: request.headers, body })
    response.writeHead(204).end()
  })
})
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/in`
afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())))

describe("webhooks over HTTP", () => {
  it("the default settings refuse http and private addresses with a typed code, and write nothing", async () => {
    const server = await H.startSqlite({}, { webhooks: Webhooks.layerWith() })
    try {
      const call = H.client(server.url)
      const token = await H.registerRequester(call, H.signer(61))
      const before = await H.snapshot(server)
      for (const [url, reason] of [[hookUrl, "scheme_not_allowed"], ["https://127.0.0.1/in", "private_address"], ["https://[fe80::1]/in", "private_address"]] as const) {
        const reply = await call("POST", "/v1/webhooks", { token, body: { url } })
        assert.strictEqual(reply.status, 422, JSON.stringify(reply.body))
        assert.deepStrictEqual([reply.body.error, reply.body.details.reason], ["WEBHOOK_URL_REFUSED", reason])
      }
      assert.strictEqual(await H.snapshot(server), before)
    } finally {
      await server.cleanup()
    }
  })

  it("the server's delivery loop pushes the principal's event, signed with the secret shown once", async () => {
    const server = await H.startSqlite({ scheduler: { interval: "1 hour", enabled: true, webhookInterval: "100 millis" } })
    try {
      const call = H.client(server.url)
      const who = H.signer(62)
      const token = await H.registerRequester(call, who)
      const created = await call("POST", "/v1/webhooks", { token, body: { url: hookUrl, event_types: ["balance.manual_credit"] } })
      assert.strictEqual(created.status, 201, JSON.stringify(created.body))
      const listed = await call("GET", "/v1/webhooks", { token })
      assert.notInclude(JSON.stringify(listed.body), created.body.secret)
      await H.fund(call, who.did, "500", "webhooks-e2e")
      // Wait (bounded) for the loop to deliver; what is asserted is the delivery, not its speed.
      for (let i = 0; i < 200 && received.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
      const [delivery] = received
      assert.isDefined(delivery, "nothing was delivered")
      const body = JSON.parse(delivery!.body)
      assert.strictEqual(body.type, "balance.manual_credit")
      assert.strictEqual(delivery!.headers["webhook-id"], body.event_id)
      const expected = `v1=${createHmac("sha256", created.body.secret).update(`${delivery!.headers["webhook-timestamp"]}.${delivery!.body}`).digest("hex")}`
      assert.strictEqual(delivery!.headers["webhook-signature"], expected)
      const log = await call("GET", `/v1/webhooks/${created.body.webhook_id}/deliveries`, { token })
      assert.deepStrictEqual(log.body.attempts.map((a: any) => [a.event_id, a.outcome, a.status_code]), [[body.event_id, "delivered", 204]])
      // Deleted: gone from the list, and its log is not found.
      assert.strictEqual((await call("DELETE", `/v1/webhooks/${created.body.webhook_id}`, { token })).status, 200)
      assert.strictEqual((await call("GET", `/v1/webhooks/${created.body.webhook_id}/deliveries`, { token })).status, 404)
    } finally {
      await server.cleanup()
    }
  })
})
