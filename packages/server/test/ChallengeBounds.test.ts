/**
 * Registration challenges are the one thing anyone may make the server store without a token, so
 * what they can store is bounded: a few open challenges per DID (asking again replaces the oldest)
 * and a ceiling for the whole server, past which a new one is CHALLENGE_CAPACITY_REACHED.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Identities } from "@clawbounties/marketplace"
import { Sign } from "@clawbounties/verify"
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as H from "./helpers.js"

const withServer = async (settings: Partial<Identities.Settings>, body: (server: H.TestServer, call: H.Call) => Promise<void>) => {
  const dir = mkdtempSync(join(tmpdir(), "cbt-challenges-"))
  const server = await H.start({ _tag: "sqlite", filename: join(dir, "test.db") }, {}, { identities: Identities.layerWith(settings) })
  try {
    await body(server, H.client(server.url))
  } finally {
    await server.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

const openChallenges = (server: H.TestServer, did?: string) =>
  server.runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      did === undefined
        ? sql<{ n: number }>`SELECT COUNT(*) AS n FROM identity_challenges WHERE consumed_at IS NULL`
        : sql<{ n: number }>`SELECT COUNT(*) AS n FROM identity_challenges WHERE consumed_at IS NULL AND did = ${did}`,
      (rows) => Number(rows[0]!.n)
    )))

const ask = (call: H.Call, did: string) => call("POST", "/v1/auth/challenge", { body: { did, purpose: "register" } })

const registerRequester = (call: H.Call, who: Sign.Signer, challenge: any) =>
  call("POST", "/v1/requesters/register", {
    body: {
      requester_did: who.did,
      challenge_id: challenge.challenge_id,
      proof: Sign.challengeResponse(who, { nonce: challenge.nonce, message: challenge.messages.requester, audience: challenge.audience }, { issuedAt: new Date().toISOString() })
    }
  })

describe("registration challenges", () => {
  it("one DID asking again and again holds at most its cap of open challenges: each new one replaces the oldest", async () => {
    await withServer({ maxOpenChallengesPerDid: 3 }, async (server, call) => {
      const who = H.signer(41)
      const issued: Array<any> = []
      for (let i = 0; i < 12; i++) {
        const reply = await ask(call, who.did)
        assert.strictEqual(reply.status, 201, JSON.stringify(reply.body))
        issued.push(reply.body)
      }
      assert.strictEqual(await openChallenges(server, who.did), 3)
      // A replaced challenge names nothing any more; the newest still registers.
      const replaced = await registerRequester(call, who, issued[0])
      assert.strictEqual(replaced.status, 404, JSON.stringify(replaced.body))
      assert.strictEqual(replaced.body.error, "CHALLENGE_NOT_FOUND")
      const registered = await registerRequester(call, who, issued[11])
      assert.strictEqual(registered.status, 201, JSON.stringify(registered.body))
    })
  })

  it("past the server's ceiling of open challenges a new one is CHALLENGE_CAPACITY_REACHED and stores nothing", async () => {
    await withServer({ maxOpenChallengesPerDid: 2, maxOpenChallenges: 3 }, async (server, call) => {
      const a = H.signer(42), b = H.signer(43), c = H.signer(44)
      assert.strictEqual((await ask(call, a.did)).status, 201)
      assert.strictEqual((await ask(call, a.did)).status, 201)
      const ofB = await ask(call, b.did)
      assert.strictEqual(ofB.status, 201)

      const refused = await ask(call, c.did)
      assert.strictEqual(refused.status, 503, JSON.stringify(refused.body))
      assert.strictEqual(refused.body.error, "CHALLENGE_CAPACITY_REACHED")
      assert.deepStrictEqual(refused.body.details, { limit: 3 })
      assert.strictEqual(await openChallenges(server), 3)

      // A DID at its own cap replaces its oldest: the count does not grow, so it is not refused.
      assert.strictEqual((await ask(call, a.did)).status, 201)
      assert.strictEqual(await openChallenges(server), 3)

      // An answered challenge is no longer open: its place is free again.
      assert.strictEqual((await registerRequester(call, b, ofB.body)).status, 201)
      assert.strictEqual((await ask(call, c.did)).status, 201)
    })
  })
})
