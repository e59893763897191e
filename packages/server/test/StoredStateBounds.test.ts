/**
 * What a caller with no token, or only the token it registered itself, can make the server store
 * or read on every request is bounded. Registration challenges: a few open per DID (asking again
 * replaces the oldest) and a ceiling for the whole server (CHALLENGE_CAPACITY_REACHED). Tokens: a
 * few live per DID and role, and a listing that does not grow with every rotation.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Identities, Tokens } from "@clawbounties/marketplace"
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

describe("tokens a registered caller can pile up", () => {
  it("GET /v1/auth/tokens lists every live token and only the newest revoked ones: each rotation adds a revoked row, and listing them all grew without bound", async () => {
    await withServer({}, async (server, call) => {
      const who = H.signer(45)
      const first = await H.registerRequester(call, who)
      let token = first
      for (let i = 0; i < Tokens.LISTED_REVOKED_TOKENS + 20; i++) {
        const rotated = await call("POST", "/v1/auth/tokens/rotate", { token, body: {} })
        assert.strictEqual(rotated.status, 201, JSON.stringify(rotated.body))
        token = rotated.body.token
      }
      const other = await H.registerRequester(call, who)
      const listed = await call("GET", "/v1/auth/tokens", { token })
      assert.strictEqual(listed.status, 200, JSON.stringify(listed.body))
      const tokens: Array<any> = listed.body.tokens
      const live = tokens.filter((t) => t.revoked_at === null)
      assert.strictEqual(live.length, 2)
      assert.strictEqual(tokens.length, 2 + Tokens.LISTED_REVOKED_TOKENS)
      // Oldest first, as before; the oldest revoked ones are left out.
      const created = tokens.map((t) => `${t.created_at} ${t.token_id}`)
      assert.deepStrictEqual(created, [...created].sort())
      assert.strictEqual(tokens.at(-1).token_id, (await call("GET", "/v1/auth/tokens", { token: other })).body.tokens.at(-1).token_id)
      assert.strictEqual(await server.runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
        Effect.map(sql<{ n: number }>`SELECT COUNT(*) AS n FROM auth_tokens WHERE did = ${who.did}`, (rows) => Number(rows[0]!.n)))), Tokens.LISTED_REVOKED_TOKENS + 22)
    })
  })

  it("a DID registering again and again keeps at most maxLiveTokens live tokens per role: the oldest is revoked as superseded", async () => {
    await withServer({ maxLiveTokens: 2 }, async (_server, call) => {
      const who = H.signer(46)
      const tokens: Array<string> = []
      for (let i = 0; i < 4; i++) tokens.push(await H.registerRequester(call, who))
      const statuses = await Promise.all(tokens.map(async (token) => (await call("GET", "/v1/auth/tokens", { token })).status))
      assert.deepStrictEqual(statuses, [401, 401, 200, 200])
      const listed = (await call("GET", "/v1/auth/tokens", { token: tokens[3]! })).body.tokens
      assert.deepStrictEqual(listed.map((t: any) => t.revoked_reason), ["superseded", "superseded", null, null])
      // The worker role counts on its own.
      await H.registerWorker(call, who)
      assert.strictEqual((await call("GET", "/v1/auth/tokens", { token: tokens[3]! })).status, 200)
    })
  })
})
