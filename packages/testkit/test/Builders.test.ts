/**
 * The builders sign exactly what the verifier and the engine accept, and their forgeries are
 * refused with the codes a tester expects; the actors run a whole job; the invariants notice money
 * that outlives its job.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { Money } from "@clawbounties/domain"
import { Ledger } from "@clawbounties/ledger"
import { Identities } from "@clawbounties/marketplace"
import { AgentPack, CommitProof, ProofBundle, Sign } from "@clawbounties/verify"
import { Effect, Layer } from "effect"
import { Actors, Builders, Deterministic, Invariants, Keys, TestEngine } from "../src/index.js"

const worker = Keys.key(2)
const gateway = Keys.key(100)
const at = Date.parse(Builders.DEFAULT_ISSUED_AT) + 1000
const strict = { mode: "strict" as const, verifyAt: at, gatewaySignerDids: [gateway.did] }

/** Breaks the engine's records as a forgetful transition would: its events were never written. */
const dropEvents = (...types: ReadonlyArray<string>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.zipRight(
      sql`DELETE FROM outbox_recipients WHERE event_seq IN (SELECT seq FROM outbox WHERE ${sql.in("type", types)})`,
      sql`DELETE FROM outbox WHERE ${sql.in("type", types)}`
    ))

/**
 * 300 entries of 32 of the largest amounts each: 9.6·10^18 from 32 world accounts into 32 accounts,
 * so no balance nears the ledger's bound of 4·10^18 and the sums of what entered and of the balances
 * pass 2^63. Conservation must still hold, and report both totals exactly.
 */
const beyond64Bits = Effect.gen(function* () {
  const ledger = yield* Ledger.Ledger
  const accounts = Array.from({ length: 32 }, (_, i) => [`world:big${i}`, `platform:big${i}`] as const)
  for (const [world, account] of accounts) {
    yield* ledger.openAccount({ account: world, currency: "USD" })
    yield* ledger.openAccount({ account, currency: "USD" })
  }
  const amount = Money.MAX_AMOUNT_MINOR
  for (let i = 0; i < 300; i++) {
    yield* ledger.post({
      kind: "mint",
      currency: "USD",
      idempotencyKey: `big-${i}`,
      legs: accounts.flatMap(([world, account]) => [{ account: world, bucket: "A" as const, amount: -amount }, { account, bucket: "A" as const, amount }])
    })
  }
  const result = yield* Invariants.conservation
  const total = (300n * 32n * amount).toString()
  assert.deepStrictEqual([result.ok, result.facts?.entered, result.facts?.balances], [true, total, total])
})

