/**
 * The event feed over HTTP: a worker and a requester each read their own events of a job, and
 * acknowledge them; a poll may wait for an event, and a server that stops answers it at once; bad
 * input is refused with its code and acknowledges nothing.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as H from "./helpers.js"

describe("GET /v1/events, POST /v1/events/ack", () => {
  let server: H.TestServer
  let call: H.Call
  beforeAll(async () => {
    server = await H.startSqlite()
    call = H.client(server.url)
  })
  afterAll(async () => {
    await server?.cleanup()
  })

  const types = (reply: H.Reply) => reply.body.events.map((event: { type: string }) => event.type)

  it("each party reads the job's events addressed to it until it acknowledges them", async () => {
    const { requesterToken, worker, workerToken } = await H.fundedPair(call, 41)
    const posted = await call("POST", "/v1/bounties", { token: requesterToken, body: H.researchBounty() })
    assert.strictEqual(posted.status, 201, JSON.stringify(posted.body))
    const accepted = await call("POST", `/v1/bounties/${posted.body.bounty_id}/accept`, { token: workerToken, body: {} })
    assert.strictEqual(accepted.status, 200, JSON.stringify(accepted.body))

    const workerFeed = await call("GET", "/v1/events", { token: workerToken })
    assert.strictEqual(workerFeed.status, 200, JSON.stringify(workerFeed.body))
    assert.deepStrictEqual(types(workerFeed), ["identity.registered", "worker.registered", "bounty.accepted", "escrow.assigned"])
    const requesterFeed = await call("GET", "/v1/events?limit=200", { token: requesterToken })
    assert.deepStrictEqual(types(requesterFeed), ["identity.registered", "balance.manual_credit", "bounty.posted", "escrow.held", "bounty.accepted", "escrow.assigned"])
    const accept = requesterFeed.body.events.find((event: { type: string }) => event.type === "bounty.accepted")
    assert.strictEqual(accept.subject_id, posted.body.bounty_id)
    assert.strictEqual(accept.payload.worker_did, worker.did)

    const ids = workerFeed.body.events.map((event: { event_id: string }) => event.event_id)
    const acked = await call("POST", "/v1/events/ack", { token: workerToken, body: { event_ids: ids } })
    assert.strictEqual(acked.status, 200, JSON.stringify(acked.body))
    assert.deepStrictEqual(acked.body, { acked: 4, already_acked: 0 })
    assert.deepStrictEqual((await call("GET", "/v1/events", { token: workerToken })).body, { events: [], next_cursor: null })
    // The requester's copies are its own: still there.
    assert.strictEqual((await call("GET", "/v1/events", { token: requesterToken })).body.events.length, 6)
    // A replay shows them acknowledged.
    const replay = await call("GET", "/v1/events?include_acked=true", { token: workerToken })
    assert.deepStrictEqual(replay.body.events.map((event: { acked: boolean }) => event.acked), [true, true, true, true])
  })

  it("a poll with wait_seconds answers as soon as an event is there", async () => {
    const { requesterToken, worker, workerToken } = await H.fundedPair(call, 44)
    const old = (await call("GET", "/v1/events", { token: workerToken })).body.events.map((event: { event_id: string }) => event.event_id)
    await call("POST", "/v1/events/ack", { token: workerToken, body: { event_ids: old } })

    // The worker waits; the requester posts a bounty asking for it; the wait ends with that event.
    const waiting = call("GET", "/v1/events?wait_seconds=25", { token: workerToken })
    await new Promise((resolve) => setTimeout(resolve, 300))
    const posted = await call("POST", "/v1/bounties", {
      token: requesterToken,
      body: { ...H.researchBounty(), metadata: { requested_worker_did: worker.did } }
    })
    assert.strictEqual(posted.status, 201, JSON.stringify(posted.body))
    const reply = await waiting
    assert.strictEqual(reply.status, 200, JSON.stringify(reply.body))
    assert.deepStrictEqual(types(reply), ["bounty.posted"])
    assert.strictEqual(reply.body.events[0].subject_id, posted.body.bounty_id)
  })

  it("the operator token reads the disputes it must resolve, and acknowledges them", async () => {
    const { requesterToken, worker, workerToken } = await H.fundedPair(call, 47)
    const posted = await call("POST", "/v1/bounties", { token: requesterToken, body: H.researchBounty() })
    await call("POST", `/v1/bounties/${posted.body.bounty_id}/accept`, { token: workerToken, body: {} })
    const submitted = await call("POST", `/v1/bounties/${posted.body.bounty_id}/submit`, { token: workerToken, body: { proof_bundle_envelope: H.proofBundle(worker) } })
    const rejected = await call("POST", `/v1/bounties/${posted.body.bounty_id}/reject`, {
      token: requesterToken,
      body: { submission_id: submitted.body.submission_id, reason: "missing deliverables" }
    })
    assert.strictEqual(rejected.status, 200, JSON.stringify(rejected.body))

    const feed = await call("GET", "/v1/events", { token: H.OPERATOR_TOKEN })
    assert.strictEqual(feed.status, 200, JSON.stringify(feed.body))
    const opened = feed.body.events.filter((event: { subject_id: string }) => event.subject_id === rejected.body.dispute_id)
    assert.deepStrictEqual(opened.map((event: { type: string }) => event.type), ["dispute.opened"])
    // What the operator decides on comes with it.
    assert.deepInclude(opened[0].payload, { bounty_id: posted.body.bounty_id, submission_id: submitted.body.submission_id, reason: "missing deliverables" })
    // Only the dispute: the job's other events stay its parties'.
    assert.isFalse(feed.body.events.some((event: { subject_id: string }) => event.subject_id === posted.body.bounty_id))
    const acked = await call("POST", "/v1/events/ack", { token: H.OPERATOR_TOKEN, body: { event_ids: [opened[0].event_id] } })
    assert.deepStrictEqual(acked.body, { acked: 1, already_acked: 0 })
  })

  it("refuses a caller without a token, and bad input with its code, acknowledging nothing", async () => {
    const requester = H.signer(43)
    const token = await H.registerRequester(call, requester)
    const own = (await call("GET", "/v1/events", { token })).body.events[0].event_id

    assert.strictEqual((await call("GET", "/v1/events")).status, 401)
    assert.strictEqual((await call("POST", "/v1/events/ack", { body: { event_ids: [own] } })).status, 401)
    for (const query of ["cursor=abc", "limit=0", "limit=201", "include_acked=yes", "after=1", "wait_seconds=31", "wait_seconds=-1", "wait_seconds=1.5"]) {
      const reply = await call("GET", `/v1/events?${query}`, { token })
      assert.strictEqual(reply.status, 400, query)
      assert.strictEqual(reply.body.error, "INVALID_REQUEST", query)
    }
    for (const body of [{}, { event_ids: [] }, { event_ids: ["nope"] }, { event_ids: [own], extra: 1 }]) {
      const reply = await call("POST", "/v1/events/ack", { token, body })
      assert.strictEqual(reply.status, 400, JSON.stringify(body))
      assert.strictEqual(reply.body.error, "INVALID_REQUEST", JSON.stringify(body))
    }
    const stranger = await call("POST", "/v1/events/ack", { token, body: { event_ids: [own, "evt_0000000000000000000000000000"] } })
    assert.strictEqual(stranger.status, 404, JSON.stringify(stranger.body))
    assert.strictEqual(stranger.body.error, "NOT_FOUND")
    assert.strictEqual((await call("GET", "/v1/events", { token })).body.events[0].event_id, own)
  })
})

describe("a waiting poll when the server stops", () => {
  it("answers at once with what is there, not 503 at the end of the grace", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cbt-events-"))
    // A grace longer than the wait: were the wait not cut short, close would interrupt it (503) later.
    const running = await H.start({ _tag: "sqlite", filename: join(dir, "test.db") }, { shutdownGrace: "40 seconds" })
    try {
      const call = H.client(running.url)
      const token = await H.registerRequester(call, H.signer(46))
      const pending = (await call("GET", "/v1/events", { token })).body.events.map((event: { event_id: string }) => event.event_id)
      await call("POST", "/v1/events/ack", { token, body: { event_ids: pending } })
      const waiting = call("GET", "/v1/events?wait_seconds=30", { token })
      await new Promise((resolve) => setTimeout(resolve, 300))
      const closed = running.close()
      const reply = await waiting
      assert.strictEqual(reply.status, 200, JSON.stringify(reply.body))
      assert.deepStrictEqual(reply.body, { events: [], next_cursor: null })
      assert.strictEqual(reply.headers.get("connection"), "close")
      await closed
    } finally {
      await running.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 25_000)
})
