/**
 * Concurrency on PostgreSQL, with separate pooled connections (each transaction holds its own).
 * A deliberately naive read-then-write withdrawal, kept here, must FAIL the double-spend test: that
 * shows the test can see a lost update, so its passing for the ledger means something.
 */
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { Ledger } from "@clawbounties/ledger"
import { SqlClient } from "@effect/sql"
import { assert, describe, layer } from "@effect/vitest"
import { Array as Arr, Clock, Deferred, Effect, Either, Fiber, Schedule } from "effect"
import { clockAt, did, funded, pgLayer, uniqueKey } from "./helpers.js"

const pg = await PgTestDatabase.probe()

/** The canary: reads the balance, then writes `read - amount` (no lock, no condition). */
const naiveWithdraw = (account: string, amount: bigint) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return yield* sql.withTransaction(Effect.gen(function* () {
      const rows = yield* sql<{ amount: string }>`SELECT amount FROM ledger_balances WHERE account = ${account} AND currency = 'USD' AND bucket = 'A'`
      const balance = BigInt(rows[0]!.amount)
      if (balance < amount) return false
      yield* Effect.sleep("2 millis") // the application doing other work between read and write
      yield* sql`UPDATE ledger_balances SET amount = ${balance - amount} WHERE account = ${account} AND currency = 'USD' AND bucket = 'A'`
      return true
    }))
  })

const A = (account: string) => ({ account, bucket: "A" as const })

