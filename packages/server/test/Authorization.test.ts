/**
 * The authorization matrix: every route of the table, called with no token, a malformed token, a
 * token of each role it does not allow, and (where records have parties) another party's token;
 * each refused with the right status and code, and the database byte-for-byte unchanged.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { Role } from "../src/Route.js"
import { routes } from "../src/Routes.js"
import * as H from "./helpers.js"

interface Request {
  readonly method: string
  readonly path: string
  readonly body?: unknown
}

interface OtherParty {
  readonly who: (f: H.Fixture) => ReadonlyArray<string>
  readonly status: number
  readonly code: string
}

interface Case {
  /** A request the route's rightful caller could make. */
  readonly request: (f: H.Fixture) => Request
  /** Callers of an allowed role who are not a party to the record; `null` with the reason when none exist. */
  readonly otherParty: OtherParty | { readonly none: string }
}

const notFound = (who: OtherParty["who"]): OtherParty => ({ who, status: 404, code: "NOT_FOUND" })
const strangers = (f: H.Fixture) => [f.requesterB.token, f.worker2.token]
const none = (why: string) => ({ none: why })
const enc = encodeURIComponent

const cases: Record<string, Case> = {
  listTokens: { request: () => ({ method: "GET", path: "/v1/auth/tokens" }), otherParty: none("lists the caller's own tokens") },
  rotateToken: { request: () => ({ method: "POST", path: "/v1/auth/tokens/rotate", body: {} }), otherParty: none("acts on the presented token") },
  revokeToken: {
    request: (f) => ({ method: "POST", path: `/v1/auth/tokens/${f.tokenIdOfA}/revoke`, body: {} }),
    otherParty: notFound(strangers)
  },
  listWorkers: { request: () => ({ method: "GET", path: "/v1/workers" }), otherParty: none("profiles are public to callers") },
  getWorkerSelf: { request: () => ({ method: "GET", path: "/v1/workers/self" }), otherParty: none("the caller's own profile") },
  updateWorkerSelf: {
    request: () => ({ method: "PATCH", path: "/v1/workers/self", body: { status: "offline" } }),
    otherParty: none("the caller's own profile")
  },
  getWorker: { request: (f) => ({ method: "GET", path: `/v1/workers/${f.worker1.workerId}` }), otherParty: none("profiles are public to callers") },
  postBounty: { request: () => ({ method: "POST", path: "/v1/bounties", body: H.researchBounty() }), otherParty: none("creates a record") },
  listBounties: { request: () => ({ method: "GET", path: "/v1/bounties" }), otherParty: none("filtered to what the caller may see") },
  getBounty: { request: (f) => ({ method: "GET", path: `/v1/bounties/${f.review.bountyId}` }), otherParty: notFound(strangers) },
  cancelBounty: {
    request: (f) => ({ method: "POST", path: `/v1/bounties/${f.open.bountyId}/cancel`, body: {} }),
    otherParty: notFound((f) => [f.requesterB.token])
  },
  acceptBounty: {
    request: (f) => ({ method: "POST", path: `/v1/bounties/${f.review.bountyId}/accept`, body: {} }),
    otherParty: { who: (f) => [f.worker2.token], status: 409, code: "BOUNTY_ALREADY_ACCEPTED" }
  },
  submitWork: {
    request: (f) => ({ method: "POST", path: `/v1/bounties/${f.review.bountyId}/submit`, body: { proof_bundle_envelope: H.proofBundle(f.worker2.signer) } }),
    otherParty: { who: (f) => [f.worker2.token], status: 403, code: "BOUNTY_NOT_ASSIGNED" }
  },
  approveSubmission: {
    request: (f) => ({ method: "POST", path: `/v1/bounties/${f.review.bountyId}/approve`, body: { submission_id: f.review.submissionId } }),
    otherParty: notFound((f) => [f.requesterB.token])
  },
  rejectSubmission: {
    request: (f) => ({ method: "POST", path: `/v1/bounties/${f.review.bountyId}/reject`, body: { submission_id: f.review.submissionId, reason: "no" } }),
    otherParty: notFound((f) => [f.requesterB.token])
  },
  listSubmissions: { request: (f) => ({ method: "GET", path: `/v1/bounties/${f.review.bountyId}/submissions` }), otherParty: notFound(strangers) },
  getSubmission: { request: (f) => ({ method: "GET", path: `/v1/submissions/${f.review.submissionId}` }), otherParty: notFound(strangers) },
  getEscrow: { request: (f) => ({ method: "GET", path: `/v1/escrows/${f.review.escrowId}` }), otherParty: notFound(strangers) },
  getBalances: { request: (f) => ({ method: "GET", path: `/v1/balances?did=${enc(f.requesterA.did)}` }), otherParty: notFound(strangers) },
  getAccountHistory: {
    request: (f) => ({ method: "GET", path: `/v1/balances/history?did=${enc(f.requesterA.did)}` }),
    otherParty: notFound(strangers)
  },
  simulateFees: {
    request: () => ({ method: "POST", path: "/v1/fees/simulate", body: { policy_id: "bounties_v1", amount_minor: "5000", currency: "USD" } }),
    otherParty: none("stateless")
  },
  verifyEnvelope: { request: (f) => ({ method: "POST", path: "/v1/verify", body: { envelope: H.proofBundle(f.worker1.signer) } }), otherParty: none("stateless") },
  verifyProofBundle: { request: (f) => ({ method: "POST", path: "/v1/verify/bundle", body: { envelope: H.proofBundle(f.worker1.signer) } }), otherParty: none("stateless") },
  verifyCommitProof: { request: () => ({ method: "POST", path: "/v1/verify/commit-proof", body: { envelope: {} } }), otherParty: none("stateless") },
  pullEvents: { request: () => ({ method: "GET", path: "/v1/events" }), otherParty: none("the caller's own events") },
  ackEvents: {
    request: (f) => ({ method: "POST", path: "/v1/events/ack", body: { event_ids: [f.eventIdOfA] } }),
    otherParty: notFound(strangers)
  },
  createWebhook: { request: () => ({ method: "POST", path: "/v1/webhooks", body: { url: "http://127.0.0.1:9/authz" } }), otherParty: none("creates a record") },
  listWebhooks: { request: () => ({ method: "GET", path: "/v1/webhooks" }), otherParty: none("the caller's own endpoints") },
  deleteWebhook: { request: (f) => ({ method: "DELETE", path: `/v1/webhooks/${f.webhookIdOfA}` }), otherParty: notFound(strangers) },
  rotateWebhookSecret: { request: (f) => ({ method: "POST", path: `/v1/webhooks/${f.webhookIdOfA}/rotate-secret`, body: {} }), otherParty: notFound(strangers) },
  listWebhookDeliveries: { request: (f) => ({ method: "GET", path: `/v1/webhooks/${f.webhookIdOfA}/deliveries` }), otherParty: notFound(strangers) },
  replayWebhook: { request: (f) => ({ method: "POST", path: `/v1/webhooks/${f.webhookIdOfA}/replay`, body: {} }), otherParty: notFound(strangers) },
  getDispute: { request: (f) => ({ method: "GET", path: `/v1/disputes/${f.disputed.disputeId}` }), otherParty: notFound(strangers) },
  disputeQueue: { request: () => ({ method: "GET", path: "/v1/operator/disputes" }), otherParty: none("operators only") },
  resolveDispute: {
    request: (f) => ({ method: "POST", path: `/v1/operator/disputes/${f.disputed.disputeId}/resolve`, body: { outcome: "worker_award" } }),
    otherParty: none("operators only")
  },
  manualCredit: {
    request: (f) => ({ method: "POST", path: "/v1/operator/credits", body: { did: f.requesterB.did, amount_minor: "1", currency: "USD", reason: "x", idempotency_key: "authz-credit" } }),
    otherParty: none("operators only")
  },
  manualDebit: {
    request: (f) => ({ method: "POST", path: "/v1/operator/debits", body: { did: f.requesterB.did, amount_minor: "1", currency: "USD", reason: "x", idempotency_key: "authz-debit" } }),
    otherParty: none("operators only")
  },
  reconcile: { request: () => ({ method: "GET", path: "/v1/operator/reconcile" }), otherParty: none("operators only") },
  auditLog: { request: () => ({ method: "GET", path: "/v1/operator/audit" }), otherParty: none("operators only") },
  sweepStatus: { request: () => ({ method: "GET", path: "/v1/operator/sweep" }), otherParty: none("operators only") },
  runSweep: { request: () => ({ method: "POST", path: "/v1/operator/sweep", body: {} }), otherParty: none("operators only") }
}