describe("Builders", () => {
  it("a proof bundle verifies at tier self; tampered, it fails with HASH_MISMATCH", () => {
    const valid = ProofBundle.verify(Builders.proofBundle(worker), strict)
    assert.strictEqual(valid.status, "VALID")
    assert.strictEqual(valid.proof_tier, "self")
    const tampered = ProofBundle.verify(Builders.proofBundle(worker, { tamper: true }), strict)
    assert.strictEqual(tampered.status, "INVALID")
    assert.strictEqual(tampered.error?.code, "HASH_MISMATCH")
  })

  it("a bound gateway receipt raises the tier; unbound or bound to another run is refused in strict mode", () => {
    const bound = ProofBundle.verify(Builders.proofBundle(worker, { receipts: [{ gateway }] }), strict)
    assert.strictEqual(bound.status, "VALID")
    assert.strictEqual(bound.proof_tier, "gateway")
    assert.deepStrictEqual(bound.receipts.map((r) => r.bound), [true])
    for (const binding of [false, "other_run"] as const) {
      const result = ProofBundle.verify(Builders.proofBundle(worker, { receipts: [{ gateway, bound: binding }] }), strict)
      assert.strictEqual(result.status, "INVALID", `bound: ${binding}`)
      assert.strictEqual(result.error?.code, "RECEIPT_BINDING_MISMATCH", `bound: ${binding}`)
    }
    // A receipt from a gateway nobody trusts never counts.
    const untrusted = ProofBundle.verify(Builders.proofBundle(worker, { receipts: [{ gateway: Keys.key(101) }] }), strict)
    assert.strictEqual(untrusted.status, "INVALID")
  })

  it("a commit proof verifies for its signer and fails tampered", () => {
    const repoClaimIds = [Sign.defaultRepoClaimId(Builders.DEFAULT_REPOSITORY)]
    assert.strictEqual(CommitProof.verifyEnvelope(Builders.commitProof(worker), { verifyAt: at, repoClaimIds, expectedSignerDid: worker.did }).status, "VALID")
    assert.strictEqual(CommitProof.verifyEnvelope(Builders.commitProof(worker), { verifyAt: at, repoClaimIds, expectedSignerDid: Keys.key(3).did }).status, "INVALID")
    assert.strictEqual(CommitProof.verifyEnvelope(Builders.commitProof(worker, { tamper: true }), { verifyAt: at, repoClaimIds }).error?.code, "HASH_MISMATCH")
  })

  it.effect("an agent pack verifies end to end (bytes, artifact envelope, manifest)", () =>
    Effect.gen(function* () {
      const pack = Builders.agentPack(worker, { skills: ["review"] })
      const result = yield* AgentPack.verify({ bytes: pack.bytes, artifactEnvelope: pack.artifact, declaredHash: pack.bundleHash, workerDid: worker.did }, { verifyAt: at })
      assert.strictEqual(result.status, "VALID", JSON.stringify(result))
      const other = yield* AgentPack.verify({ bytes: pack.bytes, artifactEnvelope: pack.artifact, declaredHash: pack.bundleHash, workerDid: Keys.key(3).did }, { verifyAt: at })
      assert.strictEqual(other.status, "INVALID")
    }))

  it.effect("a challenge answer registers the DID; a forged or tampered one is refused and writes nothing", () =>
    Effect.gen(function* () {
      const alice = Keys.key(1)
      for (const [options, code] of [[{ signWith: Keys.key(9) }, "DidProofInvalid"], [{ tamper: true }, "DidProofInvalid"]] as const) {
        const challenge = yield* Identities.challenge({ did: alice.did, purpose: "register" })
        const error = yield* Effect.flip(Identities.register({ did: alice.did, role: "requester", challenge_id: challenge.challenge_id, proof: Builders.challengeAnswer(alice, challenge, "requester", options) }))
        assert.strictEqual(error._tag, code)
      }
      const token = yield* Actors.registerIdentity(alice, "requester")
      assert.match(token, /^cbt_requester_/)
    }).pipe(Effect.provide(TestEngine.layer())))
})

