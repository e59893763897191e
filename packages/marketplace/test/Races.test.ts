/**
 * Races: the reference paid the wrong worker, paid and froze the same escrow, and orphaned
 * submissions when two requests met. Here each pair runs concurrently on separate connections
 * (PostgreSQL's pool) and exactly one wins; the ledger reconciles afterwards.
 */
import { assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { Effect, Either, Layer, TestClock } from "effect"
import * as Bounties from "../src/Bounties.js"
import * as Closure from "../src/Closure.js"
import * as Deadlines from "../src/Deadlines.js"
import * as Disputes from "../src/Disputes.js"
import * as Operators from "../src/Operators.js"
import type * as Requests from "../src/Requests.js"
import * as Submissions from "../src/Submissions.js"
import { balances, engineOver, migrationSets, operator, proofBundle, reconcileClean, requester, researchBounty, underReview, worker } from "./helpers/engine.js"

const pg = await PgTestDatabase.probe()

const concurrently = <A, E, R>(effects: ReadonlyArray<Effect.Effect<A, E, R>>) =>
  Effect.all(effects.map(Effect.either), { concurrency: "unbounded" })

const winners = <A, E>(results: ReadonlyArray<Either.Either<A, E>>) => results.filter(Either.isRight).length

/** How many times each event type was written about `subject`. */
const eventCounts = (subject: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ type: string }>`SELECT type FROM outbox WHERE subject_id = ${subject}`
    const counts: Record<string, number> = {}
    for (const { type } of rows) counts[type] = (counts[type] ?? 0) + 1
    return counts
  })

const reconciles = Effect.gen(function* () {
  const report = yield* reconcileClean
  assert.deepStrictEqual(report.discrepancies, [])
})

