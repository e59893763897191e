/**
 * The bounty lifecycle end to end on a real store: every transition, its guards, its error codes and
 * its exact ledger effects; after every scenario the ledger reconciles and no hold outlives its job.
 */
import { assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { Ids } from "@clawbounties/domain"
import { Limits } from "@clawbounties/fees"
import { Sign } from "@clawbounties/verify"
import { Ledger } from "@clawbounties/ledger"
import { Clock, DateTime, Duration, Effect, Layer, TestClock } from "effect"
import * as Bounties from "../src/Bounties.js"
import * as Closure from "../src/Closure.js"
import * as Deadlines from "../src/Deadlines.js"
import * as Audit from "../src/Audit.js"
import * as Disputes from "../src/Disputes.js"
import * as EventFeed from "../src/EventFeed.js"
import * as Identities from "../src/Identities.js"
import * as MarketplaceConfig from "../src/MarketplaceConfig.js"
import * as Operators from "../src/Operators.js"
import * as Outbox from "../src/Outbox.js"
import * as Submissions from "../src/Submissions.js"
import { balances, engineOver, key, migrationSets, operator, proofBundle, reconcileClean, requester, researchBounty, underReview, worker } from "./helpers/engine.js"


const failureCode = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (error) => error._tag)

/** Every open hold belongs to a bounty that is still live; the ledger reconciles. */
const invariants = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const report = yield* reconcileClean
  assert.deepStrictEqual(report.discrepancies, [])
  const stray = yield* sql<{ bounty_id: string }>`SELECT b.bounty_id FROM bounties b JOIN escrows e ON e.bounty_id = b.bounty_id
    JOIN ledger_holds h ON h.id = e.hold_id
    WHERE h.status = 'open' AND b.status NOT IN ('open', 'accepted', 'pending_review', 'disputed')`
  assert.deepStrictEqual(stray, [])
})


type Store = () => Layer.Layer<SqlClient.SqlClient>

/**
 * Ids that do not sort in the order they were made in (nor in its reverse), as time-ordered ids made
 * within one millisecond, or on two replicas, may not: an order that follows insertion is then not by
 * id. (The counter's n-th id becomes the (37n mod 101)-th: distinct for the first hundred.)
 */
const idsShuffled = Layer.effect(
  Ids.IdGen,
  Effect.map(Ids.IdGen, (counter) => ({
    make: (kind: Ids.IdKind) => Effect.map(counter.make(kind), (id) => id.replace(/\d+$/, (n) => String((37 * Number(n)) % 101).padStart(6, "0")))
  }))
).pipe(Layer.provide(Ids.IdGen.layerCounter))

/** A gateway signer for settings that allow the gateway tier (no receipt here carries it). */
const GATEWAY_DID = "did:key:z6MkfF4ykuxdK3Cea9xDqWgLLgMBvxcypy6Tv1K45Eahxy3m"

const pg = await PgTestDatabase.probe()
const stores: ReadonlyArray<{ readonly name: string; readonly store: Store }> = [
  { name: "sqlite", store: () => Sqlite.layerMemory(migrationSets).pipe(Layer.orDie) },
  { name: `postgres ${pg.reason}`, store: () => PgTestDatabase.layer({ prefix: "mkt_lifecycle", migrations: migrationSets }).pipe(Layer.orDie) }
]