describe("authorization matrix", () => {
  let server: H.TestServer
  let call: H.Call
  let f: H.Fixture
  beforeAll(async () => {
    server = await H.startSqlite()
    call = H.client(server.url)
    f = await H.buildFixture(call, 40)
  })
  afterAll(async () => {
    await server?.cleanup()
  })

  const guarded = routes.filter((route) => route.auth !== "public")

  it("has a case for every route that needs a token, and only those", () => {
    assert.deepStrictEqual(Object.keys(cases).sort(), guarded.map((route) => route.operationId).sort())
  })

  it("refuses every refused caller with the right status and code, writing nothing", async () => {
    const tokenOf = (role: Role) => (role === "operator" ? H.OPERATOR_TOKEN : role === "requester" ? f.requesterA.token : f.worker1.token)
    const checked: Array<string> = []
    const before = await H.snapshot(server)
    for (const route of guarded) {
      const spec = cases[route.operationId]!
      const request = spec.request(f)
      const attempts: Array<{ label: string; token: string | undefined; status: number; code: string }> = [
        { label: "no token", token: undefined, status: 401, code: "UNAUTHORIZED" },
        { label: "malformed token", token: "not-a-token", status: 401, code: "UNAUTHORIZED" },
        { label: "unknown token", token: `cbt_requester_${"A".repeat(43)}`, status: 401, code: "UNAUTHORIZED" }
      ]
      const allowed = route.auth as ReadonlyArray<Role>
      for (const role of ["worker", "requester", "operator"] as const) {
        if (!allowed.includes(role)) attempts.push({ label: `${role} token`, token: tokenOf(role), status: 403, code: "FORBIDDEN" })
      }
      if ("who" in spec.otherParty) {
        for (const token of spec.otherParty.who(f)) {
          attempts.push({ label: "another party", token, status: spec.otherParty.status, code: spec.otherParty.code })
        }
      }
      for (const attempt of attempts) {
        const reply = await call(request.method, request.path, { token: attempt.token, body: request.body })
        const label = `${route.method} ${route.path} with ${attempt.label}`
        assert.strictEqual(reply.status, attempt.status, `${label}: ${JSON.stringify(reply.body)}`)
        assert.strictEqual(reply.body.error, attempt.code, label)
        checked.push(label)
      }
    }
    assert.strictEqual(await H.snapshot(server), before, "a refused request wrote something")
    assert.isAbove(checked.length, guarded.length * 3)
  })

  it("lets the rightful caller through (the cases' requests are real)", async () => {
    const owner: Record<string, string> = {
      getBounty: f.requesterA.token,
      listSubmissions: f.worker1.token,
      getSubmission: f.requesterA.token,
      getEscrow: f.worker1.token,
      getBalances: f.requesterA.token,
      getAccountHistory: f.requesterA.token,
      getDispute: f.worker1.token,
      listWebhookDeliveries: f.requesterA.token,
      rotateWebhookSecret: f.requesterA.token,
      replayWebhook: f.requesterA.token,
      deleteWebhook: f.requesterA.token,
      revokeToken: f.requesterA.token
    }
    for (const [operationId, token] of Object.entries(owner)) {
      const request = cases[operationId]!.request(f)
      const reply = await call(request.method, request.path, { token, body: request.body })
      assert.strictEqual(reply.status, 200, `${operationId}: ${JSON.stringify(reply.body)}`)
    }
    // The revoked token now authenticates nobody.
    const after = await call("GET", "/v1/auth/tokens", { token: f.requesterA.token })
    assert.strictEqual(after.status, 401)
    assert.strictEqual(after.body.details.reason, "revoked_token")
  })
})
