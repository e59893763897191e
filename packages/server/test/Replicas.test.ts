/**
 * ARCHITECTURE §7: any number of stateless server replicas share one PostgreSQL. Three real servers
 * start together on one fresh database (migrating under the advisory lock), each sweeping deadlines
 * every few milliseconds, while the test sends racing traffic through all of them: one post, credit
 * or debit key to several replicas, accepts of one bounty through different replicas, approvals,
 * rejections, cancels and resolutions racing each other and the sweeps, deadlines expiring while
 * every replica sweeps, one DID registering through every replica, a token rotated and revoked
 * through different replicas, one feed acknowledged from two.
 *
 * Then: every bounty is where its deadlines say, each transition was applied once (no audit row or
 * event twice), the money reconciles and is conserved, no request answered 500 and no sweep failed,
 * and every replay answered what the first call did.
 */
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Sign } from "@clawbounties/verify"
import { Effect, Exit, Scope } from "effect"
import pg from "pg"
import * as H from "./helpers.js"

// Deadlines of a second or two, so they pass while the replicas sweep (read by each server's config).
process.env.BOUNTY_MIN_DEADLINE = "1 second"
process.env.DISPUTE_ESCALATION_AFTER = "1 second"
// Few live tokens per DID, so registrations racing through replicas supersede the same ones.
const MAX_LIVE_TOKENS = 2
process.env.IDENTITY_MAX_LIVE_TOKENS = `${MAX_LIVE_TOKENS}`

const probe = await PgTestDatabase.probe()

const REPLICAS = 3