describe("Actors and invariants", () => {
  // The README's "In tests" example runs as readme/job.test.ts, verbatim.
  it.effect("README: a credit or a post run twice moves money once; a third argument is a new credit", () =>
    Effect.gen(function* () {
      const did = Keys.key(1).did
      yield* Actors.operator.credit(did, 10_000n)
      yield* Actors.operator.credit(did, 10_000n)
      const alice = yield* Actors.requester(Keys.key(1))
      assert.strictEqual((yield* alice.balances).A, 10_000n)
      yield* Actors.operator.credit(did, 10_000n, "second")
      assert.strictEqual((yield* alice.balances).A, 20_000n)
      const first = yield* alice.post()
      const again = yield* Actors.requester(Keys.key(1))
      assert.strictEqual((yield* again.post()).bounty_id, first.bounty_id)
      assert.notStrictEqual((yield* alice.post()).bounty_id, first.bounty_id)
    }).pipe(Effect.provide(TestEngine.layer())))

  it.effect("a job end to end in a few lines, and every invariant holds after it and after a sweep", () =>
    Effect.gen(function* () {
      const alice = yield* Actors.requester(Keys.key(1), { fund: 10_000n })
      const bob = yield* Actors.worker(Keys.key(2))
      const posted = yield* alice.post()
      yield* bob.accept(posted.bounty_id)
      yield* Effect.flip(bob.submit(posted.bounty_id, { tamper: true }))
      yield* bob.submit(posted.bounty_id, { runId: "honest" })
      const reviewed = yield* Actors.reviewer(alice).review(posted.bounty_id, "approve")
      assert.strictEqual(reviewed.approved?.worker_paid_minor, "5000")
      assert.deepStrictEqual(yield* bob.balances, { A: 5000n, H: 0n, B: 0n, F: 0n, P: 0n })
      assert.deepStrictEqual(yield* alice.balances, { A: 10_000n - 5375n, H: 0n, B: 0n, F: 0n, P: 0n })
      yield* Deterministic.passDeadline("90 days")
      yield* Actors.operator.sweep
      const results = yield* Invariants.assertAll({ afterSweep: true })
      assert.deepStrictEqual(results.map((r) => [r.name, r.ok]), [
        ["ledger_reconcile", true], ["holds_belong_to_live_jobs", true], ["escrows_match_holds", true], ["conservation", true],
        ["every_wait_has_a_deadline", true], ["events_match_records", true], ["no_overdue_jobs_after_sweep", true]
      ])
      assert.isTrue((yield* Invariants.nothingLive).ok)
    }).pipe(Effect.provide(TestEngine.layer())))

  it.effect("a hold that belongs to no job, and a job left past its deadline, are reported", () =>
    Effect.gen(function* () {
      const alice = yield* Actors.requester(Keys.key(1), { fund: 10_000n })
      const ledger = yield* Ledger.Ledger
      yield* ledger.hold({ account: alice.actor.did, currency: "USD", amount: 100n, idempotencyKey: "stray" })
      yield* alice.post({ deadlines: { accept_within_seconds: 60 } })
      yield* Deterministic.passDeadline("60 seconds")
      const results = yield* Invariants.check({ afterSweep: true })
      const verdict = Object.fromEntries(results.map((r) => [r.name, r.ok]))
      assert.isFalse(verdict.holds_belong_to_live_jobs)
      assert.isFalse(verdict.no_overdue_jobs_after_sweep)
      assert.isTrue(verdict.conservation)
      const error = yield* Effect.flip(Invariants.assertAll({ afterSweep: true }))
      assert.match(error.message, /belongs to no escrow/)
      // The sweep expires the bounty and refunds it; the stray hold is still someone's bug.
      yield* Actors.operator.sweep
      const after = Object.fromEntries((yield* Invariants.check({ afterSweep: true })).map((r) => [r.name, r.ok]))
      assert.isTrue(after.no_overdue_jobs_after_sweep)
      assert.isFalse(after.holds_belong_to_live_jobs)
      const live = yield* Invariants.nothingLive
      assert.deepStrictEqual([live.ok, live.facts], [false, { live_bounties: 0, active_escrows: 0, open_holds: 1 }])
    }).pipe(Effect.provide(TestEngine.layer())))

  it.effect("a job with no deadline, and money that entered without an operator's audited credit, are reported", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const alice = yield* Actors.requester(Keys.key(1), { fund: 10_000n })
      const posted = yield* alice.post()
      assert.isTrue((yield* Invariants.assertAll()).every((r) => r.ok))
      // A bug that forgets a deadline: the job would wait for ever, and no sweep would ever see it.
      yield* sql`UPDATE bounties SET deadline_at = NULL WHERE bounty_id = ${posted.bounty_id}`
      // A bug that mints through world:manual without the command (no audit row): balanced, reconciled, unaccounted.
      const ledger = yield* Ledger.Ledger
      yield* ledger.mint({ world: "world:manual", account: alice.actor.did, currency: "USD", amount: 7n, idempotencyKey: "unaudited" })
      const verdict = Object.fromEntries((yield* Invariants.check()).map((r) => [r.name, r]))
      assert.isTrue(verdict.ledger_reconcile!.ok)
      assert.deepStrictEqual(verdict.every_wait_has_a_deadline!.violations, [`bounty ${posted.bounty_id} is open with no deadline`])
      assert.deepStrictEqual(verdict.conservation!.violations, ["world:manual put in 10007, but operators credited 10000 (audit log)"])
    }).pipe(Effect.provide(TestEngine.layer())))

  it.effect("conservation holds when the money that entered passes 2^63 (a plain SQL SUM overflows)", () =>
    beyond64Bits.pipe(Effect.provide(TestEngine.layer())))

  it.effect("events that legitimately repeat are not duplicates: the same worker accepting a reopened bounty", () =>
    Effect.gen(function* () {
      const alice = yield* Actors.requester(Keys.key(1), { fund: 10_000n })
      const bob = yield* Actors.worker(Keys.key(2))
      const posted = yield* alice.post()
      yield* bob.accept(posted.bounty_id)
      yield* Deterministic.passDeadline("25 hours")
      assert.strictEqual((yield* Actors.operator.sweep).reopened, 1)
      yield* bob.accept(posted.bounty_id)
      assert.deepStrictEqual((yield* Invariants.eventsMatchRecords).violations, [])
    }).pipe(Effect.provide(TestEngine.layer())))

  it.effect("an event written twice, or a state change with no event, is reported", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const alice = yield* Actors.requester(Keys.key(1), { fund: 10_000n })
      const bob = yield* Actors.worker(Keys.key(2))
      const posted = yield* alice.post()
      yield* bob.accept(posted.bounty_id)
      assert.isTrue((yield* Invariants.eventsMatchRecords).ok)
      // A replay that appends again: the same event, to the byte.
      yield* sql`INSERT INTO outbox (event_id, type, subject_type, subject_id, payload, created_at)
        SELECT 'evt_copy', type, subject_type, subject_id, payload, created_at FROM outbox WHERE type = 'bounty.posted'`
      // A transition that forgot its event.
      yield* dropEvents("escrow.assigned")
      yield* sql`UPDATE escrows SET status = 'frozen' WHERE escrow_id = ${posted.escrow_id}`
      // A replayed accept appending its event again, to the byte: not a once-per-subject event, but
      // a repeat of a job's event with the same payload is a replay, not a new step.
      yield* sql`INSERT INTO outbox (event_id, type, subject_type, subject_id, payload, created_at)
        SELECT 'evt_copy_2', type, subject_type, subject_id, payload, created_at FROM outbox WHERE type = 'bounty.accepted'`
      const result = yield* Invariants.eventsMatchRecords
      assert.deepStrictEqual(result.violations, [
        `event bounty.posted of ${posted.bounty_id} was written 2 times`,
        `event bounty.accepted of ${posted.bounty_id} was written 2 times`,
        `escrow ${posted.escrow_id} has no escrow.frozen event`
      ])
    }).pipe(Effect.provide(TestEngine.layer())))

  it.effect("a submission approved or refused without its event is reported", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const alice = yield* Actors.requester(Keys.key(1), { fund: 10_000n })
      const bob = yield* Actors.worker(Keys.key(2))
      const posted = yield* alice.post()
      yield* bob.accept(posted.bounty_id)
      yield* Effect.flip(bob.submit(posted.bounty_id, { tamper: true }))
      const submitted = yield* bob.submit(posted.bounty_id, { runId: "honest" })
      yield* alice.approve(posted.bounty_id, submitted.submission_id)
      assert.isTrue((yield* Invariants.eventsMatchRecords).ok)
      // Transitions that forgot their events: the approval of the submission, and its refusal.
      const [invalid] = yield* sql<{ submission_id: string }>`SELECT submission_id FROM submissions WHERE status = 'invalid'`
      yield* dropEvents("submission.approved", "submission.invalid")
      assert.deepStrictEqual((yield* Invariants.eventsMatchRecords).violations, [
        `submission ${invalid!.submission_id} has no submission.invalid event`,
        `submission ${submitted.submission_id} has no submission.approved event`
      ])
    }).pipe(Effect.provide(TestEngine.layer())))

  it.effect("a dispute's steps without their events are reported: the bounty's and each submission's", () =>
    Effect.gen(function* () {
      const alice = yield* Actors.requester(Keys.key(1), { fund: 100_000n })
      const bob = yield* Actors.worker(Keys.key(2))
      const disputed = (outcome?: "worker_award" | "requester_refund" | "split") =>
        Effect.gen(function* () {
          const posted = yield* alice.post()
          yield* bob.accept(posted.bounty_id)
          const submitted = yield* bob.submit(posted.bounty_id)
          const rejected = yield* alice.reject(posted.bounty_id, submitted.submission_id)
          if (outcome !== undefined) yield* Actors.operator.resolve(rejected.dispute_id, outcome, outcome === "split" ? 5000 : undefined)
          return { bountyId: posted.bounty_id, submissionId: submitted.submission_id }
        })
      const open = yield* disputed()
      const awarded = yield* disputed("worker_award")
      const refunded = yield* disputed("requester_refund")
      const split = yield* disputed("split")
      assert.deepStrictEqual((yield* Invariants.eventsMatchRecords).violations, [])
      yield* dropEvents("bounty.disputed", "submission.disputed", "submission.approved", "submission.rejected", "submission.resolved")
      assert.deepStrictEqual((yield* Invariants.eventsMatchRecords).violations, [
        `bounty ${open.bountyId} is disputed but its last event is bounty.pending_review`,
        `submission ${open.submissionId} has no submission.disputed event`,
        `submission ${awarded.submissionId} has no submission.approved event`,
        `submission ${refunded.submissionId} has no submission.rejected event`,
        `submission ${split.submissionId} has no submission.resolved event`
      ])
    }).pipe(Effect.provide(TestEngine.layer())))

  it.effect("a bounty whose last event tells another status is reported: a reopen that forgot its event", () =>
    Effect.gen(function* () {
      const alice = yield* Actors.requester(Keys.key(1), { fund: 10_000n })
      const bob = yield* Actors.worker(Keys.key(2))
      const posted = yield* alice.post()
      yield* bob.accept(posted.bounty_id)
      yield* Deterministic.passDeadline("25 hours")
      assert.strictEqual((yield* Actors.operator.sweep).reopened, 1)
      assert.isTrue((yield* Invariants.eventsMatchRecords).ok)
      // The bounty is open again, but its feed still says accepted (it has a bounty.posted, though).
      yield* dropEvents("bounty.reopened")
      assert.deepStrictEqual((yield* Invariants.eventsMatchRecords).violations, [
        `bounty ${posted.bounty_id} is open but its last event is bounty.accepted`
      ])
    }).pipe(Effect.provide(TestEngine.layer())))

  it.effect("an escrow settled one way while its hold went the other is reported", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const ledger = yield* Ledger.Ledger
      const alice = yield* Actors.requester(Keys.key(1), { fund: 20_000n })
      const bob = yield* Actors.worker(Keys.key(2))
      const holdOf = (escrowId: string) => Effect.map(sql<{ hold_id: string }>`SELECT hold_id FROM escrows WHERE escrow_id = ${escrowId}`, (rows) => rows[0]!.hold_id)
      // An approval that refunded the requester: escrow released, worker paid nothing.
      const approved = yield* alice.post()
      yield* ledger.voidHold({ holdId: yield* holdOf(approved.escrow_id), idempotencyKey: "approve-as-refund" })
      yield* sql`UPDATE escrows SET status = 'released' WHERE escrow_id = ${approved.escrow_id}`
      yield* sql`UPDATE bounties SET status = 'approved' WHERE bounty_id = ${approved.bounty_id}`
      // A cancellation that paid a worker: escrow cancelled, the hold released to bob.
      const cancelled = yield* alice.post()
      yield* ledger.openAccount({ account: bob.actor.did, currency: "USD" })
      yield* ledger.releaseHold({ holdId: yield* holdOf(cancelled.escrow_id), destinations: [{ account: bob.actor.did, bucket: "A", amount: 5000n }], idempotencyKey: "cancel-as-payout" })
      yield* sql`UPDATE escrows SET status = 'cancelled' WHERE escrow_id = ${cancelled.escrow_id}`
      yield* sql`UPDATE bounties SET status = 'cancelled' WHERE bounty_id = ${cancelled.bounty_id}`
      assert.isTrue((yield* Invariants.reconcile).ok)
      assert.deepStrictEqual((yield* Invariants.escrowsMatchHolds).violations, [
        `escrow ${approved.escrow_id} is released but its hold was voided`,
        `escrow ${cancelled.escrow_id} is cancelled but its hold was released`
      ])
    }).pipe(Effect.provide(TestEngine.layer())))

  it.effect("a dispute escalated without its event is reported", () =>
    Effect.gen(function* () {
      const alice = yield* Actors.requester(Keys.key(1), { fund: 10_000n })
      const bob = yield* Actors.worker(Keys.key(2))
      const posted = yield* alice.post()
      yield* bob.accept(posted.bounty_id)
      const submitted = yield* bob.submit(posted.bounty_id)
      const rejected = yield* alice.reject(posted.bounty_id, submitted.submission_id)
      yield* Deterministic.passDeadline("7 days")
      assert.strictEqual((yield* Actors.operator.sweep).escalated, 1)
      assert.isTrue((yield* Invariants.eventsMatchRecords).ok)
      yield* dropEvents("dispute.escalated")
      assert.deepStrictEqual((yield* Invariants.eventsMatchRecords).violations, [`dispute ${rejected.dispute_id} has no dispute.escalated event`])
    }).pipe(Effect.provide(TestEngine.layer())))
})

const pg = await PgTestDatabase.probe()
describe.skipIf(!pg.available)(`Invariants on PostgreSQL ${pg.reason}`, () => {
  it.effect("conservation holds when the money that entered passes 2^63", () =>
    beyond64Bits.pipe(Effect.provide(TestEngine.layer({
      store: PgTestDatabase.layer({ prefix: "testkit_sums", migrations: TestEngine.migrations }).pipe(Layer.orDie)
    }))))
})
