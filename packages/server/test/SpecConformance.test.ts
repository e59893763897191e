/**
 * What the specs promise a user of the HTTP API, checked where an audit against
 * agent-economy-mvp.md (B2, B3) and the API's own conventions found the server diverging.
 */
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { Hash, Sign } from "@clawbounties/verify"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import * as H from "./helpers.js"

const conformance = (name: string, startServer: () => Promise<H.TestServer>) => describe(name, () => {
  let server: H.TestServer
  let call: H.Call
  beforeAll(async () => {
    server = await startServer()
    call = H.client(server.url)
  })
  afterAll(async () => {
    await server?.cleanup()
  })

  /** A registered requester, funded, and a registered worker. */
  const parties = async (seed: number, fundingKey: string) => {
    const requester = H.signer(seed)
    const worker = H.signer(seed + 1)
    const requesterToken = await H.registerRequester(call, requester)
    const { token: workerToken } = await H.registerWorker(call, worker)
    await H.fund(call, requester.did, "100000", fundingKey)
    return { requester, worker, requesterToken, workerToken }
  }

  it("an agent-pack submission shows its agent_pack reference to the requester reviewing it (spec B2 Submission)", async () => {
    const { worker, requesterToken, workerToken } = await parties(31, "spec-agent-pack")
    const posted = await call("POST", "/v1/bounties", {
      token: requesterToken,
      body: { ...H.researchBounty("15000"), tags: ["agent_pack", "openclaw"] }
    })
    assert.strictEqual(posted.status, 201, JSON.stringify(posted.body))
    const bountyId: string = posted.body.bounty_id
    assert.strictEqual((await call("POST", `/v1/bounties/${bountyId}/accept`, { token: workerToken, body: {} })).status, 200)

    const bytes = new TextEncoder().encode("an agent pack's bytes")
    const bundleHash = Hash.sha256B64u(bytes)
    const artifact = Sign.artifact(worker, {
      artifact_id: "art_pack",
      artifact_type: "agent_pack_bundle",
      content_hash_b64u: bundleHash,
      content_type: "application/gzip",
      content_size_bytes: bytes.length
    }, { issuedAt: new Date().toISOString() })
    const agentPack = {
      bundle_url: "https://packs.example/pack.tar.gz",
      bundle_sha256_b64u: bundleHash,
      manifest_path: "agent-pack/manifest.json"
    }
    const submitted = await call("POST", `/v1/bounties/${bountyId}/submit`, {
      token: workerToken,
      body: { proof_bundle_envelope: H.proofBundle(worker), artifacts: [{ envelope: artifact }], agent_pack: agentPack }
    })
    assert.strictEqual(submitted.status, 201, JSON.stringify(submitted.body))

    // The requester reviews the pack: where to download it and where its manifest is.
    const one = await call("GET", `/v1/submissions/${submitted.body.submission_id}`, { token: requesterToken })
    assert.strictEqual(one.status, 200, JSON.stringify(one.body))
    assert.deepStrictEqual(one.body.agent_pack, agentPack)
    const listed = await call("GET", `/v1/bounties/${bountyId}/submissions`, { token: requesterToken })
    assert.deepStrictEqual(listed.body.submissions.map((s: { agent_pack: unknown }) => s.agent_pack), [agentPack])

    // A submission without a pack says so.
    const plain = await call("POST", "/v1/bounties", { token: requesterToken, body: H.researchBounty() })
    await call("POST", `/v1/bounties/${plain.body.bounty_id}/accept`, { token: workerToken, body: {} })
    const plainSubmitted = await call("POST", `/v1/bounties/${plain.body.bounty_id}/submit`, {
      token: workerToken,
      body: { proof_bundle_envelope: H.proofBundle(worker) }
    })
    assert.strictEqual(plainSubmitted.status, 201, JSON.stringify(plainSubmitted.body))
    const plainOne = await call("GET", `/v1/submissions/${plainSubmitted.body.submission_id}`, { token: requesterToken })
    assert.strictEqual(plainOne.body.agent_pack, null)
  })

  it("the bounty list's last page has no next_cursor, as workers' and the ledger history's have none", async () => {
    const requester = H.signer(41)
    const token = await H.registerRequester(call, requester)
    await H.fund(call, requester.did, "100000", "spec-paging")
    for (let i = 0; i < 3; i++) assert.strictEqual((await call("POST", "/v1/bounties", { token, body: H.researchBounty() })).status, 201)
    const idsOf = (reply: H.Reply) => reply.body.bounties.map((b: { bounty_id: string }) => b.bounty_id)

    const all = await call("GET", "/v1/bounties?mine=true&limit=3", { token })
    assert.strictEqual(idsOf(all).length, 3)
    // The page is full and the last: a cursor here would promise a page that is empty.
    assert.isNull(all.body.next_cursor)
    const first = await call("GET", "/v1/bounties?mine=true&limit=2", { token })
    assert.deepStrictEqual(idsOf(first), idsOf(all).slice(0, 2))
    assert.isString(first.body.next_cursor)
    const last = await call("GET", `/v1/bounties?mine=true&limit=1&cursor=${first.body.next_cursor}`, { token })
    assert.deepStrictEqual(idsOf(last), idsOf(all).slice(2))
    assert.isNull(last.body.next_cursor)
  })

  it("the operators' dispute queue and audit log page with a cursor, as the bounty list does", async () => {
    const { worker, requesterToken: token, workerToken } = await parties(51, "spec-dispute-paging")
    const disputed: Array<string> = []
    const bounties: Array<string> = []
    for (let i = 0; i < 3; i++) {
      const posted = await call("POST", "/v1/bounties", { token, body: H.researchBounty() })
      bounties.push(posted.body.bounty_id)
      await call("POST", `/v1/bounties/${posted.body.bounty_id}/accept`, { token: workerToken, body: {} })
      const submitted = await call("POST", `/v1/bounties/${posted.body.bounty_id}/submit`, {
        token: workerToken,
        body: { proof_bundle_envelope: H.proofBundle(worker) }
      })
      const rejected = await call("POST", `/v1/bounties/${posted.body.bounty_id}/reject`, {
        token,
        body: { submission_id: submitted.body.submission_id, reason: "missing deliverables" }
      })
      assert.strictEqual(rejected.status, 200, JSON.stringify(rejected.body))
      disputed.push(rejected.body.dispute_id)
    }
    // Other tests' rows share the operator's lists: page through the whole of each, a few at a time,
    // and get what one page of 500 holds, in its order.
    const operator = { token: H.OPERATOR_TOKEN }
    const pageThrough = async (path: string, list: "disputes" | "entries", id: "dispute_id" | "audit_id") => {
      const whole = await call("GET", `${path}?limit=500`, operator)
      assert.isNull(whole.body.next_cursor)
      const seen: Array<string> = []
      let cursor: string | null = null
      do {
        const page: H.Reply = await call("GET", `${path}?limit=2${cursor === null ? "" : `&cursor=${cursor}`}`, operator)
        assert.strictEqual(page.status, 200, JSON.stringify(page.body))
        seen.push(...page.body[list].map((row: Record<string, string>) => row[id]))
        cursor = page.body.next_cursor
      } while (cursor !== null)
      assert.deepStrictEqual(seen, whole.body[list].map((row: Record<string, string>) => row[id]))
      return whole.body[list] as Array<Record<string, string>>
    }
    assert.includeMembers((await pageThrough("/v1/operator/disputes", "disputes", "dispute_id")).map((d) => d.dispute_id), disputed)
    assert.includeMembers((await pageThrough("/v1/operator/audit", "entries", "audit_id")).map((e) => e.entity_id), bounties)
    for (const path of ["/v1/operator/disputes", "/v1/operator/audit"]) {
      const forged = await call("GET", `${path}?cursor=${Buffer.from("1|x|dsp_1").toString("base64url")}`, operator)
      assert.deepStrictEqual([forged.status, forged.body.error, forged.body.details.issues[0].path], [400, "INVALID_REQUEST", "cursor"])
    }
  })

  it("a post in the post_bounty_request.v2 form names its proof floor minimum_proof_tier, and gets it", async () => {
    const requester = H.signer(71)
    const token = await H.registerRequester(call, requester)
    await H.fund(call, requester.did, "100000", "spec-minimum-proof-tier")
    // `none` is the schema's default, so a client generated from it may always send it.
    const none = await call("POST", "/v1/bounties", { token, body: { ...H.researchBounty(), minimum_proof_tier: "none" } })
    assert.strictEqual(none.status, 201, JSON.stringify(none.body))
    assert.strictEqual((await call("GET", `/v1/bounties/${none.body.bounty_id}`, { token })).body.min_proof_tier, "self")
    // A floor this deployment cannot verify is refused under the name the client used, as
    // `min_proof_tier` is; and of two floors given, the stricter holds (a floor is never lowered).
    for (const body of [{ minimum_proof_tier: "gateway" }, { min_proof_tier: "self", minimum_proof_tier: "sandbox" }]) {
      const refused = await call("POST", "/v1/bounties", { token, body: { ...H.researchBounty(), ...body } })
      assert.deepStrictEqual([refused.status, refused.body.error, refused.body.details.issues?.[0]?.path], [400, "INVALID_REQUEST", "minimum_proof_tier"], JSON.stringify(body))
    }
  })

  it("the bounty list's default status is what openapi.json says, for workers and for operators", async () => {
    const requester = H.signer(61)
    const token = await H.registerRequester(call, requester)
    const { token: workerToken } = await H.registerWorker(call, H.signer(62))
    await H.fund(call, requester.did, "100000", "spec-default-status")
    const posted = await call("POST", "/v1/bounties", { token, body: H.researchBounty() })
    await call("POST", `/v1/bounties/${posted.body.bounty_id}/cancel`, { token, body: {} })
    const listed = async (who: string) =>
      (await call("GET", "/v1/bounties?limit=200", { token: who })).body.bounties.some((b: { bounty_id: string }) => b.bounty_id === posted.body.bounty_id)
    assert.isFalse(await listed(workerToken))
    assert.isTrue(await listed(H.OPERATOR_TOKEN))
    const operation = (await call("GET", "/openapi.json")).body.paths["/v1/bounties"].get
    assert.match(`${operation.summary} ${operation.description}`, /operators[^.;]*every status/i)
  })

  it("openapi.json states each list's largest page size, and the server takes exactly that much", async () => {
    const requester = H.signer(51)
    const token = await H.registerRequester(call, requester)
    const document = (await call("GET", "/openapi.json")).body
    const queries: Record<string, string> = {
      "/v1/bounties": "",
      "/v1/workers": "",
      "/v1/balances/history": `did=${encodeURIComponent(requester.did)}&`,
      "/v1/operator/disputes": "",
      "/v1/operator/audit": ""
    }
    for (const [path, query] of Object.entries(queries)) {
      const limit = document.paths[path].get.parameters.find((p: { name: string }) => p.name === "limit")
      assert.deepInclude(limit?.schema, { type: "integer", minimum: 1 }, path)
      const max: number = limit.schema.maximum
      assert.isTrue(Number.isInteger(max), `${path}: limit says ${JSON.stringify(limit?.schema)}`)
      const who = path.startsWith("/v1/operator") ? H.OPERATOR_TOKEN : token
      assert.strictEqual((await call("GET", `${path}?${query}limit=${max}`, { token: who })).status, 200, path)
      const over = await call("GET", `${path}?${query}limit=${max + 1}`, { token: who })
      assert.deepStrictEqual([over.status, over.body.details.issues[0].path], [400, "limit"], path)
    }
  })
})

conformance("spec conformance over HTTP on SQLite", H.startSqlite)

const pg = await PgTestDatabase.probe()
describe.skipIf(!pg.available)(`spec conformance over HTTP on PostgreSQL ${pg.reason}`, () => {
  const scope = Effect.runSync(Scope.make())
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  conformance("over a database of its own", async () => {
    const db = await Effect.runPromise(Scope.extend(PgTestDatabase.database("server"), scope))
    return H.start({ _tag: "postgres", url: db.url })
  })
})