const suite = (store: () => Layer.Layer<SqlClient.SqlClient>) => {
  const run = <A, E>(effect: Effect.Effect<A, E, any>) => Effect.provide(Effect.andThen(effect, reconciles), engineOver(store()))

  it.effect("many workers accept one bounty: one wins and the escrow names that worker", () =>
    run(Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const { actor } = yield* requester(1)
      const workers = yield* Effect.forEach([2, 3, 4, 5, 6, 7, 8, 9], (n) => worker(n))
      const posted = yield* Bounties.post(actor, researchBounty())
      const results = yield* concurrently(workers.map((w) => Bounties.accept(w.actor, posted.bounty_id, {})))
      assert.strictEqual(winners(results), 1)
      const winner = workers[results.findIndex(Either.isRight)]!.actor.did
      const rows = yield* sql<{ bounty_worker: string; escrow_worker: string }>`SELECT b.worker_did AS bounty_worker, e.worker_did AS escrow_worker
        FROM bounties b JOIN escrows e ON e.bounty_id = b.bounty_id WHERE b.bounty_id = ${posted.bounty_id}`
      assert.deepStrictEqual(rows[0], { bounty_worker: winner, escrow_worker: winner })
      for (const result of results) if (Either.isLeft(result)) assert.include(["BountyAlreadyAccepted", "InvalidTransition"], result.left._tag)
    })))

  it.effect("approve against reject: exactly one decides", () =>
    run(Effect.gen(function* () {
      const { actor } = yield* requester(1, 10_000n)
      const w = yield* worker(2)
      const { posted, submitted } = yield* underReview(actor, w.key)
      const results = yield* concurrently<unknown, { readonly _tag: string }, any>([
        Closure.approve(actor, posted.bounty_id, { submission_id: submitted.submission_id }),
        Closure.reject(actor, posted.bounty_id, { submission_id: submitted.submission_id, reason: "no" })
      ])
      assert.strictEqual(winners(results), 1)
      const status = (yield* Bounties.get(actor, posted.bounty_id)).status
      const workerPaid = (yield* balances(w.actor.did)).A
      if (Either.isRight(results[0]!)) {
        assert.strictEqual(status, "approved")
        assert.strictEqual(workerPaid, 5000n)
      } else {
        assert.strictEqual(status, "disputed")
        assert.strictEqual(workerPaid, 0n)
        assert.strictEqual((yield* balances(actor.did)).H, 5375n)
      }
    })))

  it.effect("the review deadline's auto-approval against a reject: exactly one decides", () =>
    run(Effect.gen(function* () {
      const { actor } = yield* requester(1, 10_000n)
      const w = yield* worker(2)
      const { posted, submitted } = yield* underReview(actor, w.key)
      yield* TestClock.adjust("73 hours")
      const [sweep, rejected] = yield* Effect.all([
        Deadlines.sweep(),
        Effect.either(Closure.reject(actor, posted.bounty_id, { submission_id: submitted.submission_id, reason: "late" }))
      ], { concurrency: "unbounded" })
      assert.strictEqual(sweep.autoApproved + (Either.isRight(rejected) ? 1 : 0), 1)
      const status = (yield* Bounties.get(actor, posted.bounty_id)).status
      assert.strictEqual(status, Either.isRight(rejected) ? "disputed" : "approved")
    })))

  it.effect("two resolutions of one dispute with different keys: one resolves, the other finds it resolved", () =>
    run(Effect.gen(function* () {
      const { actor } = yield* requester(1, 100_000n)
      const w = yield* worker(2)
      const pairs: ReadonlyArray<readonly [Requests.ResolveDispute, Requests.ResolveDispute]> = [
        [{ outcome: "split", worker_share_bps: 3000 }, { outcome: "split", worker_share_bps: 7000 }],
        [{ outcome: "split", worker_share_bps: 5000 }, { outcome: "requester_refund" }]
      ]
      for (const [i, [first, second]] of pairs.entries()) {
        const { posted, submitted } = yield* underReview(actor, w.key, researchBounty({ title: `disputed ${i}` }))
        const { dispute_id } = yield* Closure.reject(actor, posted.bounty_id, { submission_id: submitted.submission_id, reason: "no" })
        const workerBefore = (yield* balances(w.actor.did)).A
        const results = yield* concurrently([
          Disputes.resolve(operator, dispute_id, { ...first, idempotency_key: `resolve-${i}-a` }),
          Disputes.resolve(operator, dispute_id, { ...second, idempotency_key: `resolve-${i}-b` })
        ])
        assert.strictEqual(winners(results), 1)
        const loser = results.find(Either.isLeft)!.left
        assert.strictEqual(loser._tag, "DisputeNotOpen", JSON.stringify(loser))
        const won = results.find(Either.isRight)!.right
        assert.strictEqual((yield* balances(w.actor.did)).A - workerBefore, BigInt(won.worker_amount_minor))
        assert.strictEqual((yield* Bounties.get(actor, posted.bounty_id)).status, won.bounty_status)
      }
      assert.strictEqual((yield* balances(actor.did)).H, 0n)
    })))

  it.effect("several sweepers at once apply each due transition once", () =>
    run(Effect.gen(function* () {
      const { actor } = yield* requester(1, 100_000n)
      for (let i = 0; i < 6; i++) yield* Bounties.post(actor, researchBounty({ title: `job ${i}` }))
      yield* TestClock.adjust("8 days")
      const reports = yield* Effect.all([Deadlines.sweep(), Deadlines.sweep(), Deadlines.sweep()], { concurrency: "unbounded" })
      assert.strictEqual(reports.reduce((total, r) => total + r.expired, 0), 6)
      assert.deepStrictEqual(yield* balances(actor.did), { A: 100_000n, H: 0n, B: 0n, F: 0n, P: 0n })
    })))

  it.effect("one request sent ten times at once under one key: one effect, the same answer for every caller", () =>
    run(Effect.gen(function* () {
      const { actor } = yield* requester(1, 100_000n)
      const w = yield* worker(2)
      const review = yield* underReview(actor, w.key)
      const open = yield* Bounties.post(actor, researchBounty({ title: "to cancel" }))
      const post = researchBounty({ title: "posted ten times" })
      const credit: Operators.Credit = { did: actor.did, amount_minor: 700n, currency: "USD", reason: "bonus", idempotency_key: "credit-once" }
      const tenTimes = <A, E>(command: Effect.Effect<A, E, any>) => Effect.all(Array.from({ length: 10 }, () => command), { concurrency: "unbounded" })
      const [posts, approvals, cancels, credits] = yield* Effect.all([
        tenTimes(Bounties.post(actor, post)),
        tenTimes(Closure.approve(actor, review.posted.bounty_id, { submission_id: review.submitted.submission_id })),
        tenTimes(Bounties.cancel(actor, open.bounty_id, {})),
        tenTimes(Operators.credit(operator, credit))
      ], { concurrency: "unbounded" })
      for (const answers of [posts, approvals, cancels, credits]) assert.strictEqual(new Set(answers.map((a) => JSON.stringify(a))).size, 1)
      // 100,000 funded + 700 credited once; two escrows of 5,375 held then one paid and one voided, one held by the post.
      assert.deepStrictEqual(yield* balances(actor.did), { A: 100_700n - 2n * 5375n, H: 5375n, B: 0n, F: 0n, P: 0n })
      assert.strictEqual((yield* balances(w.actor.did)).A, 5000n)
      assert.deepStrictEqual(yield* eventCounts(posts[0]!.bounty_id), { "bounty.posted": 1 })
      assert.deepStrictEqual(yield* eventCounts(review.posted.bounty_id), { "bounty.posted": 1, "bounty.accepted": 1, "bounty.pending_review": 1, "bounty.approved": 1 })
      assert.deepStrictEqual(yield* eventCounts(open.bounty_id), { "bounty.posted": 1, "bounty.cancelled": 1 })
      // The funding at registration and this one.
      assert.strictEqual((yield* eventCounts(actor.did))["balance.manual_credit"], 2)
    })))

  it.effect("approvals against the review deadline's auto-approval: each worker is paid once", () =>
    run(Effect.gen(function* () {
      const { actor } = yield* requester(1, 100_000n)
      const w = yield* worker(2)
      const reviews = yield* Effect.forEach([1, 2, 3, 4, 5, 6], (i) => underReview(actor, w.key, researchBounty({ title: `review ${i}` })))
      yield* TestClock.adjust("73 hours")
      const [sweep, ...approvals] = yield* Effect.all([
        Deadlines.sweep(),
        ...reviews.map(({ posted, submitted }) => Effect.either(Closure.approve(actor, posted.bounty_id, { submission_id: submitted.submission_id })))
      ], { concurrency: "unbounded" })
      const approved = (approvals as ReadonlyArray<Either.Either<unknown, { readonly _tag: string }>>)
      for (const result of approved) if (Either.isLeft(result)) assert.strictEqual(result.left._tag, "SubmissionNotPendingReview")
      assert.strictEqual((sweep as Deadlines.SweepReport).autoApproved + winners(approved), reviews.length)
      assert.strictEqual((yield* balances(w.actor.did)).A, 6n * 5000n)
      for (const { posted } of reviews) assert.strictEqual((yield* eventCounts(posted.bounty_id))["bounty.approved"], 1)
    })))

  it.effect("sweepers at once over every kind of due job: each transition is applied once and nothing is left due", () =>
    run(Effect.gen(function* () {
      const { actor } = yield* requester(1, 1_000_000n)
      const w = yield* worker(2)
      const open = yield* Effect.forEach([1, 2, 3], (i) => Bounties.post(actor, researchBounty({ title: `open ${i}` })))
      const accepted = yield* Effect.forEach([1, 2, 3], (i) =>
        Effect.tap(Bounties.post(actor, researchBounty({ title: `accepted ${i}` })), (posted) => Bounties.accept(w.actor, posted.bounty_id, {})))
      const reviews = yield* Effect.forEach([1, 2, 3], (i) => underReview(actor, w.key, researchBounty({ title: `review ${i}` })))
      const disputed = yield* Effect.forEach([1, 2, 3], (i) =>
        Effect.flatMap(underReview(actor, w.key, researchBounty({ title: `disputed ${i}` })), ({ posted, submitted }) =>
          Closure.reject(actor, posted.bounty_id, { submission_id: submitted.submission_id, reason: "no" })))
      yield* TestClock.adjust("8 days")
      const reports = yield* Effect.all([Deadlines.sweep(), Deadlines.sweep(), Deadlines.sweep()], { concurrency: "unbounded" })
      const total = (kind: "expired" | "reopened" | "autoApproved" | "escalated") => reports.reduce((sum, r) => sum + r[kind], 0)
      // Accepted ones miss their work deadline and reopen past the offer's expiry, so they expire too.
      assert.deepStrictEqual([total("expired"), total("reopened"), total("autoApproved"), total("escalated")], [6, 3, 3, 3])
      for (const { bounty_id } of open) assert.deepStrictEqual(yield* eventCounts(bounty_id), { "bounty.posted": 1, "bounty.expired": 1 })
      for (const { bounty_id } of accepted) {
        assert.deepStrictEqual(yield* eventCounts(bounty_id), { "bounty.posted": 1, "bounty.accepted": 1, "bounty.reopened": 1, "bounty.expired": 1 })
      }
      for (const { posted } of reviews) assert.strictEqual((yield* eventCounts(posted.bounty_id))["bounty.approved"], 1)
      for (const { dispute_id } of disputed) assert.deepStrictEqual(yield* eventCounts(dispute_id), { "dispute.opened": 1, "dispute.escalated": 1 })
      const sql = yield* SqlClient.SqlClient
      const now = new Date(yield* TestClock.currentTimeMillis).toISOString()
      assert.deepStrictEqual(yield* sql`SELECT bounty_id FROM bounties WHERE deadline_at <= ${now}`, [])
      assert.strictEqual((yield* balances(w.actor.did)).A, 3n * 5000n)
    })))

  it.effect("two submits: one goes under review, the other is refused", () =>
    run(Effect.gen(function* () {
      const { actor } = yield* requester(1)
      const w = yield* worker(2)
      const posted = yield* Bounties.post(actor, researchBounty())
      yield* Bounties.accept(w.actor, posted.bounty_id, {})
      const results = yield* concurrently([
        Submissions.submit(w.actor, posted.bounty_id, { proof_bundle_envelope: proofBundle(w.key, { runId: "run_a" }), artifacts: [] }),
        Submissions.submit(w.actor, posted.bounty_id, { proof_bundle_envelope: proofBundle(w.key, { runId: "run_b" }), artifacts: [] })
      ])
      assert.strictEqual(winners(results), 1)
      const listed = yield* Submissions.listForBounty(actor, posted.bounty_id)
      assert.deepStrictEqual(listed.submissions.map((s) => s.status), ["pending_review"])
    })))

  it.effect("cancel against accept: exactly one happens", () =>
    run(Effect.gen(function* () {
      const { actor } = yield* requester(1, 10_000n)
      const w = yield* worker(2)
      const posted = yield* Bounties.post(actor, researchBounty())
      const results = yield* concurrently<unknown, { readonly _tag: string }, any>([
        Bounties.cancel(actor, posted.bounty_id, {}),
        Bounties.accept(w.actor, posted.bounty_id, {})
      ])
      assert.strictEqual(winners(results), 1)
      const status = (yield* Bounties.get(actor, posted.bounty_id)).status
      const held = (yield* balances(actor.did)).H
      assert.deepStrictEqual([status, held], Either.isRight(results[0]!) ? ["cancelled", 0n] : ["accepted", 5375n])
    })))
}

describe("sqlite", () => suite(() => Sqlite.layerMemory(migrationSets).pipe(Layer.orDie)))
describe.skipIf(!pg.available)(`postgres ${pg.reason}`, () =>
  suite(() => PgTestDatabase.layer({ prefix: "mkt_races", migrations: migrationSets }).pipe(Layer.orDie)))
