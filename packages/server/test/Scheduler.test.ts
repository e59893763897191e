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
import * as Server from "../src/Server.js"
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
    const running = await Server.start({
      host: "127.0.0.1",
      port: 0,
      bodyLimitBytes: 64 * 1024,
      engine: { store: { _tag: "sqlite", filename: join(dir, "test.db") }, operatorToken: H.operatorLayer },
      scheduler: { interval: "100 millis", enabled: true },
      shutdownGrace: "1 second"
    })
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
})