describe.skipIf(!pg.available)(`concurrency on PostgreSQL ${pg.reason}`, () => {
  layer(pgLayer("ledger_race"), { excludeTestServices: true, timeout: "30 seconds" })((it) => {
    it.effect("50 concurrent withdrawals of 10 from 100: exactly 10 succeed and the balance ends at 0", () =>
      Effect.gen(function* () {
        const ledger = yield* Ledger.Ledger
        const [alice, sink] = [did("alice"), did("sink")]
        yield* funded([[alice, 100n], [sink, 0n]])
        const results = yield* Effect.all(
          Arr.makeBy(50, () =>
            Effect.either(ledger.transfer({ idempotencyKey: uniqueKey("w"), from: A(alice), to: A(sink), currency: "USD", amount: 10n }))),
          { concurrency: "unbounded" }
        )
        const succeeded = results.filter(Either.isRight).length
        const failures = new Set(results.filter(Either.isLeft).map((r) => r.left._tag))
        assert.strictEqual(succeeded, 10)
        assert.deepStrictEqual([...failures], ["InsufficientFunds"])
        assert.strictEqual((yield* ledger.balances(alice)).USD!.A, 0n)
        assert.strictEqual((yield* ledger.balances(sink)).USD!.A, 100n)
        assert.isTrue((yield* ledger.reconcile).ok)
      }))

    it.effect("the naive read-then-write canary loses updates under the same race", () =>
      Effect.gen(function* () {
        const ledger = yield* Ledger.Ledger
        const victim = did("victim")
        yield* funded([[victim, 100n]])
        const results = yield* Effect.all(Arr.makeBy(50, () => naiveWithdraw(victim, 10n)), { concurrency: "unbounded" })
        const succeeded = results.filter(Boolean).length
        const balance = (yield* ledger.balances(victim)).USD!.A
        // Correct behaviour would be succeeded == 10 and balance == 0; the canary must violate it.
        const lostUpdates = succeeded > 10 || balance !== 100n - 10n * BigInt(succeeded)
        assert.isTrue(lostUpdates, `naive implementation: ${succeeded} withdrawals succeeded, balance ${balance}`)
        // ... and reconcile sees the damage (the balance no longer equals its postings).
        assert.isFalse((yield* ledger.reconcile).ok)
        // Repair for the tests that follow: put the balance back to what its postings say.
        yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql`UPDATE ledger_balances SET amount = 100 WHERE account = ${victim} AND bucket = 'A'`)
        assert.isTrue((yield* ledger.reconcile).ok)
      }))

    it.effect("20 concurrent requests with one idempotency key write one journal entry", () =>
      Effect.gen(function* () {
        const ledger = yield* Ledger.Ledger
        const sql = yield* SqlClient.SqlClient
        const [alice, bob] = [did("alice"), did("bob")]
        yield* funded([[alice, 100n], [bob, 0n]])
        const key = uniqueKey("same")
        const results = yield* Effect.all(
          Arr.makeBy(20, () => ledger.transfer({ idempotencyKey: key, from: A(alice), to: A(bob), currency: "USD", amount: 7n })),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(new Set(results.map((r) => r.entryId)).size, 1)
        const entries = yield* sql<{ n: string }>`SELECT COUNT(*) AS n FROM ledger_entries WHERE idempotency_key = ${key}`
        assert.strictEqual(Number(entries[0]!.n), 1)
        assert.strictEqual((yield* ledger.balances(alice)).USD!.A, 93n)
      }))

    it.effect("20 concurrent opens of one new account: one creates it, all succeed", () =>
      Effect.gen(function* () {
        const ledger = yield* Ledger.Ledger
        // World accounts among them: the name sets may_go_negative, which has a unique key of its own.
        // The race is lost only sometimes, so it is run on sixteen new accounts.
        const accounts = Arr.makeBy(16, (i) => (i % 2 === 0 ? `world:race${uniqueKey("w").replace(/[^A-Za-z0-9]/g, "")}` : did("fresh")))
        for (const account of accounts) {
          const opened = yield* Effect.all(
            Arr.makeBy(20, () => ledger.openAccount({ account, currency: "USD" })),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(opened.filter((r) => r.created).length, 1)
          assert.deepStrictEqual((yield* ledger.balances(account)).USD, { A: 0n, H: 0n, B: 0n, F: 0n, P: 0n })
        }
        assert.isTrue((yield* ledger.reconcile).ok)
      }))

    it.effect("one new key sent at once with two different requests: one applies, the other is a conflict", () =>
      Effect.gen(function* () {
        const ledger = yield* Ledger.Ledger
        const [alice, bob, carol] = [did("alice"), did("bob"), did("carol")]
        yield* funded([[alice, 100n], [bob, 0n], [carol, 0n]])
        const key = uniqueKey("split")
        // Different accounts, so neither request waits on the other's balance locks: only the key
        // orders them, and the loser's INSERT of the key fails, is retried, and finds the key stored.
        const results = yield* Effect.all(
          Arr.makeBy(12, (i) =>
            Effect.either(ledger.transfer({ idempotencyKey: key, from: A(alice), to: A(i % 2 === 0 ? bob : carol), currency: "USD", amount: 7n }))),
          { concurrency: "unbounded" }
        )
        const succeeded = results.filter(Either.isRight).map((r) => r.right)
        const conflicts = results.filter(Either.isLeft).map((r) => r.left)
        assert.strictEqual(new Set(succeeded.map((r) => r.entryId)).size, 1)
        assert.strictEqual(succeeded.length, 6)
        assert.strictEqual(conflicts.length, 6)
        for (const error of conflicts) {
          assert.strictEqual(error._tag, "IdempotencyConflict")
          if (error._tag === "IdempotencyConflict") assert.strictEqual(error.field, "to.account")
        }
        const paid = (yield* ledger.balances(bob)).USD!.A + (yield* ledger.balances(carol)).USD!.A
        assert.strictEqual(paid, 7n)
        assert.strictEqual((yield* ledger.balances(alice)).USD!.A, 93n)
        assert.isTrue((yield* ledger.reconcile).ok)
      }))

    it.effect("history pages skip no posting when two transactions on one account commit out of posting-id order", () =>
      Effect.gen(function* () {
        const ledger = yield* Ledger.Ledger
        const sql = yield* SqlClient.SqlClient
        const [alice, bob, carol] = [did("alice"), did("bob"), did("carol")]
        yield* funded([[alice, 0n], [bob, 1_000n], [carol, 1_000n]])
        for (let i = 1n; i <= 3n; i++) {
          yield* ledger.transfer({ idempotencyKey: uniqueKey("pre"), from: A(carol), to: A(alice), currency: "USD", amount: i })
        }
        // The first writer takes its posting id on alice's B and stays open; the second pays alice's A.
        const wrote = yield* Deferred.make<void>()
        const finish = yield* Deferred.make<void>()
        const first = yield* Effect.fork(sql.withTransaction(Effect.gen(function* () {
          yield* ledger.transfer({ idempotencyKey: uniqueKey("slow"), from: A(bob), to: { account: alice, bucket: "B" }, currency: "USD", amount: 7n })
          yield* Deferred.succeed(wrote, undefined)
          yield* Deferred.await(finish)
        })))
        yield* Deferred.await(wrote)
        const second = yield* Effect.fork(
          ledger.transfer({ idempotencyKey: uniqueKey("fast"), from: A(carol), to: A(alice), currency: "USD", amount: 11n })
        )
        // Either the second commits, or it waits for the first (a lock wait on this database).
        const blocked = Effect.repeat(
          sql<{ n: string }>`SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          { schedule: Schedule.spaced("2 millis"), until: (rows) => Number(rows[0]!.n) > 0 }
        )
        yield* Effect.raceFirst(Effect.asVoid(Fiber.join(second)), Effect.asVoid(blocked))
        // A client reads its first page meanwhile, then the rest once both have committed.
        const seen: Array<string> = []
        let page = yield* ledger.history({ account: alice, limit: 2 })
        seen.push(...page.items.map((item) => item.cursor))
        yield* Deferred.succeed(finish, undefined)
        yield* Fiber.join(first)
        yield* Fiber.join(second)
        while (page.nextCursor !== null) {
          page = yield* ledger.history({ account: alice, limit: 2, cursor: page.nextCursor })
          seen.push(...page.items.map((item) => item.cursor))
        }
        const all = (yield* ledger.history({ account: alice, limit: 500 })).items.map((item) => item.cursor)
        assert.strictEqual(all.length, 5)
        const missed = all.filter((cursor) => !seen.includes(cursor))
        const newer = all.slice(0, all.indexOf(seen[0]!))
        assert.deepStrictEqual(missed.filter((cursor) => !newer.includes(cursor)), [], "only postings newer than the first page may be missing from the pages")
        assert.strictEqual(new Set(seen).size, seen.length, "no posting repeated")
      }))

    it.effect("an entry that waited for another's locks is dated after it: a month's statement never ends on the next month's money", () =>
      Effect.gen(function* () {
        const ledger = yield* Ledger.Ledger
        const sql = yield* SqlClient.SqlClient
        const [worker, first, second] = [did("worker"), did("payer"), did("payer")]
        yield* Effect.withClock(funded([[worker, 0n], [first, 1_000n], [second, 1_000n]]), clockAt(Date.UTC(2026, 0, 10)))
        const tip = (from: string, amount: bigint) =>
          ledger.transfer({ idempotencyKey: uniqueKey("tip"), kind: "tip_transfer", from: A(from), to: A(worker), currency: "USD", amount })
        // The first tip, at the start of February, holds the worker's balance while its transaction is open.
        const wrote = yield* Deferred.make<void>()
        const finish = yield* Deferred.make<void>()
        const february = yield* Effect.fork(Effect.withClock(sql.withTransaction(Effect.gen(function* () {
          yield* tip(first, 100n)
          yield* Deferred.succeed(wrote, undefined)
          yield* Deferred.await(finish)
        })), clockAt(Date.UTC(2026, 1, 1))))
        yield* Deferred.await(wrote)
        // The second is sent in the last millisecond of January and waits; the clock moves on meanwhile.
        let now = Date.UTC(2026, 0, 31, 23, 59, 59, 999)
        const moving: Clock.Clock = { ...clockAt(0), unsafeCurrentTimeMillis: () => now, get currentTimeMillis() { return Effect.sync(() => now) } }
        const late = yield* Effect.fork(Effect.withClock(tip(second, 10n), moving))
        yield* Effect.repeat(
          sql<{ n: string }>`SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          { schedule: Schedule.spaced("2 millis"), until: (rows) => Number(rows[0]!.n) > 0 }
        )
        now = Date.UTC(2026, 1, 1, 0, 0, 0, 1)
        yield* Deferred.succeed(finish, undefined)
        yield* Fiber.join(february)
        yield* Fiber.join(late)
        const jan = yield* ledger.statement({ did: worker, month: "2026-01" })
        const feb = yield* ledger.statement({ did: worker, month: "2026-02" })
        assert.deepStrictEqual([jan.tipsReceived, jan.endingBalance], [0n, 0n])
        assert.deepStrictEqual([feb.tipsReceived, feb.endingBalance], [110n, 110n])
      }))

    it.effect("many workers moving money both ways between hot accounts: balances net out, no update lost", () =>
      Effect.gen(function* () {
        const ledger = yield* Ledger.Ledger
        const hot = [did("hot"), did("hot"), did("hot"), did("hot")]
        yield* funded(hot.map((account) => [account, 1_000n] as const))
        const expected = new Map(hot.map((account) => [account, 1_000n]))
        const moves = Arr.makeBy(200, (i) => {
          const from = hot[i % hot.length]!
          const to = hot[(i * 7 + 1 + Math.floor(i / hot.length)) % hot.length]!
          return { from, to: to === from ? hot[(hot.indexOf(from) + 1) % hot.length]! : to, amount: BigInt(1 + (i % 13)) }
        })
        const results = yield* Effect.all(
          moves.map((move) =>
            Effect.either(ledger.transfer({ idempotencyKey: uniqueKey("hot"), from: A(move.from), to: A(move.to), currency: "USD", amount: move.amount }))),
          { concurrency: 16 }
        )
        results.forEach((result, i) => {
          if (Either.isRight(result)) {
            const move = moves[i]!
            expected.set(move.from, expected.get(move.from)! - move.amount)
            expected.set(move.to, expected.get(move.to)! + move.amount)
          }
        })
        let total = 0n
        for (const account of hot) {
          const balance = (yield* ledger.balances(account)).USD!.A
          assert.strictEqual(balance, expected.get(account))
          total += balance
        }
        assert.strictEqual(total, 4_000n)
        assert.isTrue(results.filter(Either.isRight).length > 150, "most moves succeed")
        assert.isTrue((yield* ledger.reconcile).ok)
      }))
  })
})
