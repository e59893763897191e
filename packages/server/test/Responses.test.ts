/**
 * Every route's success response, driven once each: the body sent keeps every field the handler
 * returned (encoding through the route's Schema silently drops a field the Schema lacks), and
 * matches the OpenAPI document's schema for the status. The routes are served with their handlers
 * wrapped to capture what each returned before encoding.
 */
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { Webhooks } from "@clawbounties/marketplace"
import { Sign } from "@clawbounties/verify"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { getRequestListener } from "@hono/node-server"
import Ajv2020 from "ajv/dist/2020.js"
import { Effect, Exit, ManagedRuntime, Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer, type Server as HttpServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as App from "../src/App.js"
import type * as Engine from "../src/Engine.js"
import * as OpenApi from "../src/OpenApi.js"
import { routes } from "../src/Routes.js"
import * as Server from "../src/Server.js"
import * as H from "./helpers.js"

/**
 * Fields a handler returns that are not part of the API, by route, with the reason. Paths are as
 * `dropped` names them (`$.field`, `$.list[0].field`).
 */
const notExposed: Record<string, Record<string, string>> = {}

/** The paths of fields present in `returned` (not undefined) and missing from `sent`, at any depth. */
const dropped = (returned: unknown, sent: unknown, path = "$"): Array<string> => {
  if (Array.isArray(returned) && Array.isArray(sent)) {
    return returned.flatMap((item, i) => (i < sent.length ? dropped(item, sent[i], `${path}[${i}]`) : [`${path}[${i}]`]))
  }
  if (typeof returned !== "object" || returned === null || Array.isArray(returned)) return []
  // A value the Schema transforms into a non-object (a date into a string) is not a drop.
  if (typeof sent !== "object" || sent === null || Array.isArray(sent)) return []
  return Object.entries(returned).flatMap(([key, value]) =>
    value === undefined ? [] : Object.hasOwn(sent, key) ? dropped(value, (sent as Record<string, unknown>)[key], `${path}.${key}`) : [`${path}.${key}`])
}

const responses = (name: string, storeOf: (dir: string) => Promise<Engine.Store>) => describe(name, () => {
  const returned = new Map<string, unknown>()
  const wrapped = routes.map((r) => ({
    ...r,
    handler: (input: Parameters<typeof r.handler>[0]) => Effect.tap(r.handler(input), (value) => Effect.sync(() => returned.set(r.operationId, value)))
  }))
  let dir: string
  let runtime: App.Runtime
  let http: HttpServer
  let call: H.Call
  let f: H.Fixture

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cbt-responses-"))
    runtime = ManagedRuntime.make(Server.layer({
      engine: { store: await storeOf(dir), operatorToken: H.operatorLayer, webhooks: Webhooks.layerWith({ allowPrivate: true }) },
      scheduler: { interval: "1 hour", enabled: false }
    }))
    const app = App.make(runtime, { bodyLimitBytes: 256 * 1024, routes: wrapped })
    http = await new Promise<HttpServer>((resolve) => {
      const s = createServer(getRequestListener(app.fetch))
      s.listen(0, "127.0.0.1", () => resolve(s))
    })
    call = H.client(`http://127.0.0.1:${(http.address() as AddressInfo).port}`)
    f = await H.buildFixture(call, 700)
  }, 60_000)

  afterAll(async () => {
    await new Promise((resolve) => http.close(resolve))
    await runtime.dispose()
    rmSync(dir, { recursive: true, force: true })
  })

  it("send every field the handler returned, as the document describes", async () => {
    const doc = (await call("GET", OpenApi.DOCUMENT_PATH)).body
    const ajv = new Ajv2020.default({ strict: false, allErrors: true, validateFormats: false })
    ajv.addSchema(doc, "openapi")
    const pointer = (...parts: ReadonlyArray<string>) => parts.map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/")

    const problems: Array<string> = []
    const driven = new Set<string>()
    const check = async (operationId: string, method: string, path: string, options: H.CallOptions = {}) => {
      const r = routes.find((candidate) => candidate.operationId === operationId)!
      returned.delete(operationId)
      const reply = await call(method, path, options)
      if (reply.status !== r.status) {
        problems.push(`${operationId}: ${reply.status} ${JSON.stringify(reply.body)}`)
        return reply.body
      }
      if (!returned.has(operationId)) {
        problems.push(`${operationId}: the handler's value was not captured`)
        return reply.body
      }
      driven.add(operationId)
      const allowed = notExposed[operationId] ?? {}
      for (const field of dropped(returned.get(operationId), reply.body)) {
        if (!(field in allowed)) problems.push(`${operationId}: ${field} returned by the handler but not sent`)
      }
      // A retry is answered with the stored response: the same body, with nothing dropped on the way.
      if (r.idempotent) {
        const again = await call(method, path, options)
        if (JSON.stringify(again.body) !== JSON.stringify(reply.body)) {
          problems.push(`${operationId}: the retry answered ${again.status} ${JSON.stringify(again.body)}, not ${JSON.stringify(reply.body)}`)
        }
      }
      const validate = ajv.getSchema(`openapi#/${pointer("paths", r.path, r.method.toLowerCase(), "responses", String(r.status), "content", "application/json", "schema")}`)!
      if (!validate(reply.body)) problems.push(`${operationId}: sent body does not match the document: ${ajv.errorsText(validate.errors)}`)
      return reply.body
    }
    const op = H.OPERATOR_TOKEN
    const { requesterA, worker1, worker2 } = f

    await check("health", "GET", "/health")
    await check("ready", "GET", "/ready")
    const newcomer = H.signer(790)
    const challenge = await check("createChallenge", "POST", "/v1/auth/challenge", { body: { did: newcomer.did, purpose: "register" } })
    const registered = await check("registerRequester", "POST", "/v1/requesters/register", {
      body: {
        requester_did: newcomer.did,
        challenge_id: challenge.challenge_id,
        proof: Sign.challengeResponse(newcomer, { nonce: challenge.nonce, message: challenge.messages.requester, audience: challenge.audience }, { issuedAt: new Date().toISOString() })
      }
    })
    const workerSigner = H.signer(791)
    const workerChallenge = (await call("POST", "/v1/auth/challenge", { body: { did: workerSigner.did, purpose: "register" } })).body
    await check("registerWorker", "POST", "/v1/workers/register", {
      body: {
        worker_did: workerSigner.did,
        challenge_id: workerChallenge.challenge_id,
        proof: Sign.challengeResponse(workerSigner, { nonce: workerChallenge.nonce, message: workerChallenge.messages.worker, audience: workerChallenge.audience }, { issuedAt: new Date().toISOString() }),
        ...H.workerProfile(791)
      }
    })
    const tokens = await check("listTokens", "GET", "/v1/auth/tokens", { token: registered.auth.token })
    const rotated = await check("rotateToken", "POST", "/v1/auth/tokens/rotate", { token: registered.auth.token, body: {} })
    await check("revokeToken", "POST", `/v1/auth/tokens/${tokens.tokens[0].token_id}/revoke`, { token: op, body: { reason: "test" } })
    assert.isString(rotated.token)

    await check("listWorkers", "GET", "/v1/workers", { token: requesterA.token })
    await check("getWorkerSelf", "GET", "/v1/workers/self", { token: worker1.token })
    await check("updateWorkerSelf", "PATCH", "/v1/workers/self", { token: worker2.token, body: { status: "online" } })
    await check("getWorker", "GET", `/v1/workers/${worker1.workerId}`, { token: requesterA.token })

    // Every optional field set, so the records carry all they can.
    const posted = await check("postBounty", "POST", "/v1/bounties", {
      token: requesterA.token,
      body: {
        ...H.researchBounty(),
        test_harness_id: "harness-1",
        task_spec: { goal: "x" },
        metadata: { note: "n" },
        deadlines: { accept_within_seconds: 3600 }
      }
    })
    await check("cancelBounty", "POST", `/v1/bounties/${f.open.bountyId}/cancel`, { token: requesterA.token, body: {} })
    await check("acceptBounty", "POST", `/v1/bounties/${posted.bounty_id}/accept`, { token: worker2.token, body: {} })
    await check("submitWork", "POST", `/v1/bounties/${posted.bounty_id}/submit`, {
      token: worker2.token,
      body: { proof_bundle_envelope: H.proofBundle(worker2.signer), result_summary: "done" }
    })
    await check("approveSubmission", "POST", `/v1/bounties/${f.review.bountyId}/approve`, { token: requesterA.token, body: { submission_id: f.review.submissionId } })
    const submitted = (await call("GET", `/v1/bounties/${posted.bounty_id}/submissions`, { token: requesterA.token })).body
    await check("rejectSubmission", "POST", `/v1/bounties/${posted.bounty_id}/reject`, {
      token: requesterA.token,
      body: { submission_id: submitted.submissions[0].submission_id, reason: "missing deliverables" }
    })
    await check("listBounties", "GET", "/v1/bounties?mine=true", { token: requesterA.token })
    await check("getBounty", "GET", `/v1/bounties/${posted.bounty_id}`, { token: requesterA.token })
    await check("getBounty", "GET", `/v1/bounties/${f.resolved.bountyId}`, { token: requesterA.token })
    await check("listSubmissions", "GET", `/v1/bounties/${posted.bounty_id}/submissions`, { token: requesterA.token })
    await check("getSubmission", "GET", `/v1/submissions/${f.approved.submissionId}`, { token: requesterA.token })

    const approved = (await call("GET", `/v1/bounties/${f.approved.bountyId}`, { token: requesterA.token })).body
    await check("getEscrow", "GET", `/v1/escrows/${approved.escrow_id}`, { token: requesterA.token })
    await check("getBalances", "GET", `/v1/balances?did=${encodeURIComponent(requesterA.did)}`, { token: requesterA.token })
    await check("getAccountHistory", "GET", `/v1/balances/history?did=${encodeURIComponent(requesterA.did)}`, { token: requesterA.token })
    await check("simulateFees", "POST", "/v1/fees/simulate", {
      token: worker1.token,
      body: { product: "clawbounties", policy_id: "bounties_v1", amount_minor: "5000", currency: "USD", params: { is_code_bounty: true, closure_type: "test" } }
    })

    await check("verifyEnvelope", "POST", "/v1/verify", { token: worker1.token, body: { envelope: H.proofBundle(worker1.signer), expected_type: "proof_bundle" } })
    await check("verifyProofBundle", "POST", "/v1/verify/bundle", { token: worker1.token, body: { envelope: H.proofBundle(worker1.signer) } })
    await check("verifyCommitProof", "POST", "/v1/verify/commit-proof", { token: worker1.token, body: { envelope: { envelope_type: "commit_proof" } } })

    const events = await check("pullEvents", "GET", "/v1/events", { token: requesterA.token })
    await check("ackEvents", "POST", "/v1/events/ack", { token: requesterA.token, body: { event_ids: [events.events[0].event_id] } })
    const webhook = await check("createWebhook", "POST", "/v1/webhooks", { token: requesterA.token, body: { url: "http://127.0.0.1:9/responses", event_types: ["bounty.posted"] } })
    await check("listWebhooks", "GET", "/v1/webhooks", { token: requesterA.token })
    await check("rotateWebhookSecret", "POST", `/v1/webhooks/${webhook.webhook_id}/rotate-secret`, { token: requesterA.token, body: {} })
    await check("replayWebhook", "POST", `/v1/webhooks/${f.webhookIdOfA}/replay`, { token: requesterA.token, body: { limit: 2 } })
    // One attempt (nothing listens on port 9), so the log has an entry to describe.
    await runtime.runPromise(Webhooks.deliverDue())
    await check("listWebhookDeliveries", "GET", `/v1/webhooks/${f.webhookIdOfA}/deliveries?limit=1`, { token: requesterA.token })
    await check("deleteWebhook", "DELETE", `/v1/webhooks/${webhook.webhook_id}`, { token: requesterA.token })
    await check("getDispute", "GET", `/v1/disputes/${f.resolved.disputeId}`, { token: requesterA.token })
    await check("disputeQueue", "GET", "/v1/operator/disputes", { token: op })
    await check("resolveDispute", "POST", `/v1/operator/disputes/${f.disputed.disputeId}/resolve`, {
      token: op,
      body: { outcome: "split", worker_share_bps: 5000, note: "half" }
    })
    await check("manualCredit", "POST", "/v1/operator/credits", {
      token: op,
      body: { did: f.requesterB.did, amount_minor: "100", currency: "USD", reason: "test", idempotency_key: "responses-credit" }
    })
    await check("manualDebit", "POST", "/v1/operator/debits", {
      token: op,
      body: { did: f.requesterB.did, amount_minor: "100", currency: "USD", reason: "test", idempotency_key: "responses-debit" }
    })
    await check("reconcile", "GET", "/v1/operator/reconcile", { token: op })
    await check("auditLog", "GET", "/v1/operator/audit", { token: op })
    // Swept first, so the status carries a report.
    await check("runSweep", "POST", "/v1/operator/sweep", { token: op, body: {} })
    await check("sweepStatus", "GET", "/v1/operator/sweep", { token: op })

    assert.deepStrictEqual(problems, [])
    assert.deepStrictEqual([...driven].sort(), routes.map((r) => r.operationId).sort())
  }, 30_000)
})

responses("responses on SQLite", async (dir) => ({ _tag: "sqlite", filename: join(dir, "test.db") }))

const pg = await PgTestDatabase.probe()
describe.skipIf(!pg.available)(`responses on PostgreSQL ${pg.reason}`, () => {
  const scope = Effect.runSync(Scope.make())
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  responses("over a database of its own", async () => {
    const db = await Effect.runPromise(Scope.extend(PgTestDatabase.database("responses"), scope))
    return { _tag: "postgres", url: db.url }
  })
})
