/**
 * The deadline scheduler as the server runs it: sweeps keep coming on their interval whatever one
 * sweep ends with, and the operators' status says what happened.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as OpenApi from "../src/OpenApi.js"
import * as H from "./helpers.js"

const waitFor = async (check: () => Promise<boolean>, what: string) => {
  const deadline = Date.now() + 10_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe("deadline scheduler", () => {
  it("keeps sweeping after a sweep dies on a corrupt record", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cbt-scheduler-"))
    const running = await H.start({ _tag: "sqlite", filename: join(dir, "test.db") }, { scheduler: { interval: "100 millis", enabled: true }, shutdownGrace: "1 second" })
    try {
      const call = H.client(running.url)
      const status = async () => (await call("GET", "/v1/operator/sweep", { token: H.OPERATOR_TOKEN })).body
      const requester = H.signer(7)
      const token = await H.registerRequester(call, requester)
      await H.fund(call, requester.did, "100000", "scheduler-fund")
      const posted = await call("POST", "/v1/bounties", { token, body: H.researchBounty() })
      assert.strictEqual(posted.status, 201, JSON.stringify(posted.body))
      // Under review with no submission, and due: applying its deadline is a defect.
      await running.runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql`UPDATE bounties SET status = 'pending_review', deadline_at = '2000-01-01T00:00:00.000Z' WHERE bounty_id = ${posted.body.bounty_id}`))
      await waitFor(async () => (await status()).failures >= 1, "the first failed sweep")
      // The next sweeps still run (and fail on the same record, counted).
      await waitFor(async () => (await status()).failures >= 3, "later sweeps")
      const after = await status()
      assert.isTrue(after.running)
      assert.strictEqual(after.last_error, "sweep failed (see the server log)")
    } finally {
      await running.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)

  it("an operator's run-now reports every count of the sweep, the purged challenges included", async () => {
    const server = await H.startSqlite()
    try {
      const call = H.client(server.url)
      const challenge = await call("POST", "/v1/auth/challenge", { body: { did: H.signer(3).did, purpose: "register" } })
      assert.strictEqual(challenge.status, 201, JSON.stringify(challenge.body))
      await server.runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql`UPDATE identity_challenges SET expires_at = '2000-01-01T00:00:00.000Z' WHERE challenge_id = ${challenge.body.challenge_id}`))
      const swept = await call("POST", "/v1/operator/sweep", { token: H.OPERATOR_TOKEN, body: {} })
      assert.strictEqual(swept.status, 200, JSON.stringify(swept.body))
      const report = { expired: 0, reopened: 0, cancelled: 0, autoApproved: 0, escalated: 0, skipped: 0, challengesPurged: 1, eventsPurged: 0 }
      assert.deepStrictEqual(swept.body, report)
      assert.deepStrictEqual((await call("GET", "/v1/operator/sweep", { token: H.OPERATOR_TOKEN })).body.last_report, report)
    } finally {
      await server.cleanup()
    }
  })

  it("an operator's run-now answers with the sweep's typed error, and the API document lists it", async () => {
    const server = await H.startSqlite()
    try {
      const call = H.client(server.url)
      const requester = H.signer(7)
      const token = await H.registerRequester(call, requester)
      await H.fund(call, requester.did, "100000", "run-now-fund")
      const posted = await call("POST", "/v1/bounties", { token, body: H.researchBounty() })
      assert.strictEqual(posted.status, 201, JSON.stringify(posted.body))
      // A due open bounty whose hold is already voided: expiring it fails in the ledger.
      await server.runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.zipRight(
        sql`UPDATE ledger_holds SET status = 'voided', remaining = 0, resolved_entry_id = created_entry_id
          WHERE id = (SELECT hold_id FROM escrows WHERE bounty_id = ${posted.body.bounty_id})`,
        sql`UPDATE bounties SET deadline_at = '2000-01-01T00:00:00.000Z' WHERE bounty_id = ${posted.body.bounty_id}`
      )))
      const swept = await call("POST", "/v1/operator/sweep", { token: H.OPERATOR_TOKEN, body: {} })
      assert.strictEqual(swept.status, 409, JSON.stringify(swept.body))
      assert.strictEqual(swept.body.error, "HOLD_ALREADY_RESOLVED")
      const doc = (await call("GET", OpenApi.DOCUMENT_PATH)).body
      const responses: Record<string, { readonly "x-error-codes"?: ReadonlyArray<string> }> = doc.paths["/v1/operator/sweep"].post.responses
      assert.include(H.documentedResponse(doc, responses["409"])?.["x-error-codes"] ?? [], "HOLD_ALREADY_RESOLVED")
    } finally {
      await server.cleanup()
    }
  })
})