const suite = (store: Store) => {
  const run = <A, E>(effect: Effect.Effect<A, E, any>) =>
    Effect.provide(Effect.andThen(effect, (a) => Effect.as(invariants, a)), engineOver(store()))

  describe("post", () => {
    it.effect("holds buyer_total from the requester's available balance, snapshotting the fee", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1, 10_000n)
        const posted = yield* Bounties.post(actor, researchBounty())
        assert.strictEqual(posted.status, "open")
        assert.deepStrictEqual(posted.all_in_cost, { principal_minor: "5000", platform_fee_minor: "375", total_minor: "5375", currency: "USD" })
        assert.strictEqual(posted.fee_policy.id, "bounties_v1")
        const b = yield* balances(actor.did)
        assert.strictEqual(b.A, 10_000n - 5375n)
        assert.strictEqual(b.H, 5375n)
        const events = yield* Outbox.forSubject(posted.bounty_id)
        assert.deepStrictEqual(events.map((e) => e.type), ["bounty.posted"])
        const escrowEvents = yield* Outbox.forSubject(posted.escrow_id)
        assert.deepStrictEqual(escrowEvents.map((e) => e.type), ["escrow.held"])
        // Both events went in one statement: in the order given, each with its own recipients.
        assert.isTrue(BigInt(events[0]!.seq) < BigInt(escrowEvents[0]!.seq))
        const sql = yield* SqlClient.SqlClient
        const recipients = yield* sql<{ type: string; did: string }>`SELECT o.type, r.did FROM outbox o
          JOIN outbox_recipients r ON r.event_seq = o.seq
          WHERE o.subject_id IN (${posted.bounty_id}, ${posted.escrow_id}) ORDER BY o.seq`
        assert.deepStrictEqual(recipients.map((r) => [r.type, r.did]), [["bounty.posted", actor.did], ["escrow.held", actor.did]])
      })))

    it.effect("refuses insufficient funds and writes nothing", () =>
      run(Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const { actor } = yield* requester(1, 1000n)
        assert.strictEqual(yield* failureCode(Bounties.post(actor, researchBounty())), "InsufficientFunds")
        const rows = yield* sql<{ n: number }>`SELECT (SELECT COUNT(*) FROM bounties) + (SELECT COUNT(*) FROM escrows) + (SELECT COUNT(*) FROM command_idempotency WHERE command = 'bounty.post') AS n`
        assert.strictEqual(Number(rows[0]!.n), 0)
        assert.deepStrictEqual(yield* balances(actor.did), { A: 1000n, H: 0n, B: 0n, F: 0n, P: 0n })
      })))

    it.effect("refuses closure types that cannot pay out yet, and rewards below the lane minimum", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        assert.strictEqual(yield* failureCode(Bounties.post(actor, researchBounty({ closure_type: "test", is_code_bounty: true }))), "ClosureTypeNotSupported")
        assert.strictEqual(yield* failureCode(Bounties.post(actor, researchBounty({ closure_type: "quorum" }))), "ClosureTypeNotSupported")
        assert.strictEqual(yield* failureCode(Bounties.post(actor, researchBounty({ reward: { amount_minor: 999n, currency: "USD" } }))), "RewardBelowMinimum")
        assert.strictEqual(yield* failureCode(Bounties.post(actor, researchBounty({ tags: ["agent_pack"], reward: { amount_minor: 2000n, currency: "USD" } }))), "RewardBelowMinimum")
        // The error names the lane whose minimum refused it: a requester-reviewed code bounty is
        // held to the research minimum ($10), not to the code lane's $1.
        const below = (yield* Effect.flip(Bounties.post(actor, researchBounty({ is_code_bounty: true, tags: [], reward: { amount_minor: 500n, currency: "USD" } })))) as unknown as { lane: string; minimum_minor: bigint }
        assert.deepStrictEqual([below.lane, below.minimum_minor], ["research", 1000n])
        assert.strictEqual(yield* failureCode(Bounties.post(actor, researchBounty({ reward: { amount_minor: 5000n, currency: "EUR" } }))), "UnsupportedCurrency")
      })))

    it.effect("replays by idempotency key and refuses a different request under the same key", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const first = yield* Bounties.post(actor, researchBounty({ idempotency_key: "post-1" }))
        const again = yield* Bounties.post(actor, researchBounty({ idempotency_key: "post-1" }))
        assert.deepStrictEqual(again, first)
        const error = yield* Effect.flip(Bounties.post(actor, researchBounty({ idempotency_key: "post-1", title: "Another" })))
        assert.strictEqual(error._tag, "IdempotencyConflict")
        assert.strictEqual((error as { field: string }).field, "title")
        assert.strictEqual((yield* balances(actor.did)).H, 5375n)
        // A retry after the settings changed still replays the committed post.
        const raised = { ...Limits.defaults, MIN_BOUNTY_REWARD_MINOR_RESEARCH: 10_000n }
        assert.deepStrictEqual(yield* Bounties.post(actor, researchBounty({ idempotency_key: "post-1" })).pipe(Effect.provideService(Limits.Limits, raised)), first)
        const stricter = { ...MarketplaceConfig.defaults, minDeadline: Duration.hours(2) }
        assert.deepStrictEqual(yield* Bounties.post(actor, researchBounty({ idempotency_key: "post-1" })).pipe(Effect.provideService(MarketplaceConfig.MarketplaceConfig, stricter)), first)
        assert.strictEqual(yield* failureCode(Bounties.post(actor, researchBounty({ idempotency_key: "post-2" })).pipe(Effect.provideService(Limits.Limits, raised))), "RewardBelowMinimum")
      })))

    it.effect("a __proto__ key in free-form JSON is data: stored, shown and part of the request's hash", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const spec = (text: string) => JSON.parse(`{"__proto__":{"spec":"${text}"}}`) as Record<string, unknown>
        const posted = yield* Bounties.post(actor, researchBounty({ idempotency_key: "proto", task_spec: spec("version one") }))
        assert.deepStrictEqual(JSON.stringify((yield* Bounties.get(actor, posted.bounty_id)).task_spec), '{"__proto__":{"spec":"version one"}}')
        const changed = yield* Effect.flip(Bounties.post(actor, researchBounty({ idempotency_key: "proto", task_spec: spec("version two") })))
        assert.strictEqual(changed._tag, "IdempotencyConflict")
      })))

    it.effect("only requesters may post", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* worker(2)
        assert.strictEqual(yield* failureCode(Bounties.post(actor, researchBounty())), "Forbidden")
      })))
  })

  describe("list and get", () => {
    it.effect("workers see open bounties with the spec's filters; requesters see their own of any status", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const other = yield* requester(3)
        const w = yield* worker(2)
        const research = yield* Bounties.post(actor, researchBounty({ tags: ["typescript", "research"] }))
        const pack = yield* Bounties.post(actor, researchBounty({ tags: ["agent_pack"], reward: { amount_minor: 3000n, currency: "USD" } }))
        const cancelled = yield* Bounties.post(actor, researchBounty({ title: "to cancel", tags: [] }))
        yield* Bounties.cancel(actor, cancelled.bounty_id, {})
        const ids = (page: { readonly bounties: ReadonlyArray<{ readonly bounty_id: string }> }) => page.bounties.map((b) => b.bounty_id)
        assert.deepStrictEqual(ids(yield* Bounties.list(w.actor, {})), [research.bounty_id, pack.bounty_id])
        assert.deepStrictEqual(ids(yield* Bounties.list(w.actor, { tag: "agent_pack" })), [pack.bounty_id])
        assert.deepStrictEqual(ids(yield* Bounties.list(w.actor, { isCodeBounty: true })), [])
        assert.deepStrictEqual(ids(yield* Bounties.list(w.actor, { status: "cancelled" })), [])
        assert.deepStrictEqual(ids(yield* Bounties.list(actor, { mine: true })), [research.bounty_id, pack.bounty_id, cancelled.bounty_id])
        assert.deepStrictEqual(ids(yield* Bounties.list(other.actor, { mine: true })), [])
        const first = yield* Bounties.list(actor, { mine: true, limit: 2 })
        assert.deepStrictEqual(ids(first), [research.bounty_id, pack.bounty_id])
        assert.deepStrictEqual(ids(yield* Bounties.list(actor, { mine: true, cursor: first.next_cursor! })), [cancelled.bounty_id])
        assert.strictEqual(yield* failureCode(Bounties.get(other.actor, cancelled.bounty_id)), "NotFound")
        assert.strictEqual((yield* Bounties.get(w.actor, research.bounty_id)).title, "Research best approach")
        // Tags come with every read of a bounty, in order; none is an empty list.
        assert.deepStrictEqual((yield* Bounties.get(w.actor, research.bounty_id)).tags, ["research", "typescript"])
        assert.deepStrictEqual((yield* Bounties.list(actor, { mine: true })).bounties.map((b) => b.tags), [["research", "typescript"], ["agent_pack"], []])
        const audit = (yield* Audit.list({ entityId: cancelled.bounty_id, limit: 10 })).entries
        assert.deepStrictEqual(audit.map((row) => [row.action, row.actor]), [["bounty.cancel", actor.did], ["bounty.post", actor.did]])
      })))

    it.effect("a page and its cursor show nothing of bounties the caller may not see", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const outsider = yield* requester(3)
        const w = yield* worker(2)
        const hidden = yield* Bounties.post(actor, researchBounty({ title: "hidden" }))
        yield* Bounties.cancel(actor, hidden.bounty_id, {})
        const own = yield* Bounties.post(outsider.actor, researchBounty({ title: "own" }))
        yield* Bounties.cancel(outsider.actor, own.bounty_id, {})
        // One page at a time, the outsider walks the cancelled bounties: only its own, and no cursor
        // naming another's bounty.
        const seen: Array<string> = []
        let cursor: string | undefined
        do {
          const page = yield* Bounties.list(outsider.actor, { status: "cancelled", limit: 1, ...(cursor === undefined ? {} : { cursor }) })
          seen.push(...page.bounties.map((b) => b.bounty_id))
          if (page.next_cursor !== null) assert.notInclude(Buffer.from(page.next_cursor, "base64url").toString(), hidden.bounty_id)
          cursor = page.next_cursor ?? undefined
        } while (cursor !== undefined)
        assert.deepStrictEqual(seen, [own.bounty_id])
        assert.deepStrictEqual((yield* Bounties.list(w.actor, { status: "cancelled" })).bounties, [])
      })))

    it.effect("a party sees its bounties in any status, as requester and as worker, in one order, a page at a time", () =>
      run(Effect.gen(function* () {
        // One DID in both roles: requester of the first bounty, worker on the second.
        const both = yield* requester(1)
        const bothAsWorker = yield* worker(1)
        const w = yield* worker(2)
        const other = yield* requester(3)
        const outsider = yield* requester(4)
        const first = yield* Bounties.post(both.actor, researchBounty({ title: "first" }))
        yield* Bounties.accept(w.actor, first.bounty_id, {})
        const second = yield* Bounties.post(other.actor, researchBounty({ title: "second" }))
        yield* Bounties.accept(bothAsWorker.actor, second.bounty_id, {})
        yield* Bounties.post(other.actor, researchBounty({ title: "still open" }))

        const ids = (page: { readonly bounties: ReadonlyArray<{ readonly bounty_id: string }> }) => page.bounties.map((b) => b.bounty_id)
        const accepted = (actor: typeof both.actor) => Effect.map(Bounties.list(actor, { status: "accepted" }), ids)
        assert.deepStrictEqual(yield* accepted(both.actor), [first.bounty_id, second.bounty_id])
        assert.deepStrictEqual(yield* accepted(bothAsWorker.actor), [first.bounty_id, second.bounty_id])
        assert.deepStrictEqual(yield* accepted(w.actor), [first.bounty_id])
        assert.deepStrictEqual(yield* accepted(other.actor), [second.bounty_id])
        assert.deepStrictEqual(yield* accepted(outsider.actor), [])
        const page = yield* Bounties.list(both.actor, { status: "accepted", limit: 1 })
        assert.deepStrictEqual(ids(page), [first.bounty_id])
        assert.deepStrictEqual(ids(yield* Bounties.list(both.actor, { status: "accepted", limit: 1, cursor: page.next_cursor! })), [second.bounty_id])
      })))

    it.effect("a cursor the API did not return is refused", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const forged = ["\u0000|x", "x|\u0000", "a|b", "2026-01-01T00:00:00.000Z|bty_000001|x", "not base64 !"]
        for (const text of forged) {
          const cursor = Buffer.from(text).toString("base64url")
          assert.strictEqual(yield* failureCode(Bounties.list(actor, { mine: true, cursor })), "InvalidRequest", text)
        }
        assert.strictEqual(yield* failureCode(Bounties.list(actor, { mine: true, cursor: "not base64 !" })), "InvalidRequest")
      })))

    it.effect("the audit log pages from newest to oldest with a cursor, for all entities or one", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const posted: Array<string> = []
        for (let i = 0; i < 3; i++) {
          posted.push((yield* Bounties.post(actor, researchBounty({ title: `audited ${i}` }))).bounty_id)
          // Rows in one instant too: the cursor must break ties by id, not skip or repeat them.
          if (i === 1) yield* TestClock.adjust("1 second")
        }
        yield* Bounties.cancel(actor, posted[0]!, {})
        const pageThrough = (entityId?: string) =>
          Effect.gen(function* () {
            const ids: Array<string> = []
            let cursor: string | undefined
            do {
              const page = yield* Audit.list({ ...(entityId === undefined ? {} : { entityId }), limit: 2, cursor })
              assert.isAtMost(page.entries.length, 2)
              ids.push(...page.entries.map((e) => e.audit_id))
              cursor = page.next_cursor ?? undefined
            } while (cursor !== undefined)
            return ids
          })
        const everything = yield* Audit.list({ limit: 500 })
        assert.isNull(everything.next_cursor)
        assert.isAtLeast(everything.entries.length, 5)
        assert.deepStrictEqual(yield* pageThrough(), everything.entries.map((e) => e.audit_id))
        const ofFirst = (yield* Audit.list({ entityId: posted[0]!, limit: 500 })).entries
        assert.deepStrictEqual(ofFirst.map((e) => e.action), ["bounty.cancel", "bounty.post"])
        assert.deepStrictEqual(yield* pageThrough(posted[0]!), ofFirst.map((e) => e.audit_id))
        const forged = Buffer.from(`${everything.entries[0]!.created_at}|bty_000001`).toString("base64url")
        assert.strictEqual(yield* failureCode(Audit.list({ cursor: forged })), "InvalidRequest")
      })))

    it.effect("a page size an embedder passes that is not a whole number gets the default; one out of range is clamped", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        for (const n of [2, 3]) {
          const w = yield* worker(n)
          const { posted, submitted } = yield* underReview(actor, w.key)
          yield* Closure.reject(actor, posted.bounty_id, { submission_id: submitted.submission_id, reason: "no" })
        }
        assert.strictEqual((yield* Bounties.list(actor, { mine: true, limit: Number.NaN })).bounties.length, 2)
        assert.strictEqual((yield* Bounties.list(actor, { mine: true, limit: 0 })).bounties.length, 1)
        assert.strictEqual((yield* Disputes.queue(operator, { limit: Number.NaN })).disputes.length, 2)
        assert.strictEqual((yield* Disputes.queue(operator, { limit: -1 })).disputes.length, 1)
        assert.strictEqual((yield* Audit.list({ limit: 1.5 })).entries.length > 1, true)
      })))
  })

  describe("cancel", () => {
    it.effect("voids the hold in full while nobody has accepted", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1, 10_000n)
        const posted = yield* Bounties.post(actor, researchBounty())
        const cancelled = yield* Bounties.cancel(actor, posted.bounty_id, { reason: "changed my mind" })
        assert.strictEqual(cancelled.refunded_minor, "5375")
        assert.deepStrictEqual(yield* balances(actor.did), { A: 10_000n, H: 0n, B: 0n, F: 0n, P: 0n })
        assert.strictEqual((yield* Bounties.get(actor, posted.bounty_id)).status, "cancelled")
      })))

    it.effect("is refused to others and after acceptance", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const other = yield* requester(3)
        const w = yield* worker(2)
        const posted = yield* Bounties.post(actor, researchBounty())
        assert.strictEqual(yield* failureCode(Bounties.cancel(other.actor, posted.bounty_id, {})), "NotFound")
        yield* Bounties.accept(w.actor, posted.bounty_id, {})
        assert.strictEqual(yield* failureCode(Bounties.cancel(actor, posted.bounty_id, {})), "BountyNotOpen")
      })))

    it.effect("a direct-hire worker told of the bounty is told when it is cancelled or expires", () =>
      run(Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const { actor } = yield* requester(1)
        const target = yield* worker(2)
        const direct = () => researchBounty({ metadata: { requested_worker_did: target.actor.did as never }, deadlines: { accept_within_seconds: 3600 } })
        const cancelled = yield* Bounties.post(actor, direct())
        yield* Bounties.cancel(actor, cancelled.bounty_id, {})
        const expired = yield* Bounties.post(actor, direct())
        yield* TestClock.adjust("61 minutes")
        assert.strictEqual((yield* Deadlines.sweep()).expired, 1)
        const received = yield* sql<{ type: string }>`SELECT o.type FROM outbox o JOIN outbox_recipients r ON r.event_seq = o.seq
          WHERE r.did = ${target.actor.did} AND o.subject_type = 'bounty' ORDER BY o.seq`
        assert.deepStrictEqual(received.map((r) => r.type), ["bounty.posted", "bounty.cancelled", "bounty.posted", "bounty.expired"])
        // The escrow's events stay the requester's own.
        const escrowEvents = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM outbox o JOIN outbox_recipients r ON r.event_seq = o.seq
          WHERE r.did = ${target.actor.did} AND o.subject_id IN (${cancelled.escrow_id}, ${expired.escrow_id})`
        assert.strictEqual(Number(escrowEvents[0]!.n), 0)
      })))
  })

  describe("accept", () => {
    it.effect("assigns the escrow to the one worker that wins", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const a = yield* worker(2)
        const b = yield* worker(3)
        const posted = yield* Bounties.post(actor, researchBounty())
        const receipt = yield* Bounties.accept(a.actor, posted.bounty_id, {})
        assert.strictEqual(receipt.worker_net_minor, "5000")
        assert.strictEqual(yield* failureCode(Bounties.accept(b.actor, posted.bounty_id, {})), "BountyAlreadyAccepted")
        const sql = yield* SqlClient.SqlClient
        const escrow = yield* sql<{ worker_did: string }>`SELECT worker_did FROM escrows WHERE escrow_id = ${posted.escrow_id}`
        assert.strictEqual(escrow[0]!.worker_did, a.actor.did)
        // Accepting again as the winner replays the receipt.
        assert.deepStrictEqual(yield* Bounties.accept(a.actor, posted.bounty_id, {}), receipt)
      })))

    it.effect("checks eligibility: self-dealing, direct hire, price floor, job type, availability", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const reason = (effect: Effect.Effect<unknown, { readonly _tag: string }, any>) =>
          Effect.map(Effect.flip(effect), (e) => (e as { reason?: string }).reason ?? e._tag)
        // The requester's DID registered as a worker too.
        const self = yield* worker(1)
        const posted = yield* Bounties.post(actor, researchBounty())
        assert.strictEqual(yield* reason(Bounties.accept(self.actor, posted.bounty_id, {})), "self_dealing")
        const expensive = yield* worker(2, { priceFloor: "6000" })
        assert.strictEqual(yield* reason(Bounties.accept(expensive.actor, posted.bounty_id, {})), "below_price_floor")
        const coder = yield* worker(3, { jobTypes: ["code"] })
        assert.strictEqual(yield* reason(Bounties.accept(coder.actor, posted.bounty_id, {})), "job_type_not_offered")
        const paused = yield* worker(4, { status: "paused" })
        assert.strictEqual(yield* reason(Bounties.accept(paused.actor, posted.bounty_id, {})), "unavailable")
        const target = yield* worker(5)
        const other = yield* worker(6)
        const direct = yield* Bounties.post(actor, researchBounty({ metadata: { requested_worker_did: target.actor.did as never } }))
        assert.strictEqual(yield* reason(Bounties.accept(other.actor, direct.bounty_id, {})), "direct_hire_mismatch")
        yield* Bounties.accept(target.actor, direct.bounty_id, {})
        const unregistered = { did: key(9).did, role: "worker" as const }
        assert.strictEqual(yield* failureCode(Bounties.accept(unregistered, posted.bounty_id, {})), "WorkerNotRegistered")
      })))
  })

  describe("submit", () => {
    it.effect("a valid proof puts the bounty under review", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const w = yield* worker(2)
        const { posted, submitted } = yield* underReview(actor, w.key)
        assert.strictEqual(submitted.status, "pending_review")
        assert.strictEqual(submitted.verification.proof_tier, "self")
        assert.strictEqual((yield* Bounties.get(actor, posted.bounty_id)).status, "pending_review")
        assert.strictEqual(yield* failureCode(Submissions.submit(w.actor, posted.bounty_id, { proof_bundle_envelope: proofBundle(w.key, { runId: "run_2" }), artifacts: [] })), "SubmissionAlreadyUnderReview")
      })))

    it.effect("an invalid proof is stored as invalid with its reasons; the worker may try again", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const w = yield* worker(2)
        const stranger = worker(3)
        const posted = yield* Bounties.post(actor, researchBounty())
        yield* Bounties.accept(w.actor, posted.bounty_id, {})
        const error = yield* Effect.flip(Submissions.submit(w.actor, posted.bounty_id, { proof_bundle_envelope: proofBundle(w.key, { tamper: true }), artifacts: [] }))
        assert.strictEqual(error._tag, "SubmissionInvalid")
        const invalid = error as unknown as { submission_id: string; reasons: ReadonlyArray<{ code: string }> }
        assert.strictEqual(invalid.reasons[0]!.code, "HASH_MISMATCH")
        assert.strictEqual((yield* Submissions.get(w.actor, invalid.submission_id)).status, "invalid")
        assert.strictEqual((yield* Bounties.get(actor, posted.bounty_id)).status, "accepted")
        // A bundle signed by someone else proves nothing about this worker.
        const other = yield* stranger
        const borrowed = yield* Effect.flip(Submissions.submit(w.actor, posted.bounty_id, { proof_bundle_envelope: proofBundle(other.key), artifacts: [] }))
        assert.deepStrictEqual((borrowed as unknown as { reasons: ReadonlyArray<{ code: string }> }).reasons.map((r) => r.code), ["PROOF_BUNDLE_AGENT_MISMATCH"])
        assert.strictEqual(yield* failureCode(Submissions.submit(other.actor, posted.bounty_id, { proof_bundle_envelope: proofBundle(other.key), artifacts: [] })), "BountyNotAssigned")
        const ok = yield* Submissions.submit(w.actor, posted.bounty_id, { proof_bundle_envelope: proofBundle(w.key), artifacts: [] })
        assert.strictEqual(ok.status, "pending_review")
        assert.strictEqual(ok.attempts_remaining, 0)
        // Every attempt is audited, the invalid ones too (each used up an attempt).
        const audited = (yield* Audit.list({ entityId: posted.bounty_id, limit: 10 })).entries.filter((a) => a.action === "bounty.submit")
        assert.deepStrictEqual(audited.map((a) => [a.actor, (a.after as { submission_id: string }).submission_id, (a.after as { status: string }).status]).reverse(), [
          [w.actor.did, invalid.submission_id, "accepted"],
          [w.actor.did, (borrowed as unknown as { submission_id: string }).submission_id, "accepted"],
          [w.actor.did, ok.submission_id, "pending_review"]
        ])
        // Each party sees the submissions it may see.
        assert.strictEqual((yield* Submissions.listForBounty(actor, posted.bounty_id)).submissions.length, 3)
        assert.strictEqual(yield* failureCode(Submissions.listForBounty(other.actor, posted.bounty_id)), "NotFound")
        assert.strictEqual(yield* failureCode(Submissions.get(other.actor, ok.submission_id)), "NotFound")
      })))

    it.effect("a minimum proof tier no submission here could reach is refused at post, with nothing held", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1, 10_000n)
        // No gateway signers are configured, and no attestation is verified: only `self` is reachable.
        assert.strictEqual(yield* failureCode(Bounties.post(actor, researchBounty({ min_proof_tier: "gateway" }))), "InvalidRequest")
        assert.strictEqual(yield* failureCode(Bounties.post(actor, researchBounty({ min_proof_tier: "sandbox" }))), "InvalidRequest")
        assert.deepStrictEqual(yield* balances(actor.did), { A: 10_000n, H: 0n, B: 0n, F: 0n, P: 0n })
      })))

    it.effect("enforces the bounty's minimum proof tier and the attempt limit", () =>
      Effect.provide(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const w = yield* worker(2)
        const posted = yield* Bounties.post(actor, researchBounty({ min_proof_tier: "gateway" }))
        yield* Bounties.accept(w.actor, posted.bounty_id, {})
        for (let i = 0; i < 3; i++) {
          const error = yield* Effect.flip(Submissions.submit(w.actor, posted.bounty_id, { proof_bundle_envelope: proofBundle(w.key, { runId: `run_${i}` }), artifacts: [] }))
          assert.deepStrictEqual((error as unknown as { reasons: ReadonlyArray<{ code: string }> }).reasons.map((r) => r.code), ["MINIMUM_PROOF_TIER_NOT_MET"])
        }
        assert.strictEqual(yield* failureCode(Submissions.submit(w.actor, posted.bounty_id, { proof_bundle_envelope: proofBundle(w.key, { runId: "run_9" }), artifacts: [] })), "SubmissionLimitReached")
        yield* invariants
      }), engineOver(store(), { verification: { gatewaySignerDids: [GATEWAY_DID], clockSkewMs: 0 } })))
  })

  describe("evidence", () => {
    it.effect("one run backs one submission: the bundle on a second bounty, or the run re-signed by another worker, is EVIDENCE_REUSED", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1, 100_000n)
        const w = yield* worker(2)
        const thief = yield* worker(3)
        const [a, b, c] = yield* Effect.forEach(["a", "b", "c"], (title) => Bounties.post(actor, researchBounty({ title })))
        yield* Bounties.accept(w.actor, a!.bounty_id, {})
        yield* Bounties.accept(w.actor, b!.bounty_id, {})
        yield* Bounties.accept(thief.actor, c!.bounty_id, {})
        const bundle = proofBundle(w.key)
        const first = yield* Submissions.submit(w.actor, a!.bounty_id, { proof_bundle_envelope: bundle, artifacts: [] })
        assert.strictEqual(first.status, "pending_review")
        // Kept as sent, key order included, so whoever reads it can verify it again.
        const stored = yield* Submissions.get(actor, first.submission_id)
        assert.strictEqual(JSON.stringify(stored.proof_bundle_envelope), JSON.stringify(bundle))
        const reasons = (effect: Effect.Effect<unknown, { readonly _tag: string }, any>) =>
          Effect.map(Effect.flip(effect), (error) => (error as unknown as { reasons: ReadonlyArray<{ code: string }> }).reasons.map((r) => r.code))
        // The same bundle on another bounty would pay one run twice.
        assert.deepStrictEqual(yield* reasons(Submissions.submit(w.actor, b!.bounty_id, { proof_bundle_envelope: bundle, artifacts: [] })), ["EVIDENCE_REUSED"])
        // Another worker re-signing the run's events with its own key is the same run.
        const event_chain = (bundle as { payload: { event_chain: unknown } }).payload.event_chain as never
        const resigned = Sign.proofBundle({ ...thief.key.keyPair, did: thief.key.did }, { bundle_id: "stolen", event_chain }, { issuedAt: "1970-01-01T00:00:00.000Z" })
        assert.deepStrictEqual(yield* reasons(Submissions.submit(thief.actor, c!.bounty_id, { proof_bundle_envelope: resigned, artifacts: [] })), ["EVIDENCE_REUSED"])
        // A new run is evidence of its own.
        assert.strictEqual((yield* Submissions.submit(w.actor, b!.bounty_id, { proof_bundle_envelope: proofBundle(w.key), artifacts: [] })).status, "pending_review")
      })))

    it.effect("an agent pack is proved by a signed agent_pack_bundle artifact, not by any artifact with the same hash", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1, 100_000n)
        const w = yield* worker(2)
        const posted = yield* Bounties.post(actor, researchBounty({ tags: ["agent_pack"], reward: { amount_minor: 3000n, currency: "USD" } }))
        yield* Bounties.accept(w.actor, posted.bounty_id, {})
        const signer = { ...w.key.keyPair, did: w.key.did }
        const hash = "x".repeat(43)
        const artifact = (artifact_type: string, content_type: string) =>
          Sign.artifact(signer, { artifact_id: `a_${artifact_type}`, artifact_type, content_hash_b64u: hash, content_type, content_size_bytes: 10 }, { issuedAt: "1970-01-01T00:00:00.000Z" })
        const submit = (envelope: unknown) =>
          Submissions.submit(w.actor, posted.bounty_id, { proof_bundle_envelope: proofBundle(w.key), artifacts: [{ envelope: envelope as never }], agent_pack: { bundle_sha256_b64u: hash } })
        const readme = yield* Effect.flip(submit(artifact("readme", "text/plain")))
        assert.deepStrictEqual((readme as unknown as { reasons: ReadonlyArray<{ code: string }> }).reasons.map((r) => r.code), ["PACK_BUNDLE_HASH_MISMATCH"])
        assert.strictEqual((yield* submit(artifact("agent_pack_bundle", "application/gzip"))).status, "pending_review")
      })))

    it.effect("a commit proof naming another run is refused; events dated in the future are refused", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1, 100_000n)
        const w = yield* worker(2)
        const code = yield* Bounties.post(actor, researchBounty({ is_code_bounty: true, tags: ["code"] }))
        const research = yield* Bounties.post(actor, researchBounty())
        yield* Bounties.accept(w.actor, code.bounty_id, {})
        yield* Bounties.accept(w.actor, research.bounty_id, {})
        const reasons = (effect: Effect.Effect<unknown, { readonly _tag: string }, any>) =>
          Effect.map(Effect.flip(effect), (error) => (error as unknown as { reasons: ReadonlyArray<{ code: string }> }).reasons.map((r) => r.code))
        const signer = { ...w.key.keyPair, did: w.key.did }
        const commitFor = (run_id: string) => Sign.envelope(signer, "commit_proof", {
          proof_version: "1", repo_claim_id: "claim_1", commit_sha: "abcdef1", repository: "o/r", run_id
        }, { issuedAt: "1970-01-01T00:00:00.000Z" })
        const bundle = proofBundle(w.key, { runId: "run_mine" })
        assert.deepStrictEqual(
          yield* reasons(Submissions.submit(w.actor, code.bounty_id, { proof_bundle_envelope: bundle, commit_proof_envelope: commitFor("run_someone_else"), artifacts: [] })),
          ["COMMIT_PROOF_BINDING_MISMATCH"]
        )
        const bound = yield* Submissions.submit(w.actor, code.bounty_id, { proof_bundle_envelope: bundle, commit_proof_envelope: commitFor("run_mine"), artifacts: [] })
        assert.strictEqual(bound.status, "pending_review")
        const future = proofBundle(w.key, { issuedAt: "2999-01-01T00:00:00.000Z" })
        assert.deepStrictEqual(yield* reasons(Submissions.submit(w.actor, research.bounty_id, { proof_bundle_envelope: future, artifacts: [] })), ["FUTURE_TIMESTAMP_POISONING"])
      })))

    it.effect("an invalid submission fixed with the same bundle is a new attempt, not an idempotency conflict", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1, 100_000n)
        const w = yield* worker(2)
        const posted = yield* Bounties.post(actor, researchBounty({ is_code_bounty: true, tags: ["code"] }))
        yield* Bounties.accept(w.actor, posted.bounty_id, {})
        const bundle = proofBundle(w.key)
        const missing = yield* Effect.flip(Submissions.submit(w.actor, posted.bounty_id, { proof_bundle_envelope: bundle, artifacts: [] }))
        assert.strictEqual(missing._tag, "SubmissionInvalid")
        const commit = Sign.commitProof({ ...w.key.keyPair, did: w.key.did }, { repo_claim_id: "claim_1", commit_sha: "abcdef1", repository: "o/r" }, { issuedAt: "1970-01-01T00:00:00.000Z" })
        const fixed = yield* Submissions.submit(w.actor, posted.bounty_id, { proof_bundle_envelope: bundle, commit_proof_envelope: commit, artifacts: [] })
        assert.deepStrictEqual([fixed.status, fixed.attempts_remaining], ["pending_review", 1])
      })))
  })

  describe("requester closure", () => {
    it.effect("approve pays the worker net and the platform fee from the snapshot", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1, 10_000n)
        const w = yield* worker(2)
        const { posted, submitted } = yield* underReview(actor, w.key)
        const approved = yield* Closure.approve(actor, posted.bounty_id, { submission_id: submitted.submission_id })
        assert.strictEqual(approved.worker_paid_minor, "5000")
        assert.strictEqual(approved.platform_fee_minor, "375")
        assert.deepStrictEqual(yield* balances(actor.did), { A: 10_000n - 5375n, H: 0n, B: 0n, F: 0n, P: 0n })
        assert.strictEqual((yield* balances(w.actor.did)).A, 5000n)
        assert.strictEqual((yield* balances("platform:fees")).F, 375n)
        assert.strictEqual((yield* Bounties.get(actor, posted.bounty_id)).status, "approved")
        assert.strictEqual((yield* Submissions.get(actor, submitted.submission_id)).status, "approved")
        const events = yield* Outbox.forSubject(posted.bounty_id)
        assert.deepStrictEqual(events.map((e) => e.type), ["bounty.posted", "bounty.accepted", "bounty.pending_review", "bounty.approved"])
        assert.deepInclude(events.at(-1)!.payload, { approved_by: actor.did, via: "requester", dispute_id: null })
        // Replays return the stored response; a new key cannot pay twice.
        assert.deepStrictEqual(yield* Closure.approve(actor, posted.bounty_id, { submission_id: submitted.submission_id }), approved)
        assert.strictEqual(yield* failureCode(Closure.approve(actor, posted.bounty_id, { submission_id: submitted.submission_id, idempotency_key: "again" })), "SubmissionNotPendingReview")
        assert.strictEqual((yield* balances(w.actor.did)).A, 5000n)
      })))

    it.effect("only the requester may approve or reject", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const other = yield* requester(3)
        const w = yield* worker(2)
        const { posted, submitted } = yield* underReview(actor, w.key)
        assert.strictEqual(yield* failureCode(Closure.approve(other.actor, posted.bounty_id, { submission_id: submitted.submission_id })), "NotFound")
        assert.strictEqual(yield* failureCode(Closure.approve(w.actor, posted.bounty_id, { submission_id: submitted.submission_id })), "Forbidden")
        assert.strictEqual(yield* failureCode(Closure.reject(other.actor, posted.bounty_id, { submission_id: submitted.submission_id, reason: "no" })), "NotFound")
      })))

    it.effect("reject opens a dispute with the funds still held; an operator resolves it", () =>
      run(Effect.gen(function* () {
        const outcomes = [
          { outcome: "worker_award" as const, worker: 5000n, fee: 375n, refund: 0n, status: "approved" },
          { outcome: "requester_refund" as const, worker: 0n, fee: 0n, refund: 5375n, status: "rejected" },
          { outcome: "split" as const, bps: 4000, worker: 2000n, fee: 150n, refund: 3225n, status: "resolved" },
          // A share that rounds to nothing pays no fee: the platform is paid on what the worker got.
          { outcome: "split" as const, bps: 1, worker: 0n, fee: 0n, refund: 5375n, status: "resolved" }
        ]
        for (const [i, expected] of outcomes.entries()) {
          const { actor } = yield* requester(10 + i, 10_000n)
          const w = yield* worker(20 + i)
          const { posted, submitted } = yield* underReview(actor, w.key)
          const rejected = yield* Closure.reject(actor, posted.bounty_id, { submission_id: submitted.submission_id, reason: "missing deliverables" })
          assert.strictEqual(rejected.status, "disputed")
          assert.strictEqual((yield* balances(actor.did)).H, 5375n)
          assert.strictEqual(yield* failureCode(Disputes.resolve(actor, rejected.dispute_id, { outcome: "requester_refund" })), "Forbidden")
          const resolved = yield* Disputes.resolve(operator, rejected.dispute_id, {
            outcome: expected.outcome,
            ...(expected.bps === undefined ? {} : { worker_share_bps: expected.bps })
          })
          assert.strictEqual(resolved.bounty_status, expected.status)
          assert.strictEqual(resolved.worker_amount_minor, expected.worker.toString())
          assert.strictEqual(resolved.platform_fee_minor, expected.fee.toString())
          assert.strictEqual(resolved.refund_minor, expected.refund.toString())
          assert.deepStrictEqual(yield* balances(actor.did), { A: 10_000n - 5375n + expected.refund, H: 0n, B: 0n, F: 0n, P: 0n })
          assert.strictEqual((yield* balances(w.actor.did)).A, expected.worker)
          // The status events read as the approve path's do: one event type, one payload shape.
          for (const subject of [posted.bounty_id, posted.escrow_id]) {
            const last = (yield* Outbox.forSubject(subject)).at(-1)!.payload as Record<string, unknown>
            assert.deepInclude(last, {
              submission_id: submitted.submission_id, escrow_id: posted.escrow_id, worker_did: w.actor.did, currency: "USD",
              worker_paid_minor: expected.worker.toString(), platform_fee_minor: expected.fee.toString()
            }, subject)
          }
          // An award reads as an approval, by the operator.
          if (expected.outcome === "worker_award") {
            assert.deepInclude((yield* Outbox.forSubject(posted.bounty_id)).at(-1)!.payload, { approved_by: operator.did, via: "dispute", dispute_id: rejected.dispute_id })
          }
          // The worker follows its submission: rejected into a dispute, then the dispute's end.
          const submissionEvents = yield* Outbox.forSubject(submitted.submission_id)
          assert.deepStrictEqual(submissionEvents.map((e) => [e.type, e.payload.status]), [
            ["submission.created", "pending_review"], ["submission.disputed", "disputed"], [`submission.${expected.status}`, expected.status]
          ])
          assert.deepInclude(submissionEvents[1]!.payload, { dispute_id: rejected.dispute_id, reason: "missing deliverables" })
          assert.strictEqual(submissionEvents[2]!.payload.dispute_id, rejected.dispute_id)
          assert.strictEqual(yield* failureCode(Disputes.resolve(operator, rejected.dispute_id, { outcome: "worker_award", idempotency_key: "second" })), "DisputeNotOpen")
        }
        assert.strictEqual((yield* balances("platform:fees")).F, 525n)
      })))
  })

  describe("operator adjustments", () => {
    it.effect("keys are each operator's own: two operators may use the same key for their own adjustments", () =>
      run(Effect.gen(function* () {
        const a = yield* requester(1, 0n)
        const b = yield* requester(2, 0n)
        // An embedder names each member of its staff as an operator actor of its own.
        const alice = { did: key(31).did as string, role: "operator" as const }
        const bob = { did: key(32).did as string, role: "operator" as const }
        const credit = (by: typeof alice, did: string, amount: bigint) =>
          Operators.credit(by, { did, amount_minor: amount, currency: "USD", reason: "top-up", idempotency_key: "topup-1" })
        const first = yield* credit(alice, a.actor.did, 100n)
        const second = yield* credit(bob, b.actor.did, 200n)
        assert.deepStrictEqual([first.available_after_minor, second.available_after_minor], ["100", "200"])
        // Each still replays its own under the key, and moves nothing again.
        assert.deepStrictEqual(yield* credit(alice, a.actor.did, 100n), first)
        assert.deepStrictEqual(yield* credit(bob, b.actor.did, 200n), second)
        assert.deepStrictEqual([(yield* balances(a.actor.did)).A, (yield* balances(b.actor.did)).A], [100n, 200n])
      })))

    it.effect("a manual credit or debit tells the participant (an event) and audits the balance before and after", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1, 1000n)
        const debited = yield* Operators.debit(operator, { did: actor.did, amount_minor: 400n, currency: "USD", reason: "chargeback", idempotency_key: "debit-1" })
        assert.strictEqual(debited.available_after_minor, "600")
        const manual = (yield* Outbox.forSubject(actor.did)).filter((e) => e.type.startsWith("balance.manual_"))
        assert.deepStrictEqual(manual.map((e) => [e.type, e.payload.amount_minor, e.payload.available_after_minor, e.payload.reason]), [
          ["balance.manual_credit", "1000", "1000", "test funding"],
          ["balance.manual_debit", "400", "600", "chargeback"]
        ])
        const audit = (yield* Audit.list({ entityId: actor.did, limit: 10 })).entries
        const debitRow = audit.find((a) => a.action === "ledger.manual_debit")!
        assert.deepStrictEqual(debitRow.before, { available_minor: "1000", currency: "USD" })
        // A replay moves nothing and tells no one again.
        yield* Operators.debit(operator, { did: actor.did, amount_minor: 400n, currency: "USD", reason: "chargeback", idempotency_key: "debit-1" })
        assert.strictEqual((yield* Outbox.forSubject(actor.did)).filter((e) => e.type === "balance.manual_debit").length, 1)
      })))

    it.effect("a manual credit or debit says its purpose: deposits and payouts count as such on statements, corrections are adjustments", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1, 1000n)
        const adjust = { did: actor.did, currency: "USD" } as const
        const payout = yield* Operators.debit(operator, { ...adjust, amount_minor: 400n, reason: "paid out by bank transfer", idempotency_key: "debit-1" })
        assert.strictEqual(payout.purpose, "payout")
        yield* Operators.credit(operator, { ...adjust, amount_minor: 50n, reason: "fee refunded by mistake", idempotency_key: "credit-2", purpose: "correction" })
        yield* Operators.debit(operator, { ...adjust, amount_minor: 20n, reason: "undo half of it", idempotency_key: "debit-2", purpose: "correction" })
        const ledger = yield* Ledger.Ledger
        const month = new Date(yield* Clock.currentTimeMillis).toISOString().slice(0, 7)
        const statement = yield* ledger.statement({ did: actor.did, month })
        assert.deepStrictEqual(statement.lineItems.map((line) => [line.type, line.kind, line.amount, line.metadata.purpose]), [
          ["deposit", "mint", 1000n, "deposit"],
          ["payout", "burn", -400n, "payout"],
          ["adjustment", "adjustment", 50n, "correction"],
          ["adjustment", "adjustment", -20n, "correction"]
        ])
        assert.deepStrictEqual([statement.payouts, statement.endingBalance], [400n, 630n])
        // The participant's event says which it was.
        const events = (yield* Outbox.forSubject(actor.did)).filter((e) => e.type.startsWith("balance.manual_"))
        assert.deepStrictEqual(events.map((e) => e.payload.purpose), ["deposit", "payout", "correction", "correction"])
        // A debit cannot be a deposit, nor a credit a payout: refused before anything is written.
        const wrong = yield* failureCode(Operators.credit(operator, { ...adjust, amount_minor: 1n, reason: "x", idempotency_key: "credit-3", purpose: "payout" as never }))
        assert.strictEqual(wrong, "InvalidRequest")
      })))
  })

  describe("called directly by an embedder", () => {
    const cyclic = () => {
      const value: Record<string, unknown> = {}
      value.self = value
      return value
    }
    it.effect("a typed input that breaks its schema's rules, or an id not of the engine's form, is refused and writes nothing", () =>
      run(Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const { actor } = yield* requester(1, 100_000n)
        const w = yield* worker(2)
        const { posted, submitted } = yield* underReview(actor, w.key)
        const { dispute_id } = yield* Closure.reject(actor, posted.bounty_id, { submission_id: submitted.submission_id, reason: "no" })
        const counts = sql<{ n: number }>`SELECT (SELECT COUNT(*) FROM bounties) + (SELECT COUNT(*) FROM command_idempotency) + (SELECT COUNT(*) FROM ledger_entries) AS n`
        const before = Number((yield* counts)[0]!.n)
        const refused: ReadonlyArray<readonly [string, Effect.Effect<unknown, { readonly _tag: string }, any>]> = [
          ["InvalidRequest", Bounties.post(actor, researchBounty({ deadlines: { accept_within_seconds: Number.NaN } }))],
          ["InvalidRequest", Bounties.post(actor, researchBounty({ title: "nul\u0000" }))],
          ["InvalidRequest", Bounties.post(actor, researchBounty({ tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }))],
          ["InvalidRequest", Bounties.post(actor, researchBounty({ idempotency_key: "" }))],
          // Stored as JSON, these were changed silently (a Date became {}, NaN null) or overflowed the stack.
          ["InvalidRequest", Bounties.post(actor, researchBounty({ metadata: { due: new Date(0) } }))],
          ["InvalidRequest", Bounties.post(actor, researchBounty({ metadata: { score: Number.NaN } }))],
          ["InvalidRequest", Bounties.post(actor, researchBounty({ task_spec: { size: 10n } }))],
          ["InvalidRequest", Bounties.post(actor, researchBounty({ metadata: cyclic() }))],
          ["InvalidRequest", Closure.reject(actor, posted.bounty_id, { submission_id: submitted.submission_id, reason: "" })],
          ["InvalidRequest", Disputes.resolve(operator, dispute_id, { outcome: "split", worker_share_bps: 1.5 })],
          ["InvalidRequest", Disputes.resolve(operator, dispute_id, { outcome: "split", worker_share_bps: 10_000 })],
          ["InvalidRequest", Disputes.resolve(operator, dispute_id, { outcome: "requester_refund", worker_share_bps: 5000 })],
          ["InvalidRequest", Disputes.resolve(operator, dispute_id, { outcome: "worker_award", worker_share_bps: 5000 })],
          ["InvalidRequest", Operators.credit(operator, { did: "platform:fees", amount_minor: 1n, currency: "USD", reason: "x", idempotency_key: "sys" })],
          ["InvalidRequest", Operators.credit(operator, { did: actor.did, amount_minor: 1n, currency: "EUR" as never, reason: "x", idempotency_key: "eur" })],
          ["NotFound", Bounties.cancel(actor, "x".repeat(8000), {})],
          ["NotFound", Bounties.get(actor, "bty_\u0000")],
          ["NotFound", Closure.approve(actor, dispute_id, { submission_id: submitted.submission_id })],
          ["NotFound", Disputes.resolve(operator, posted.bounty_id, { outcome: "requester_refund" })]
        ]
        for (const [code, effect] of refused) assert.strictEqual(yield* failureCode(effect), code)
        assert.strictEqual(Number((yield* counts)[0]!.n), before)
      })))
  })

  describe("deadlines", () => {
    it.effect("an open bounty nobody accepts expires and is refunded", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1, 10_000n)
        const posted = yield* Bounties.post(actor, researchBounty({ deadlines: { accept_within_seconds: 3600 } }))
        assert.strictEqual((yield* Deadlines.sweep()).expired, 0)
        yield* TestClock.adjust("61 minutes")
        const report = yield* Deadlines.sweep()
        assert.strictEqual(report.expired, 1)
        assert.strictEqual((yield* Bounties.get(actor, posted.bounty_id)).status, "expired")
        assert.deepStrictEqual(yield* balances(actor.did), { A: 10_000n, H: 0n, B: 0n, F: 0n, P: 0n })
        assert.strictEqual((yield* Deadlines.sweep()).expired, 0)
        assert.deepStrictEqual(((yield* Audit.list({ entityId: posted.bounty_id, limit: 10 })).entries).map((a) => [a.actor, a.action]).sort(), [
          [actor.did, "bounty.post"], [Deadlines.SYSTEM, "bounty.expire"]
        ].sort())
      })))

    it.effect("an accepted bounty without a valid submission returns to open", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const w = yield* worker(2)
        const posted = yield* Bounties.post(actor, researchBounty())
        yield* Bounties.accept(w.actor, posted.bounty_id, {})
        yield* TestClock.adjust("25 hours")
        assert.strictEqual((yield* Deadlines.sweep()).reopened, 1)
        const reopened = yield* Bounties.get(actor, posted.bounty_id)
        assert.strictEqual(reopened.status, "open")
        assert.isFalse("accepted_by" in reopened)
        assert.strictEqual((yield* balances(actor.did)).H, 5375n)
        const next = yield* worker(3)
        yield* Bounties.accept(next.actor, posted.bounty_id, {})
        // The escrow's parties hear of the unassignment; the clock's transition is audited.
        const escrowEvents = (yield* Outbox.forSubject(posted.escrow_id)).map((e) => e.type)
        assert.deepStrictEqual(escrowEvents, ["escrow.held", "escrow.assigned", "escrow.unassigned", "escrow.assigned"])
        const audit = ((yield* Audit.list({ entityId: posted.bounty_id, limit: 10 })).entries).map((a) => [a.actor, a.action])
        assert.deepStrictEqual(audit.sort(), [
          [actor.did, "bounty.post"], [w.actor.did, "bounty.accept"], [next.actor.did, "bounty.accept"], [Deadlines.SYSTEM, "bounty.acceptance_timeout"]
        ].sort())
      })))

    it.effect("the same worker can accept a reopened bounty again, without a key, and deliver", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const w = yield* worker(2)
        const posted = yield* Bounties.post(actor, researchBounty())
        const first = yield* Bounties.accept(w.actor, posted.bounty_id, {})
        yield* TestClock.adjust("25 hours")
        assert.strictEqual((yield* Deadlines.sweep()).reopened, 1)
        const second = yield* Bounties.accept(w.actor, posted.bounty_id, {})
        assert.isAbove(Date.parse(second.deadline_at), Date.parse(first.deadline_at))
        assert.strictEqual((yield* Bounties.get(actor, posted.bounty_id)).status, "accepted")
        // Accepting again within the round answers with the acceptance in force.
        assert.deepStrictEqual(yield* Bounties.accept(w.actor, posted.bounty_id, {}), second)
        const submitted = yield* Submissions.submit(w.actor, posted.bounty_id, { proof_bundle_envelope: proofBundle(w.key), artifacts: [] })
        assert.strictEqual(submitted.status, "pending_review")
      })))

    it.effect("a reopened bounty keeps the expiry given at post: re-accepting cannot hold the money past it", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1, 10_000n)
        const w = yield* worker(2)
        const posted = yield* Bounties.post(actor, researchBounty({ deadlines: { accept_within_seconds: 2 * 86_400 } }))
        yield* Bounties.accept(w.actor, posted.bounty_id, {})
        yield* TestClock.adjust("25 hours")
        assert.strictEqual((yield* Deadlines.sweep()).reopened, 1)
        const reopened = (yield* Outbox.forSubject(posted.bounty_id)).find((e) => e.type === "bounty.reopened")!
        assert.strictEqual((reopened.payload as { expires_at: string }).expires_at, posted.expires_at)
        // The worker takes it again at once, and misses again: the offer has run out meanwhile.
        yield* Bounties.accept(w.actor, posted.bounty_id, {})
        yield* TestClock.adjust("25 hours")
        const report = yield* Deadlines.sweep()
        assert.deepStrictEqual([report.reopened, report.expired], [1, 1])
        assert.strictEqual((yield* Bounties.get(actor, posted.bounty_id)).status, "expired")
        assert.deepStrictEqual(yield* balances(actor.did), { A: 10_000n, H: 0n, B: 0n, F: 0n, P: 0n })
        yield* invariants
      })))

    it.effect("an accept key (the spec's bounty:<id>:accept:<did>) answers with the acceptance in force, never one that ended", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const a = yield* worker(2)
        const b = yield* worker(3)
        const posted = yield* Bounties.post(actor, researchBounty())
        const keyOf = (w: { actor: { did: string } }) => ({ idempotency_key: `bounty:${posted.bounty_id}:accept:${w.actor.did}` })
        const first = yield* Bounties.accept(a.actor, posted.bounty_id, keyOf(a))
        assert.deepStrictEqual(yield* Bounties.accept(a.actor, posted.bounty_id, keyOf(a)), first)
        yield* TestClock.adjust("25 hours")
        assert.strictEqual((yield* Deadlines.sweep()).reopened, 1)
        // Reopened: the same key accepts again, it does not answer with the round that ended.
        const second = yield* Bounties.accept(a.actor, posted.bounty_id, keyOf(a))
        assert.isAbove(Date.parse(second.deadline_at), Date.parse(first.deadline_at))
        assert.strictEqual((yield* Bounties.get(actor, posted.bounty_id)).status, "accepted")
        yield* TestClock.adjust("25 hours")
        yield* Deadlines.sweep()
        yield* Bounties.accept(b.actor, posted.bounty_id, keyOf(b))
        // Another worker holds it now: the key must not tell the first one it does.
        assert.strictEqual(yield* failureCode(Bounties.accept(a.actor, posted.bounty_id, keyOf(a))), "BountyAlreadyAccepted")
      })))

    it.effect("with the cancel policy, a missed work deadline refunds the requester", () =>
      Effect.provide(Effect.gen(function* () {
        const { actor } = yield* requester(1, 10_000n)
        const w = yield* worker(2)
        const posted = yield* Bounties.post(actor, researchBounty())
        yield* Bounties.accept(w.actor, posted.bounty_id, {})
        yield* TestClock.adjust("25 hours")
        assert.strictEqual((yield* Deadlines.sweep()).cancelled, 1)
        assert.strictEqual((yield* Bounties.get(actor, posted.bounty_id)).status, "cancelled")
        assert.strictEqual((yield* balances(actor.did)).A, 10_000n)
        assert.deepStrictEqual((yield* Outbox.forSubject(posted.escrow_id)).map((e) => e.type), ["escrow.held", "escrow.assigned", "escrow.cancelled"])
        yield* invariants
      }), engineOver(store(), { acceptanceTimeout: "cancel" })))

    it.effect("a submission nobody reviews is approved when the review window ends", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const w = yield* worker(2)
        const { posted } = yield* underReview(actor, w.key)
        yield* TestClock.adjust("71 hours")
        assert.strictEqual((yield* Deadlines.sweep()).autoApproved, 0)
        yield* TestClock.adjust("2 hours")
        assert.strictEqual((yield* Deadlines.sweep()).autoApproved, 1)
        assert.strictEqual((yield* Bounties.get(actor, posted.bounty_id)).status, "approved")
        assert.strictEqual((yield* balances(w.actor.did)).A, 5000n)
        const approved = (yield* Outbox.forSubject(posted.bounty_id)).at(-1)!
        assert.strictEqual(approved.type, "bounty.approved")
        assert.deepInclude(approved.payload, { approved_by: Deadlines.SYSTEM, via: "auto_approval", dispute_id: null })
      })))

    it.effect("at its state's deadline a step is DEADLINE_PASSED, swept or not, and the default exit applies", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1, 20_000n)
        const w = yield* worker(2)
        // Accepting an open bounty at its expiry would take the requester's refund.
        const expiring = yield* Bounties.post(actor, researchBounty({ title: "expiring", deadlines: { accept_within_seconds: 3600 } }))
        // Submitting at the work deadline would skip the reopening.
        const late = yield* Bounties.post(actor, researchBounty({ title: "late work" }))
        yield* Bounties.accept(w.actor, late.bounty_id, {})
        yield* TestClock.adjust("60 minutes")
        assert.strictEqual(yield* failureCode(Bounties.accept(w.actor, expiring.bounty_id, {})), "DeadlinePassed")
        yield* TestClock.adjust("23 hours")
        // The assigned worker accepting again gets no acceptance that is no longer in force.
        assert.strictEqual(yield* failureCode(Bounties.accept(w.actor, late.bounty_id, {})), "DeadlinePassed")
        const submitLate = Submissions.submit(w.actor, late.bounty_id, { proof_bundle_envelope: proofBundle(w.key), artifacts: [] })
        assert.strictEqual(yield* failureCode(submitLate), "DeadlinePassed")
        assert.deepStrictEqual(yield* Deadlines.sweep(), { expired: 1, reopened: 1, cancelled: 0, autoApproved: 0, escalated: 0, skipped: 0, challengesPurged: 0, eventsPurged: 0 })
        assert.strictEqual((yield* Bounties.get(actor, expiring.bounty_id)).status, "expired")
        assert.strictEqual((yield* Bounties.get(actor, late.bounty_id)).status, "open")
        // Rejecting at the end of the review window would take the worker's auto-approval.
        const { posted, submitted } = yield* underReview(actor, w.key, researchBounty({ title: "unreviewed" }))
        yield* TestClock.adjust("72 hours")
        const rejectLate = Closure.reject(actor, posted.bounty_id, { submission_id: submitted.submission_id, reason: "too late" })
        assert.strictEqual(yield* failureCode(rejectLate), "DeadlinePassed")
        assert.strictEqual((yield* Deadlines.sweep()).autoApproved, 1)
        assert.strictEqual((yield* Bounties.get(actor, posted.bounty_id)).status, "approved")
        assert.strictEqual((yield* balances(w.actor.did)).A, 5000n)
        const approved = (yield* Outbox.forSubject(posted.bounty_id)).at(-1)!
        assert.strictEqual(approved.type, "bounty.approved")
        assert.deepInclude(approved.payload, { approved_by: Deadlines.SYSTEM, via: "auto_approval", dispute_id: null })
      })))

    const manyDue = (sweep: Effect.Effect<Deadlines.SweepReport, unknown, any>) =>
      Effect.gen(function* () {
        const { actor } = yield* requester(1, 100_000n)
        const posts = (n: number, prefix: string, acceptWithinSeconds: number) =>
          Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) =>
            Bounties.post(actor, researchBounty({ title: `${prefix} ${i}`, deadlines: { accept_within_seconds: acceptWithinSeconds } })))
        const expiring = yield* posts(5, "nobody takes", 3600)
        // Offered for a week: reopened within the offer, so open again after the sweep.
        const abandoned = yield* posts(3, "taken, then dropped", 7 * 86_400)
        for (const [i, bounty] of abandoned.entries()) yield* Bounties.accept((yield* worker(10 + i)).actor, bounty.bounty_id, {})
        const reviewers = yield* Effect.forEach([20, 21], (n) => worker(n))
        const unreviewed = yield* Effect.forEach(reviewers, (w, i) => underReview(actor, w.key, researchBounty({ title: `never reviewed ${i}` })))
        yield* TestClock.adjust("4 days")
        assert.deepStrictEqual(yield* sweep, { expired: 5, reopened: 3, cancelled: 0, autoApproved: 2, escalated: 0, skipped: 0, challengesPurged: 0, eventsPurged: 0 })
        for (const bounty of expiring) assert.strictEqual((yield* Bounties.get(actor, bounty.bounty_id)).status, "expired")
        for (const bounty of abandoned) assert.strictEqual((yield* Bounties.get(actor, bounty.bounty_id)).status, "open")
        for (const { posted } of unreviewed) assert.strictEqual((yield* Bounties.get(actor, posted.bounty_id)).status, "approved")
        for (const w of reviewers) assert.strictEqual((yield* balances(w.actor.did)).A, 5000n)
        // Five refunded, three still held (open again), two paid out: 5375 each held at posting.
        assert.deepStrictEqual(yield* balances(actor.did), { A: 100_000n - 5n * 5375n, H: 3n * 5375n, B: 0n, F: 0n, P: 0n })
        assert.strictEqual((yield* Deadlines.sweep()).expired, 0)
      })

    it.effect("one sweep applies many due records of every kind, each once", () => run(manyDue(Deadlines.sweep())))

    it.effect("a sweep goes on past its batch size until nothing due is left", () =>
      Effect.provide(Effect.gen(function* () {
        const { actor } = yield* requester(1, 100_000n)
        for (let i = 0; i < 5; i++) yield* Bounties.post(actor, researchBounty({ title: `batch ${i}`, deadlines: { accept_within_seconds: 3600 } }))
        yield* TestClock.adjust("61 minutes")
        assert.strictEqual((yield* Deadlines.sweep()).expired, 5)
        assert.deepStrictEqual(yield* balances(actor.did), { A: 100_000n, H: 0n, B: 0n, F: 0n, P: 0n })
        yield* invariants
      }), engineOver(store(), { sweepBatchSize: 2 })))

    it.effect("a sweep purges every expired challenge, past its batch size", () =>
      Effect.provide(Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        // Anyone may ask for challenges: purging one batch per sweep (every 15 s by default) let a
        // single client asking faster than that grow the table without bound.
        for (let i = 0; i < 5; i++) yield* Identities.challenge({ did: key(1).did, purpose: "register" })
        yield* TestClock.adjust("6 minutes")
        assert.strictEqual((yield* Deadlines.sweep()).challengesPurged, 5)
        const left = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM identity_challenges`
        assert.strictEqual(Number(left[0]!.n), 0)
      }), engineOver(store(), { sweepBatchSize: 2 })))

    it.effect("a sweep deletes events past their retention, acknowledged or not, oldest first; newer ones stay", () =>
      Effect.provide(Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const alice = yield* requester(1, 0n)
        const bob = yield* requester(2, 0n)
        const shared = (n: number) =>
          Outbox.append({ type: "dispute.escalated", subjectType: "dispute", subjectId: `dsp_${n}`, recipients: [alice.actor.did, bob.actor.did], payload: { dispute_id: `dsp_${n}`, bounty_id: "bty_shared" } })
        for (let n = 0; n < 3; n++) yield* shared(n)
        // Alice acknowledges hers; Bob none of his.
        const page = yield* EventFeed.pull(alice.actor, { limit: 200 })
        yield* EventFeed.ack(alice.actor, { event_ids: page.events.map((e) => e.event_id) })
        yield* TestClock.adjust("6 days")
        for (let n = 3; n < 5; n++) yield* shared(n)
        const counts = Effect.map(
          sql<{ events: number; recipients: number }>`SELECT (SELECT COUNT(*) FROM outbox) AS events, (SELECT COUNT(*) FROM outbox_recipients) AS recipients`,
          (rows) => [Number(rows[0]!.events), Number(rows[0]!.recipients)]
        )
        // Within the retention nothing goes.
        yield* TestClock.adjust("3 days")
        assert.strictEqual((yield* Deadlines.sweep()).eventsPurged, 0)
        assert.deepStrictEqual(yield* counts, [7, 12])
        // Past it for the first five (two registrations, three shared), in batches of 2; not yet for the rest.
        yield* TestClock.adjust("2 days")
        assert.strictEqual((yield* Deadlines.sweep()).eventsPurged, 5)
        assert.deepStrictEqual(yield* counts, [2, 4])
        for (const actor of [alice.actor, bob.actor]) {
          assert.deepStrictEqual((yield* EventFeed.pull(actor, { includeAcked: true })).events.map((e) => e.subject_id), ["dsp_3", "dsp_4"])
        }
      }), engineOver(store(), { sweepBatchSize: 2, eventRetention: Duration.days(10) })))

    it.effect("records due at the same moment are swept in the order of their ids, so two runs of one seed agree", () =>
      Effect.provide(Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const { actor } = yield* requester(1, 100_000n)
        const open = yield* Effect.forEach([1, 2, 3, 4], (i) => Bounties.post(actor, researchBounty({ title: `tied ${i}` })))
        const disputes = yield* Effect.forEach([11, 12, 13], (n) =>
          Effect.flatMap(worker(n), (w) => Effect.flatMap(underReview(actor, w.key), ({ posted, submitted }) =>
            Closure.reject(actor, posted.bounty_id, { submission_id: submitted.submission_id, reason: "tied" }))))
        const tie = DateTime.formatIso(DateTime.unsafeMake(yield* Clock.currentTimeMillis))
        yield* sql`UPDATE bounties SET deadline_at = ${tie} WHERE deadline_at IS NOT NULL`
        yield* sql`UPDATE disputes SET deadline_at = ${tie}`
        yield* TestClock.adjust("1 second")
        assert.deepInclude(yield* Deadlines.sweep(), { expired: 4, escalated: 3 })
        const swept = (type: string) =>
          Effect.map(sql<{ subject_id: string }>`SELECT subject_id FROM outbox WHERE type = ${type} ORDER BY seq`, (rows) => rows.map((row) => row.subject_id))
        assert.deepStrictEqual(yield* swept("bounty.expired"), open.map((b) => b.bounty_id).sort())
        assert.deepStrictEqual(yield* swept("dispute.escalated"), disputes.map((d) => d.dispute_id).sort())
      }).pipe(Effect.provide(idsShuffled)), engineOver(store(), { sweepBatchSize: 1 })))

    it.effect("inside a caller's transaction, the sweep applies them one at a time, with the same result", () =>
      run(Effect.flatMap(SqlClient.SqlClient, (sql) => manyDue(sql.withTransaction(Deadlines.sweep())))))

    it.effect("an unresolved dispute is escalated to operators, funds still held", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const w = yield* worker(2)
        const { posted, submitted } = yield* underReview(actor, w.key)
        const rejected = yield* Closure.reject(actor, posted.bounty_id, { submission_id: submitted.submission_id, reason: "no" })
        yield* TestClock.adjust("8 days")
        assert.strictEqual((yield* Deadlines.sweep()).escalated, 1)
        assert.strictEqual((yield* Deadlines.sweep()).escalated, 0)
        const queue = yield* Disputes.queue(operator, {})
        assert.deepStrictEqual(queue.disputes.map((d) => [d.dispute_id, d.escalated]), [[rejected.dispute_id, true]])
        assert.strictEqual((yield* balances(actor.did)).H, 5375n)
      })))

    it.effect("the dispute queue pages escalated disputes first, then the rest oldest first, and resolved ones newest first, with a cursor", () =>
      run(Effect.gen(function* () {
        const { actor } = yield* requester(1)
        const dispute = (n: number) =>
          Effect.gen(function* () {
            const w = yield* worker(n)
            const { posted, submitted } = yield* underReview(actor, w.key)
            yield* TestClock.adjust("1 minute")
            return (yield* Closure.reject(actor, posted.bounty_id, { submission_id: submitted.submission_id, reason: "no" })).dispute_id
          })
        // The two oldest are overdue and escalated; three newer ones are not.
        const overdue = [yield* dispute(2), yield* dispute(3)]
        yield* TestClock.adjust("8 days")
        assert.strictEqual((yield* Deadlines.sweep()).escalated, 2)
        const recent = [yield* dispute(4), yield* dispute(5), yield* dispute(6)]

        const pages: Array<Array<[string, boolean]>> = []
        let cursor: string | undefined
        do {
          const page = yield* Disputes.queue(operator, { limit: 2, cursor })
          pages.push(page.disputes.map((d) => [d.dispute_id, d.escalated]))
          cursor = page.next_cursor ?? undefined
        } while (cursor !== undefined)
        assert.deepStrictEqual(pages, [
          [[overdue[0]!, true], [overdue[1]!, true]],
          [[recent[0]!, false], [recent[1]!, false]],
          [[recent[2]!, false]]
        ])
        // A page that ends inside the escalated ones carries on into the rest.
        const first = yield* Disputes.queue(operator, { limit: 1 })
        const next = yield* Disputes.queue(operator, { limit: 3, cursor: first.next_cursor! })
        assert.deepStrictEqual(next.disputes.map((d) => d.dispute_id), [overdue[1], recent[0], recent[1]])

        // A full last page has no cursor; resolved disputes are their own queue.
        assert.isNull((yield* Disputes.queue(operator, { limit: 5 })).next_cursor)
        yield* Disputes.resolve(operator, recent[1]!, { outcome: "requester_refund" })
        assert.deepStrictEqual((yield* Disputes.queue(operator, { status: "resolved" })).disputes.map((d) => d.dispute_id), [recent[1]])
        assert.notInclude((yield* Disputes.queue(operator, {})).disputes.map((d) => d.dispute_id), recent[1])
        const openCursor = (yield* Disputes.queue(operator, { limit: 1 })).next_cursor!

        // Resolved ones read most recently resolved first, whatever their age or escalation: the
        // oldest dispute, resolved last, leads; two resolved at one instant are ordered by id.
        yield* TestClock.adjust("1 minute")
        yield* Disputes.resolve(operator, recent[0]!, { outcome: "worker_award" })
        yield* Disputes.resolve(operator, recent[2]!, { outcome: "split", worker_share_bps: 5000 })
        yield* TestClock.adjust("1 minute")
        yield* Disputes.resolve(operator, overdue[0]!, { outcome: "requester_refund" })
        const sameInstant = [recent[0]!, recent[2]!].sort().reverse()
        const resolvedPages: Array<Array<string>> = []
        let nextResolved: string | undefined
        do {
          const page = yield* Disputes.queue(operator, { status: "resolved", limit: 2, cursor: nextResolved })
          resolvedPages.push(page.disputes.map((d) => d.dispute_id))
          nextResolved = page.next_cursor ?? undefined
        } while (nextResolved !== undefined)
        assert.deepStrictEqual(resolvedPages, [[overdue[0]!, sameInstant[0]!], [sameInstant[1]!, recent[1]!]])
        assert.deepStrictEqual((yield* Disputes.queue(operator, {})).disputes.map((d) => d.dispute_id), [overdue[1]])
        // Each order's cursor is its own: the other order's is refused, not read as a position.
        const resolvedCursor = (yield* Disputes.queue(operator, { status: "resolved", limit: 1 })).next_cursor!
        assert.strictEqual(yield* failureCode(Disputes.queue(operator, { cursor: resolvedCursor })), "InvalidRequest")
        assert.strictEqual(yield* failureCode(Disputes.queue(operator, { status: "resolved", cursor: openCursor })), "InvalidRequest")

        // A cursor this API did not return is refused, not read as some other position.
        const forged = ["2|2026-01-01T00:00:00.000Z|dsp_000001", "1|yesterday|dsp_000001", "1|2026-01-01T00:00:00.000Z|bty_000001", "1|2026-01-01T00:00:00.000Z"]
        for (const text of [...forged, "not base64 !"]) {
          const bad = text.includes("|") ? Buffer.from(text).toString("base64url") : text
          assert.strictEqual(yield* failureCode(Disputes.queue(operator, { cursor: bad })), "InvalidRequest", text)
        }
      })))
  })
}

for (const { name, store } of stores) {
  describe.skipIf(name !== "sqlite" && !pg.available)(name, () => suite(store))
}
