/**
 * The whole journey over real HTTP, on SQLite and on PostgreSQL: register a requester and a worker
 * by signed challenges, fund the requester, post, accept, submit a signed proof bundle, approve, and
 * check every balance after it (and the ledger reconciles).
 */
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import * as H from "./helpers.js"

const journey = (name: string, startServer: () => Promise<H.TestServer>) =>
  describe(name, () => {
    let server: H.TestServer
    beforeAll(async () => {
      server = await startServer()
    })
    afterAll(async () => {
      await server?.cleanup()
    })

    it("post -> accept -> submit -> approve moves exactly the fee snapshot's amounts", async () => {
      const call = H.client(server.url)
      const requester = H.signer(11)
      const worker = H.signer(12)
      const requesterToken = await H.registerRequester(call, requester)
      const { token: workerToken, workerId } = await H.registerWorker(call, worker)
      assert.match(workerId, /^wrk_/)
      await H.fund(call, requester.did, "100000", "journey-funding")

      const balances = async (did: string, token = H.OPERATOR_TOKEN) => {
        const reply = await call("GET", `/v1/balances?did=${encodeURIComponent(did)}`, { token })
        assert.strictEqual(reply.status, 200, JSON.stringify(reply.body))
        return reply.body.buckets as Record<"A" | "H" | "B" | "F" | "P", string>
      }
      const feesBefore = await balances("platform:fees")
      // The funding came from a world account, the one kind that goes negative.
      assert.strictEqual(BigInt((await balances("world:manual")).A) <= -100000n, true)
      assert.deepStrictEqual(await balances(requester.did, requesterToken), { A: "100000", H: "0", B: "0", F: "0", P: "0" })

      // Posting moves money, so it needs a key (in the body or the Idempotency-Key header).
      const { idempotency_key: postKey, ...keyless } = H.researchBounty("5000")
      const unkeyed = await call("POST", "/v1/bounties", { token: requesterToken, body: keyless })
      assert.strictEqual(unkeyed.status, 400, JSON.stringify(unkeyed.body))
      assert.deepStrictEqual(unkeyed.body.details.issues.map((i: { path: string }) => i.path), ["idempotency_key"])
      const posted = await call("POST", "/v1/bounties", { token: requesterToken, body: keyless, headers: { "idempotency-key": postKey } })
      assert.strictEqual(posted.status, 201, JSON.stringify(posted.body))
      const again = await call("POST", "/v1/bounties", { token: requesterToken, body: { ...keyless, idempotency_key: postKey } })
      assert.deepStrictEqual([again.status, again.body.bounty_id], [201, posted.body.bounty_id])
      // Research, requester closure: 7.5% (750 bps) paid by the buyer.
      assert.deepStrictEqual(posted.body.all_in_cost, { principal_minor: "5000", platform_fee_minor: "375", total_minor: "5375", currency: "USD" })
      const bountyId: string = posted.body.bounty_id
      assert.deepStrictEqual(await balances(requester.did), { A: "94625", H: "5375", B: "0", F: "0", P: "0" })

      const open = await call("GET", "/v1/bounties?status=open&tag=research", { token: workerToken })
      assert.strictEqual(open.status, 200)
      assert.isTrue(open.body.bounties.some((b: { bounty_id: string }) => b.bounty_id === bountyId))

      const accepted = await call("POST", `/v1/bounties/${bountyId}/accept`, { token: workerToken, body: { worker_did: worker.did } })
      assert.strictEqual(accepted.status, 200, JSON.stringify(accepted.body))
      assert.strictEqual(accepted.body.worker_net_minor, "5000")

      const submitted = await call("POST", `/v1/bounties/${bountyId}/submit`, {
        token: workerToken,
        body: { worker_did: worker.did, proof_bundle_envelope: H.proofBundle(worker), result_summary: "Use option B." }
      })
      assert.strictEqual(submitted.status, 201, JSON.stringify(submitted.body))
      assert.strictEqual(submitted.body.status, "pending_review")
      assert.strictEqual(submitted.body.verification.status, "valid")

      const approved = await call("POST", `/v1/bounties/${bountyId}/approve`, {
        token: requesterToken,
        body: { requester_did: requester.did, submission_id: submitted.body.submission_id }
      })
      assert.strictEqual(approved.status, 200, JSON.stringify(approved.body))
      assert.strictEqual(approved.body.worker_paid_minor, "5000")
      assert.strictEqual(approved.body.platform_fee_minor, "375")

      // The replay returns the stored response with the same status, and moves nothing again.
      const replay = await call("POST", `/v1/bounties/${bountyId}/approve`, {
        token: requesterToken,
        body: { requester_did: requester.did, submission_id: submitted.body.submission_id }
      })
      assert.strictEqual(replay.status, 200)
      assert.deepStrictEqual(replay.body, approved.body)

      assert.deepStrictEqual(await balances(requester.did), { A: "94625", H: "0", B: "0", F: "0", P: "0" })
      assert.deepStrictEqual(await balances(worker.did, workerToken), { A: "5000", H: "0", B: "0", F: "0", P: "0" })
      const feesAfter = await balances("platform:fees")
      assert.strictEqual(BigInt(feesAfter.F) - BigInt(feesBefore.F), 375n)

      const bounty = await call("GET", `/v1/bounties/${bountyId}`, { token: requesterToken })
      assert.strictEqual(bounty.body.status, "approved")
      const escrow = await call("GET", `/v1/escrows/${posted.body.escrow_id}`, { token: workerToken })
      assert.strictEqual(escrow.status, 200)
      assert.strictEqual(escrow.body.status, "released")
      assert.strictEqual(escrow.body.amount_minor, "5375")

      const history = await call("GET", `/v1/balances/history?did=${encodeURIComponent(worker.did)}`, { token: workerToken })
      assert.strictEqual(history.status, 200)
      assert.deepStrictEqual(history.body.items.map((i: { amount_minor: string; bucket: string }) => [i.bucket, i.amount_minor]), [["A", "5000"]])

      const reconciled = await call("GET", "/v1/operator/reconcile", { token: H.OPERATOR_TOKEN })
      assert.strictEqual(reconciled.status, 200)
      assert.isTrue(reconciled.body.ok, JSON.stringify(reconciled.body.discrepancies))
      const audit = await call("GET", `/v1/operator/audit?entity_id=${bountyId}`, { token: H.OPERATOR_TOKEN })
      assert.deepStrictEqual(audit.body.entries.map((e: { action: string }) => e.action).sort(), ["bounty.accept", "bounty.approve", "bounty.post", "bounty.submit"])
    })
  })

journey("journey on SQLite", H.startSqlite)

const pg = await PgTestDatabase.probe()
describe.skipIf(!pg.available)(`journey on PostgreSQL ${pg.reason}`, () => {
  const scope = Effect.runSync(Scope.make())
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  journey("over a database of its own", async () => {
    const db = await Effect.runPromise(Scope.extend(PgTestDatabase.database("server"), scope))
    return H.start({ _tag: "postgres", url: db.url })
  })
})