const until = async (check: () => Promise<boolean>, what: string) => {
  const deadline = Date.now() + 20_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe.skipIf(!probe.available)(`replicas sharing one PostgreSQL ${probe.reason}`, () => {
  const scope = Effect.runSync(Scope.make())
  let db: { readonly name: string; readonly url: string }
  let servers: Array<H.TestServer> = []
  let admin: pg.Client
  /** Every reply any replica gave, to check that none was a 500. */
  const replies: Array<{ readonly what: string; readonly reply: H.Reply }> = []

  /** A client of replica `i` (any integer: replicas in turn) that records its replies. */
  const via = (i: number): H.Call => {
    const call = H.client(servers[i % REPLICAS]!.url)
    return async (method, path, options) => {
      const reply = await call(method, path, options)
      replies.push({ what: `replica ${i % REPLICAS}: ${method} ${path}`, reply })
      return reply
    }
  }
  const query = async (text: string, values: Array<unknown> = []) => (await admin.query(text, values)).rows
  const expect = (reply: H.Reply, status: number, what: string) => {
    assert.strictEqual(reply.status, status, `${what}: ${JSON.stringify(reply.body)}`)
    return reply.body
  }

  beforeAll(async () => {
    db = await Effect.runPromise(Scope.extend(PgTestDatabase.database("replicas"), scope))
    // All at once on the empty database: their migrations race.
    servers = await Promise.all(Array.from({ length: REPLICAS }, () =>
      H.start({ _tag: "postgres", url: db.url }, { scheduler: { interval: "50 millis", enabled: true }, shutdownGrace: "1 second" })))
    admin = new pg.Client({ connectionString: db.url })
    await admin.connect()
  })
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.cleanup()))
    await admin?.end()
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("racing traffic through every replica applies each transition once and conserves money", async () => {
    const requester = H.signer(81)
    const requesterToken = await H.registerRequester(via(0), requester)
    const workers = await Promise.all([82, 83, 84].map(async (n, i) => {
      const s = H.signer(n)
      return { signer: s, did: s.did, ...(await H.registerWorker(via(i), s, n)) }
    }))

    // One credit key sent to every replica at once: one credit, every answer the same.
    const credit = { did: requester.did, amount_minor: "1000000", currency: "USD", reason: "replicas", idempotency_key: "replicas-credit" }
    const credits = await Promise.all(Array.from({ length: REPLICAS }, (_, i) =>
      via(i)("POST", "/v1/operator/credits", { token: H.OPERATOR_TOKEN, body: credit })))
    for (const reply of credits) assert.deepStrictEqual([reply.status, reply.body], [201, credits[0]!.body])

    const post = async (i: number, key: string, deadlines: Record<string, number>) =>
      expect(await via(i)("POST", "/v1/bounties", {
        token: requesterToken,
        body: { ...H.researchBounty("5000"), idempotency_key: key, deadlines }
      }), 201, `post ${key}`)
    // One post key through two replicas at once: one bounty.
    const [postA, postB] = await Promise.all([0, 1].map((i) => post(i, "replicas-post-twice", { accept_within_seconds: 1 })))
    assert.deepStrictEqual(postA, postB)

    /** Each worker accepts through a replica of its own at once: exactly one wins. */
    const acceptRace = async (bountyId: string) => {
      const answers = await Promise.all(workers.map((w, i) =>
        via(i)("POST", `/v1/bounties/${bountyId}/accept`, { token: w.token, body: {} })))
      const won = answers.flatMap((reply, i) => (reply.status === 200 ? [workers[i]!] : []))
      assert.strictEqual(won.length, 1, JSON.stringify(answers.map((reply) => [reply.status, reply.body])))
      return won[0]!
    }
    const submit = async (i: number, bountyId: string, worker: typeof workers[number]) =>
      expect(await via(i)("POST", `/v1/bounties/${bountyId}/submit`, {
        token: worker.token,
        body: { proof_bundle_envelope: H.proofBundle(worker.signer) }
      }), 201, "submit").submission_id as string

    const expected = new Map<string, string>([[postA.bounty_id, "expired"]])
    const scenarios: Array<Promise<void>> = []

    // Open, nobody accepts: expired by whichever replica's sweep claims it.
    for (let n = 0; n < 4; n++) {
      scenarios.push(post(n, `replicas-expire-${n}`, { accept_within_seconds: 1 }).then((posted) => {
        expected.set(posted.bounty_id, "expired")
      }))
    }
    // Accepted, never submitted: reopened at the work deadline (open again, its offer still running).
    for (let n = 0; n < 3; n++) {
      scenarios.push((async () => {
        const posted = await post(n, `replicas-abandon-${n}`, { work_within_seconds: 1 })
        await acceptRace(posted.bounty_id)
        expected.set(posted.bounty_id, "open")
      })())
    }
    // Approved through every replica at once, each with the same body: one approval, one answer.
    for (let n = 0; n < 3; n++) {
      scenarios.push((async () => {
        const posted = await post(n, `replicas-approve-${n}`, {})
        const worker = await acceptRace(posted.bounty_id)
        const submissionId = await submit(n + 1, posted.bounty_id, worker)
        const approvals = await Promise.all(Array.from({ length: REPLICAS }, (_, i) =>
          via(i)("POST", `/v1/bounties/${posted.bounty_id}/approve`, { token: requesterToken, body: { submission_id: submissionId } })))
        for (const reply of approvals) assert.deepStrictEqual([reply.status, reply.body], [200, approvals[0]!.body])
        expected.set(posted.bounty_id, "approved")
      })())
    }
    // A requester approving as the review window closes and every replica sweeps: approved once,
    // by the requester or by a sweep (then the approval finds it approved already, as on one server).
    for (let n = 0; n < 3; n++) {
      scenarios.push((async () => {
        const posted = await post(n, `replicas-review-${n}`, { review_within_seconds: 1 })
        const worker = await acceptRace(posted.bounty_id)
        const submissionId = await submit(n, posted.bounty_id, worker)
        await new Promise((resolve) => setTimeout(resolve, 900 + 50 * n))
        const approved = await via(n + 2)("POST", `/v1/bounties/${posted.bounty_id}/approve`, { token: requesterToken, body: { submission_id: submissionId } })
        if (approved.status !== 200) {
          assert.deepStrictEqual([approved.status, approved.body.error, approved.body.details.status], [409, "SUBMISSION_NOT_PENDING_REVIEW", "approved"])
        }
        expected.set(posted.bounty_id, "approved")
      })())
    }
    // Rejected through two replicas at once: one dispute, escalated by one sweep, resolved by one
    // operator call sent to every replica.
    for (let n = 0; n < 2; n++) {
      scenarios.push((async () => {
        const posted = await post(n, `replicas-reject-${n}`, {})
        const worker = await acceptRace(posted.bounty_id)
        const submissionId = await submit(n, posted.bounty_id, worker)
        const rejections = await Promise.all([0, 1].map((i) =>
          via(n + i)("POST", `/v1/bounties/${posted.bounty_id}/reject`, { token: requesterToken, body: { submission_id: submissionId, reason: "missing deliverables" } })))
        for (const reply of rejections) assert.deepStrictEqual([reply.status, reply.body], [200, rejections[0]!.body])
        const disputeId = rejections[0]!.body.dispute_id as string
        if (n === 0) {
          await until(async () => (await query("SELECT escalated FROM disputes WHERE dispute_id = $1", [disputeId]))[0].escalated === 1, "the escalation")
          const resolutions = await Promise.all(Array.from({ length: REPLICAS }, (_, i) =>
            via(i)("POST", `/v1/operator/disputes/${disputeId}/resolve`, {
              token: H.OPERATOR_TOKEN,
              body: { outcome: "split", worker_share_bps: 5000, idempotency_key: `replicas-resolve-${n}` }
            })))
          for (const reply of resolutions) assert.deepStrictEqual([reply.status, reply.body], [200, resolutions[0]!.body])
        }
        expected.set(posted.bounty_id, n === 0 ? "resolved" : "disputed")
      })())
    }
    await Promise.all(scenarios)

    const statusOf = async (i: number, bountyId: string) =>
      expect(await via(i)("GET", `/v1/bounties/${bountyId}`, { token: requesterToken }), 200, "get").status as string
    await until(async () => {
      const statuses = await Promise.all([...expected.keys()].map((bountyId, i) => statusOf(i, bountyId)))
      if (statuses.some((status, i) => status !== [...expected.values()][i])) return false
      return (await query("SELECT 1 FROM disputes WHERE status = 'open' AND escalated = 0")).length === 0
    }, "every bounty and dispute to reach the state its deadlines say")

    // Approvals by the requester or by the review window's end, which of them is a race.
    const transitions = await query(`SELECT replace(action, 'auto_approve', 'approve') AS action, count(*)::int AS n
      FROM audit_log WHERE entity_type IN ('bounty', 'dispute') GROUP BY 1 ORDER BY 1`)
    assert.deepStrictEqual(Object.fromEntries(transitions.map((row) => [row.action, row.n])), {
      "bounty.accept": 11,
      "bounty.acceptance_timeout": 3,
      "bounty.approve": 6,
      "bounty.expire": 5,
      "bounty.post": 16,
      "bounty.reject": 2,
      "bounty.submit": 8,
      "dispute.escalate": 2,
      "dispute.resolve": 1
    })

    // Money: the ledger reconciles on every replica, and the credit is all still there.
    for (let i = 0; i < REPLICAS; i++) {
      const reconciled = expect(await via(i)("GET", "/v1/operator/reconcile", { token: H.OPERATOR_TOKEN }), 200, "reconcile")
      assert.isTrue(reconciled.ok, JSON.stringify(reconciled))
    }
    const balance = async (did: string) => {
      const buckets = expect(await via(0)("GET", `/v1/balances?did=${encodeURIComponent(did)}`, { token: H.OPERATOR_TOKEN }), 200, "balances").buckets
      return Object.values(buckets as Record<string, string>).reduce((sum, amount) => sum + BigInt(amount), 0n)
    }
    const held = [requester.did, ...workers.map((w) => w.did), "platform:fees"]
    const total = (await Promise.all(held.map(balance))).reduce((sum, amount) => sum + amount, 0n)
    assert.strictEqual(total, 1_000_000n)

    await checkInvariants()
  }, 60_000)

  it("a token rotated and revoked through different replicas at once ends with its line revoked once", async () => {
    const worker = H.signer(91)
    const { token } = await H.registerWorker(via(0), worker, 91)
    const tokens = expect(await via(1)("GET", "/v1/auth/tokens", { token }), 200, "tokens").tokens
    const tokenId = tokens[0].token_id as string
    const [rotateA, rotateB, revokeA, revokeB] = await Promise.all([
      via(0)("POST", "/v1/auth/tokens/rotate", { token, body: {} }),
      via(1)("POST", "/v1/auth/tokens/rotate", { token, body: {} }),
      via(1)("POST", `/v1/auth/tokens/${tokenId}/revoke`, { token: H.OPERATOR_TOKEN, body: { reason: "lost" } }),
      via(2)("POST", `/v1/auth/tokens/${tokenId}/revoke`, { token: H.OPERATOR_TOKEN, body: { reason: "lost" } })
    ])
    // At most one rotation wins, and whatever it issued is revoked with its line.
    assert.isAtMost([rotateA, rotateB].filter((reply) => reply.status === 201).length, 1)
    for (const reply of [rotateA, rotateB]) assert.include([201, 401], reply.status, JSON.stringify(reply.body))
    for (const reply of [revokeA, revokeB]) assert.strictEqual(reply.status, 200, JSON.stringify(reply.body))
    const line = await query("SELECT token_id, revoked_at FROM auth_tokens WHERE root_token_id = $1", [tokenId])
    assert.deepStrictEqual(line.filter((row) => row.revoked_at === null), [])
    for (const reply of [rotateA, rotateB].filter((r) => r.status === 201)) {
      expect(await via(2)("GET", "/v1/auth/tokens", { token: reply.body.token }), 401, "the rotated token")
    }
    // Each token of the line revoked once: by the rotation that replaced it or by a revocation.
    const revocations = await query(`SELECT t.token_id, count(a.audit_id)::int AS n FROM auth_tokens t
      LEFT JOIN audit_log a ON a.entity_id = t.token_id AND a.action IN ('token.rotate', 'token.revoke')
      WHERE t.root_token_id = $1 GROUP BY t.token_id`, [tokenId])
    assert.deepStrictEqual(revocations.map((row) => row.n), line.map(() => 1))
    await checkInvariants()
  })

  it("one feed acknowledged from two replicas at once counts each event once", async () => {
    const requester = H.signer(92)
    const token = await H.registerRequester(via(0), requester)
    for (let n = 0; n < 3; n++) {
      await H.fund(via(n), requester.did, "100", `replicas-feed-${n}`)
    }
    const feed = expect(await via(0)("GET", "/v1/events", { token }), 200, "events").events as Array<{ event_id: string }>
    assert.isAtLeast(feed.length, 3)
    const ids = feed.map((event) => event.event_id)
    const acks = await Promise.all([1, 2].map((i) => via(i)("POST", "/v1/events/ack", { token, body: { event_ids: ids } })))
    const bodies = acks.map((reply) => expect(reply, 200, "ack"))
    assert.strictEqual(bodies[0].acked + bodies[1].acked, ids.length)
    assert.deepStrictEqual(expect(await via(2)("GET", "/v1/events", { token }), 200, "events").events, [])
    await checkInvariants()
  })

  it("one DID registering as a worker through every replica at once: one profile, every registration answered", async () => {
    const worker = H.signer(93)
    const challenges = await Promise.all(Array.from({ length: REPLICAS }, (_, i) =>
      via(i)("POST", "/v1/auth/challenge", { body: { did: worker.did, purpose: "register" } })))
    const registrations = await Promise.all(challenges.map((challenge, i) => {
      const proof = Sign.challengeResponse(worker, { nonce: challenge.body.nonce, message: challenge.body.messages.worker, audience: challenge.body.audience }, { issuedAt: new Date().toISOString() })
      return via(i + 1)("POST", "/v1/workers/register", { body: { worker_did: worker.did, challenge_id: challenge.body.challenge_id, proof, ...H.workerProfile(93) } })
    }))
    for (const reply of registrations) assert.strictEqual(reply.status, 201, JSON.stringify(reply.body))
    assert.deepStrictEqual(registrations.map((reply) => reply.body.created).sort(), [false, false, true])
    assert.deepStrictEqual(new Set(registrations.map((reply) => reply.body.worker_id)).size, 1)
    await checkInvariants()
  })

  it("one DID at its live-token limit registering through every replica, and while its oldest token is revoked: each token revoked once", async () => {
    const requester = H.signer(94)
    for (let n = 0; n < MAX_LIVE_TOKENS; n++) await H.registerRequester(via(n), requester)
    await Promise.all(Array.from({ length: REPLICAS }, (_, i) => H.registerRequester(via(i), requester)))
    const live = async () => (await query("SELECT token_id FROM auth_tokens WHERE did = $1 AND revoked_at IS NULL", [requester.did])).length
    assert.strictEqual(await live(), MAX_LIVE_TOKENS)
    // Its oldest token revoked through one replica while a registration through another supersedes it.
    for (let n = 0; n < 5; n++) {
      const [oldest] = await query(`SELECT token_id FROM auth_tokens WHERE did = $1 AND revoked_at IS NULL
        ORDER BY created_at, token_id LIMIT 1`, [requester.did])
      const challenge = expect(await via(n)("POST", "/v1/auth/challenge", { body: { did: requester.did, purpose: "register" } }), 201, "challenge")
      const proof = Sign.challengeResponse(requester, { nonce: challenge.nonce, message: challenge.messages.requester, audience: challenge.audience }, { issuedAt: new Date().toISOString() })
      const [revoked, registered] = await Promise.all([
        via(n)("POST", `/v1/auth/tokens/${oldest.token_id}/revoke`, { token: H.OPERATOR_TOKEN, body: { reason: "lost" } }),
        via(n + 1)("POST", "/v1/requesters/register", { body: { requester_did: requester.did, challenge_id: challenge.challenge_id, proof } })
      ])
      assert.deepStrictEqual([revoked.status, registered.status], [200, 201])
    }
    assert.strictEqual(await live(), MAX_LIVE_TOKENS)
    await checkInvariants()
  })

  it("commands racing each other through different replicas: one wins, replays answer alike, the losers are refused", async () => {
    const requester = H.signer(95)
    const token = await H.registerRequester(via(0), requester)
    const [w1, w2] = await Promise.all([96, 97].map(async (n, i) => {
      const s = H.signer(n)
      return { signer: s, did: s.did, ...(await H.registerWorker(via(i), s, n)) }
    }))
    await H.fund(via(1), requester.did, "100000", "races-fund")
    const outcome = (reply: H.Reply) => (reply.status < 300 ? reply.status : `${reply.status} ${reply.body.error}`)
    const everyReplica = (method: string, path: (i: number) => string, options: (i: number) => H.CallOptions) =>
      Promise.all(Array.from({ length: REPLICAS }, (_, i) => via(i)(method, path(i), options(i))))
    const post = async (key: string, deadlines: Record<string, number> = {}) =>
      expect(await via(0)("POST", "/v1/bounties", { token, body: { ...H.researchBounty("5000"), idempotency_key: key, deadlines } }), 201, "post").bounty_id as string

    // A cancel and an accept at once: one of them.
    const contested = await post("races-cancel-accept")
    const [cancelled, accepted] = await Promise.all([
      via(0)("POST", `/v1/bounties/${contested}/cancel`, { token, body: { reason: "changed my mind" } }),
      via(1)("POST", `/v1/bounties/${contested}/accept`, { token: w1!.token, body: {} })
    ])
    assert.includeDeepMembers([[200, "409 BOUNTY_NOT_OPEN"], ["409 BOUNTY_NOT_OPEN", 200]], [[outcome(cancelled), outcome(accepted)]])

    // One worker's accept, then its submission, sent to every replica: replays of one answer.
    const bountyId = await post("races-replays")
    const accepts = await everyReplica("POST", () => `/v1/bounties/${bountyId}/accept`, () => ({ token: w1!.token, body: {} }))
    for (const reply of accepts) assert.deepStrictEqual([reply.status, reply.body], [200, accepts[0]!.body])
    const bundle = H.proofBundle(w1!.signer)
    const submits = await everyReplica("POST", () => `/v1/bounties/${bountyId}/submit`, () => ({ token: w1!.token, body: { proof_bundle_envelope: bundle } }))
    for (const reply of submits) assert.deepStrictEqual([reply.status, reply.body], [201, submits[0]!.body])
    // An approval and a rejection at once: one of them.
    const submissionId = submits[0]!.body.submission_id
    const closures = await Promise.all([
      via(1)("POST", `/v1/bounties/${bountyId}/approve`, { token, body: { submission_id: submissionId } }),
      via(2)("POST", `/v1/bounties/${bountyId}/reject`, { token, body: { submission_id: submissionId, reason: "incomplete" } })
    ])
    assert.deepStrictEqual(closures.map(outcome).sort(), [200, "409 SUBMISSION_NOT_PENDING_REVIEW"])

    // Different submissions at once: one goes under review.
    const other = await post("races-submissions")
    expect(await via(0)("POST", `/v1/bounties/${other}/accept`, { token: w2!.token, body: {} }), 200, "accept")
    const submissions = await everyReplica("POST", () => `/v1/bounties/${other}/submit`, () => ({ token: w2!.token, body: { proof_bundle_envelope: H.proofBundle(w2!.signer) } }))
    assert.deepStrictEqual(submissions.map(outcome).sort(), [201, "409 SUBMISSION_ALREADY_UNDER_REVIEW", "409 SUBMISSION_ALREADY_UNDER_REVIEW"])
    // Its dispute resolved three ways at once under three keys: one resolution.
    const disputeId = expect(await via(1)("POST", `/v1/bounties/${other}/reject`, {
      token,
      body: { submission_id: submissions.find((reply) => reply.status === 201)!.body.submission_id, reason: "incomplete" }
    }), 200, "reject").dispute_id
    const outcomes = ["worker_award", "requester_refund", "split"] as const
    const resolutions = await everyReplica("POST", () => `/v1/operator/disputes/${disputeId}/resolve`, (i) => ({
      token: H.OPERATOR_TOKEN,
      body: { outcome: outcomes[i], ...(outcomes[i] === "split" ? { worker_share_bps: 5000 } : {}), idempotency_key: `races-resolve-${i}` }
    }))
    assert.deepStrictEqual(resolutions.map(outcome).sort(), [200, "409 DISPUTE_NOT_OPEN", "409 DISPUTE_NOT_OPEN"])

    // Cancels and accepts as the offer runs out and every replica sweeps: each bounty ends once.
    await Promise.all([0, 1, 2].map(async (n) => {
      const expiring = await post(`races-expiring-${n}`, { accept_within_seconds: 1 })
      await new Promise((resolve) => setTimeout(resolve, 950 + 25 * n))
      await Promise.all([
        via(n)("POST", `/v1/bounties/${expiring}/cancel`, { token, body: { reason: "changed my mind" } }),
        via(n + 1)("POST", `/v1/bounties/${expiring}/accept`, { token: w2!.token, body: {} })
      ])
    }))

    // One debit key to every replica: one debit. One credit key with three bodies: one credit.
    const debit = { did: requester.did, amount_minor: "100", currency: "USD", reason: "races", idempotency_key: "races-debit" }
    const debits = await everyReplica("POST", () => "/v1/operator/debits", () => ({ token: H.OPERATOR_TOKEN, body: debit }))
    for (const reply of debits) assert.deepStrictEqual([reply.status, reply.body], [201, debits[0]!.body])
    const credits = await everyReplica("POST", () => "/v1/operator/credits", (i) => ({
      token: H.OPERATOR_TOKEN,
      body: { ...debit, amount_minor: `${100 + i}`, idempotency_key: "races-credit" }
    }))
    assert.deepStrictEqual(credits.map(outcome).sort(), [201, "409 IDEMPOTENCY_CONFLICT", "409 IDEMPOTENCY_CONFLICT"])

    // One requester's last 5375 (one bounty's buyer total) spent three ways at once: once.
    const spender = H.signer(98)
    const spenderToken = await H.registerRequester(via(2), spender)
    await H.fund(via(0), spender.did, "5375", "races-spender")
    const spends = await Promise.all([
      via(0)("POST", "/v1/bounties", { token: spenderToken, body: { ...H.researchBounty("5000"), idempotency_key: "races-spend-1" } }),
      via(1)("POST", "/v1/bounties", { token: spenderToken, body: { ...H.researchBounty("5000"), idempotency_key: "races-spend-2" } }),
      via(2)("POST", "/v1/operator/debits", { token: H.OPERATOR_TOKEN, body: { did: spender.did, amount_minor: "5375", currency: "USD", reason: "races", idempotency_key: "races-spend-3" } })
    ])
    assert.deepStrictEqual(spends.map(outcome).sort(), [201, "402 INSUFFICIENT_FUNDS", "402 INSUFFICIENT_FUNDS"])

    await until(async () => (await query("SELECT 1 FROM bounties WHERE requester_did = $1 AND status = 'open'", [requester.did])).length === 0, "the offers to run out")
    const reconciled = expect(await via(2)("GET", "/v1/operator/reconcile", { token: H.OPERATOR_TOKEN }), 200, "reconcile")
    assert.isTrue(reconciled.ok, JSON.stringify(reconciled))
    await checkInvariants()
  })

  /**
   * Each transition applied once (no two audit rows from one state, no two events with one payload;
   * registering again is no transition, each one is its own from the same state), no reply was a
   * 500, and no replica's sweep failed.
   */
  const checkInvariants = async () => {
    assert.deepStrictEqual(await query(`SELECT entity_id, action, before_state, count(*) AS n FROM audit_log
      WHERE action <> 'identity.reauthenticate' GROUP BY entity_id, action, before_state HAVING count(*) > 1`), [])
    assert.deepStrictEqual(await query(`SELECT subject_id, type, payload, count(*) AS n FROM outbox
      GROUP BY subject_id, type, payload HAVING count(*) > 1`), [])
    assert.deepStrictEqual(replies.filter(({ reply }) => reply.status >= 500).map(({ what, reply }) => `${what}: ${reply.status} ${JSON.stringify(reply.body)}`), [])
    for (let i = 0; i < REPLICAS; i++) {
      const status = expect(await via(i)("GET", "/v1/operator/sweep", { token: H.OPERATOR_TOKEN }), 200, "sweep status")
      assert.isAbove(status.runs, 0)
      assert.deepStrictEqual([status.failures, status.last_error], [0, null], `replica ${i}`)
    }
  }
})
