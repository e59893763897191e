/**
 * The ledger conformance suite: one function of `it`, applied to SQLite and to PostgreSQL.
 * Each test opens its own accounts, so tests share one database per dialect.
 */
import { assert, type Vitest } from "@effect/vitest"
import { ErrorCatalogue, Money } from "@clawbounties/domain"
import { Ledger } from "@clawbounties/ledger"
import { SqlClient } from "@effect/sql"
import { Effect, Either } from "effect"
import { clockAt, did, funded, idempotencyRows, snapshot, uniqueKey } from "./helpers.js"

type It = Vitest.MethodsNonLive<Ledger.Ledger | SqlClient.SqlClient, true>

/** Compares errors by tag and fields (deep equality on Effect error instances recurses forever). */
const sameError = (actual: unknown, expected: unknown) =>
  assert.deepStrictEqual({ ...(actual as object) }, { ...(expected as object) })

const A = (account: string) => ({ account, bucket: "A" as const })

/** Runs `effect`, expects failure with `tag`, and checks that no row changed. */
const rejectsUnchanged = <E extends { readonly _tag: string }>(effect: Effect.Effect<unknown, E | unknown>, tag: string) =>
  Effect.gen(function* () {
    const before = yield* snapshot
    const result = yield* Effect.either(effect)
    assert.isTrue(Either.isLeft(result), `expected ${tag}`)
    const error = (result as Either.Left<{ _tag: string }, unknown>).left
    assert.strictEqual(error._tag, tag)
    assert.strictEqual(yield* snapshot, before, "a rejected operation must leave every row as it was")
    return error as unknown as E
  })

/** Runs `effect` (direct SQL) with the append-only guard on ledger_postings lifted: corruption no code path can cause. */
const unguarded = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const lift = sql.onDialectOrElse({
      pg: () => [sql`ALTER TABLE ledger_postings DISABLE TRIGGER ledger_postings_append_only`],
      orElse: () => [sql`DROP TRIGGER ledger_postings_no_update`]
    })
    const restore = sql.onDialectOrElse({
      pg: () => [sql`ALTER TABLE ledger_postings ENABLE TRIGGER ledger_postings_append_only`],
      orElse: () => [sql.unsafe(`CREATE TRIGGER ledger_postings_no_update BEFORE UPDATE ON ledger_postings
        BEGIN SELECT RAISE(ABORT, 'ledger_postings is append-only'); END`)]
    })
    return yield* Effect.acquireUseRelease(Effect.all(lift), () => effect, () => Effect.orDie(Effect.all(restore)))
  })

export const ledgerSuite = (it: It) => {
  it.effect("mint and transfer move money, with balance_after on each posting", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const [alice, bob] = [did("alice"), did("bob")]
      yield* funded([[alice, 1000n], [bob, 0n]])
      const result = yield* ledger.transfer({
        idempotencyKey: uniqueKey("t"),
        from: A(alice),
        to: A(bob),
        currency: "USD",
        amount: 300n,
        metadata: { reason: "test" }
      })
      assert.strictEqual(result.kind, "transfer")
      assert.deepStrictEqual(result.postings.map((p) => [p.account, p.bucket, p.amount, p.balanceAfter]), [
        [alice, "A", -300n, 700n],
        [bob, "A", 300n, 300n]
      ])
      assert.deepStrictEqual((yield* ledger.balances(alice)).USD, { A: 700n, H: 0n, B: 0n, F: 0n, P: 0n })
      assert.deepStrictEqual((yield* ledger.balances(bob)).USD, { A: 300n, H: 0n, B: 0n, F: 0n, P: 0n })
      assert.isTrue((yield* ledger.reconcile).ok)
    }))

  it.effect("opening an account twice is a no-op", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const carol = did("carol")
      yield* funded([[carol, 50n]])
      const again = yield* ledger.openAccount({ account: carol, currency: "USD" })
      assert.isFalse(again.created)
      assert.strictEqual((yield* ledger.balances(carol)).USD!.A, 50n)
      const bad = yield* Effect.either(ledger.openAccount({ account: "nonsense", currency: "USD" }))
      assert.isTrue(Either.isLeft(bad) && bad.left._tag === "InvalidAccount")
    }))

  it.effect("same key and same request returns the original result; a different request is IDEMPOTENCY_CONFLICT naming the field", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const [alice, bob, dave] = [did("alice"), did("bob"), did("dave")]
      yield* funded([[alice, 1000n], [bob, 0n], [dave, 0n]])
      const key = uniqueKey("idem")
      const input = { idempotencyKey: key, from: A(alice), to: A(bob), currency: "USD", amount: 100n, metadata: { b: 1, a: "x" } }
      const first = yield* ledger.transfer(input)
      // Metadata key order does not matter: the canonical request sorts it.
      const second = yield* ledger.transfer({ ...input, metadata: { a: "x", b: 1 } })
      assert.deepStrictEqual(second, first)
      assert.strictEqual((yield* ledger.balances(alice)).USD!.A, 900n)

      const conflict = (change: Partial<Ledger.TransferInput>, field: string) =>
        Effect.gen(function* () {
          const error = yield* rejectsUnchanged(ledger.transfer({ ...input, ...change }), "IdempotencyConflict")
          sameError(error, new ErrorCatalogue.IdempotencyConflict({ key, field }))
        })
      yield* conflict({ amount: 101n }, "amount")
      yield* conflict({ to: A(dave) }, "to.account")
      yield* conflict({ from: { account: alice, bucket: "P" } }, "from.bucket")
      yield* conflict({ metadata: { a: "y", b: 1 } }, "metadata.a")
      yield* conflict({ kind: "tip_transfer" }, "kind")
      const asHold = yield* Effect.either(ledger.hold({ idempotencyKey: key, account: alice, currency: "USD", amount: 100n }))
      assert.isTrue(Either.isLeft(asHold) && asHold.left._tag === "IdempotencyConflict" && asHold.left.field === "op")
      const rows = yield* idempotencyRows(key)
      assert.strictEqual(rows.length, 1)
      assert.strictEqual(rows[0]!.entry_id, first.entryId)
    }))

  it.effect("INSUFFICIENT_FUNDS is stored: a retry with the same key fails again even after a top-up", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const [alice, bob] = [did("alice"), did("bob")]
      yield* funded([[alice, 100n], [bob, 0n]])
      const key = uniqueKey("nsf")
      const input = { idempotencyKey: key, from: A(alice), to: A(bob), currency: "USD", amount: 150n }
      const error = yield* rejectsUnchanged(ledger.transfer(input), "InsufficientFunds")
      sameError(error, new ErrorCatalogue.InsufficientFunds({ account: alice, bucket: "A", available: 100n, requested: 150n }))
      assert.deepStrictEqual((yield* idempotencyRows(key)).map((r) => r.outcome), ["failed"])
      yield* ledger.mint({ idempotencyKey: uniqueKey("topup"), world: "world:test", account: alice, currency: "USD", amount: 100n })
      const retry = yield* Effect.either(ledger.transfer(input))
      assert.isTrue(Either.isLeft(retry))
      sameError((retry as Either.Left<unknown, unknown>).left, error)
      const fresh = yield* ledger.transfer({ ...input, idempotencyKey: uniqueKey("nsf2") })
      assert.strictEqual(fresh.postings[0]!.balanceAfter, 50n)
    }))

  it.effect("UNKNOWN_ACCOUNT: transfers never open accounts, and the failure is remembered", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const [alice, ghost] = [did("alice"), did("ghost")]
      yield* funded([[alice, 100n]])
      const input = { idempotencyKey: uniqueKey("ghost"), from: A(alice), to: A(ghost), currency: "USD", amount: 10n }
      const error = yield* rejectsUnchanged(ledger.transfer(input), "UnknownAccount")
      sameError(error, new ErrorCatalogue.UnknownAccount({ account: ghost, currency: "USD" }))
      yield* ledger.openAccount({ account: ghost, currency: "USD" })
      const retry = yield* Effect.either(ledger.transfer(input))
      assert.isTrue(Either.isLeft(retry) && retry.left._tag === "UnknownAccount")
      // Balances name no currency: the account is open in none, and the error says no more than that.
      const nobody = did("nobody")
      const balances = yield* Effect.flip(ledger.balances(nobody))
      sameError(balances, new ErrorCatalogue.UnknownAccount({ account: nobody }))
      assert.deepStrictEqual(ErrorCatalogue.toWire(new ErrorCatalogue.UnknownAccount({ account: nobody })).body.details, { account: nobody })
    }))

  it.effect("CURRENCY_MISMATCH: an account open in EUR only cannot take USD", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const [alice, euro] = [did("alice"), did("euro")]
      yield* funded([[alice, 100n]])
      yield* ledger.openAccount({ account: euro, currency: "EUR" })
      const error = yield* rejectsUnchanged(
        ledger.transfer({ idempotencyKey: uniqueKey("fx"), from: A(alice), to: A(euro), currency: "USD", amount: 10n }),
        "CurrencyMismatch"
      )
      sameError(error, new ErrorCatalogue.CurrencyMismatch({ account: euro, currency: "USD", accountCurrencies: ["EUR"] }))
    }))

  it.effect("AMOUNT_OUT_OF_RANGE and other invalid requests are rejected before any write and not stored", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const [alice, bob] = [did("alice"), did("bob")]
      yield* funded([[alice, 100n], [bob, 0n]])
      for (const amount of [0n, -5n, Money.MAX_AMOUNT_MINOR + 1n]) {
        const key = uniqueKey("range")
        const error = yield* rejectsUnchanged(
          ledger.transfer({ idempotencyKey: key, from: A(alice), to: A(bob), currency: "USD", amount }),
          "AmountOutOfRange"
        )
        sameError(error, new ErrorCatalogue.AmountOutOfRange({ field: "amount", amount, min: 1n, max: Money.MAX_AMOUNT_MINOR }))
        assert.strictEqual((yield* idempotencyRows(key)).length, 0)
      }
      const reserved = yield* rejectsUnchanged(
        ledger.transfer({ idempotencyKey: uniqueKey("h"), from: A(alice), to: { account: bob, bucket: "H" }, currency: "USD", amount: 1n }),
        "InvalidPosting"
      )
      assert.strictEqual((reserved as ErrorCatalogue.InvalidPosting).reason, "reserved_bucket")
      const same = yield* rejectsUnchanged(
        ledger.transfer({ idempotencyKey: uniqueKey("s"), from: A(alice), to: A(alice), currency: "USD", amount: 1n }),
        "InvalidPosting"
      )
      assert.strictEqual((same as ErrorCatalogue.InvalidPosting).reason, "same_location")
      yield* rejectsUnchanged(
        ledger.post({ idempotencyKey: uniqueKey("u"), kind: "transfer", currency: "USD", legs: [{ ...A(alice), amount: -10n }, { ...A(bob), amount: 9n }] }),
        "UnbalancedEntry"
      )
      yield* rejectsUnchanged(
        ledger.mint({ idempotencyKey: uniqueKey("m"), world: alice, account: bob, currency: "USD", amount: 1n }),
        "InvalidAccount"
      )
      // Keys a store could not keep as sent: U+0000 (PostgreSQL refuses it), an unpaired surrogate
      // (stored as U+FFFD, so "s\ud800" and "s\ud801" would be one key), control characters.
      for (const key of [`${uniqueKey("nul")}\u0000`, `${uniqueKey("lone")}\ud800`, `${uniqueKey("tab")}\t`, "x".repeat(256), ""]) {
        yield* rejectsUnchanged(ledger.transfer({ idempotencyKey: key, from: A(alice), to: A(bob), currency: "USD", amount: 1n }), "InvalidRequest")
      }
      yield* rejectsUnchanged(ledger.voidHold({ idempotencyKey: uniqueKey("v"), holdId: "hld_\u0000" }), "InvalidRequest")
      assert.strictEqual((yield* ledger.history({ account: alice, limit: Number.NaN })).items.length > 0, true)
      yield* rejectsUnchanged(
        ledger.transfer({ idempotencyKey: uniqueKey("c"), from: A(alice), to: A(bob), currency: "usd", amount: 1n }),
        "UnsupportedCurrency"
      )
      yield* rejectsUnchanged(
        ledger.transfer({ idempotencyKey: "", from: A(alice), to: A(bob), currency: "USD", amount: 1n }),
        "InvalidRequest"
      )
    }))

  it.effect("holds: release to several destinations returns the rest, and resolves exactly once", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const [buyer, worker] = [did("buyer"), did("worker")]
      yield* funded([[buyer, 1000n], [worker, 0n]])
      yield* ledger.openAccount({ account: "platform:fees", currency: "USD" })
      const held = yield* ledger.hold({ idempotencyKey: uniqueKey("hold"), account: buyer, currency: "USD", amount: 600n, metadata: { escrowId: "esc_1" } })
      assert.deepStrictEqual(held.hold, { ...held.hold, account: buyer, amount: 600n, remaining: 600n, status: "open", resolvedEntryId: null })
      assert.deepStrictEqual((yield* ledger.balances(buyer)).USD, { A: 400n, H: 600n, B: 0n, F: 0n, P: 0n })
      const releaseKey = uniqueKey("release")
      const release = {
        idempotencyKey: releaseKey,
        holdId: held.hold.id,
        destinations: [{ ...A(worker), amount: 450n }, { account: "platform:fees", bucket: "F" as const, amount: 50n }]
      }
      const released = yield* ledger.releaseHold(release)
      assert.strictEqual(released.released, 500n)
      assert.strictEqual(released.returned, 100n)
      assert.strictEqual(released.hold.status, "released")
      assert.strictEqual(released.hold.remaining, 0n)
      assert.deepStrictEqual((yield* ledger.balances(buyer)).USD, { A: 500n, H: 0n, B: 0n, F: 0n, P: 0n })
      assert.strictEqual((yield* ledger.balances(worker)).USD!.A, 450n)
      assert.deepStrictEqual(yield* ledger.releaseHold(release), released)
      const again = yield* rejectsUnchanged(ledger.releaseHold({ ...release, idempotencyKey: uniqueKey("again") }), "HoldAlreadyResolved")
      sameError(again, new ErrorCatalogue.HoldAlreadyResolved({ holdId: held.hold.id, status: "released" }))
      yield* rejectsUnchanged(ledger.voidHold({ idempotencyKey: uniqueKey("void"), holdId: held.hold.id }), "HoldAlreadyResolved")
      assert.deepStrictEqual(yield* ledger.getHold(held.hold.id), released.hold)
      yield* rejectsUnchanged(ledger.voidHold({ idempotencyKey: uniqueKey("void"), holdId: "hld_nothere" }), "HoldNotFound")
      assert.isTrue((yield* ledger.reconcile).ok)
    }))

  it.effect("HOLD_OVERSPENT: a release spends only its own hold, never another hold in the same H", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const [buyer, worker] = [did("buyer"), did("worker")]
      yield* funded([[buyer, 1000n], [worker, 0n]])
      const first = yield* ledger.hold({ idempotencyKey: uniqueKey("h1"), account: buyer, currency: "USD", amount: 100n })
      const second = yield* ledger.hold({ idempotencyKey: uniqueKey("h2"), account: buyer, currency: "USD", amount: 50n })
      assert.strictEqual((yield* ledger.balances(buyer)).USD!.H, 150n)
      const error = yield* rejectsUnchanged(
        ledger.releaseHold({ idempotencyKey: uniqueKey("r"), holdId: second.hold.id, destinations: [{ ...A(worker), amount: 60n }] }),
        "HoldOverspent"
      )
      sameError(error, new ErrorCatalogue.HoldOverspent({ holdId: second.hold.id, remaining: 50n, requested: 60n }))
      const voided = yield* ledger.voidHold({ idempotencyKey: uniqueKey("v"), holdId: first.hold.id })
      assert.strictEqual(voided.hold.status, "voided")
      assert.strictEqual(voided.returned, 100n)
      assert.deepStrictEqual((yield* ledger.balances(buyer)).USD, { A: 950n, H: 50n, B: 0n, F: 0n, P: 0n })
      assert.isTrue((yield* ledger.reconcile).ok)
    }))

  it.effect("stakes, fees and promo credit use their buckets", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const [worker, requester] = [did("worker"), did("requester")]
      yield* funded([[worker, 500n], [requester, 0n]])
      yield* ledger.openAccount({ account: "platform:fees", currency: "USD" })
      yield* ledger.stakeLock({ idempotencyKey: uniqueKey("sl"), account: worker, currency: "USD", amount: 200n })
      yield* ledger.stakeRelease({ idempotencyKey: uniqueKey("sr"), account: worker, currency: "USD", amount: 50n })
      yield* ledger.stakeSlash({ idempotencyKey: uniqueKey("ss"), account: worker, to: A(requester), currency: "USD", amount: 100n })
      yield* ledger.feeTransfer({ idempotencyKey: uniqueKey("fee"), from: A(worker), to: "platform:fees", currency: "USD", amount: 25n })
      yield* ledger.promoMint({ idempotencyKey: uniqueKey("pm"), world: "world:test", account: worker, currency: "USD", amount: 70n })
      yield* ledger.promoBurn({ idempotencyKey: uniqueKey("pb"), world: "world:test", account: worker, currency: "USD", amount: 20n })
      assert.deepStrictEqual((yield* ledger.balances(worker)).USD, { A: 325n, H: 0n, B: 50n, F: 0n, P: 50n })
      assert.strictEqual((yield* ledger.balances(requester)).USD!.A, 100n)
      yield* rejectsUnchanged(
        ledger.stakeSlash({ idempotencyKey: uniqueKey("ss2"), account: worker, to: A(requester), currency: "USD", amount: 51n }),
        "InsufficientFunds"
      )
      assert.isTrue((yield* ledger.reconcile).ok)
    }))

  it.effect("world accounts may go negative; other balances cannot, even by direct SQL (CHECK)", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const sql = yield* SqlClient.SqlClient
      const alice = did("alice")
      yield* funded([[alice, 10n]])
      yield* ledger.openAccount({ account: "world:neg", currency: "USD" })
      yield* ledger.mint({ idempotencyKey: uniqueKey("neg"), world: "world:neg", account: alice, currency: "USD", amount: 5n })
      assert.strictEqual((yield* ledger.balances("world:neg")).USD!.A, -5n)
      const direct = yield* Effect.either(sql`UPDATE ledger_balances SET amount = -1 WHERE account = ${alice} AND bucket = 'A'`)
      assert.isTrue(Either.isLeft(direct), "the CHECK constraint must reject a negative balance")
      const edit = yield* Effect.either(sql`UPDATE ledger_postings SET amount = 1 WHERE account = ${alice}`)
      assert.isTrue(Either.isLeft(edit), "postings are append-only")
      assert.strictEqual((yield* ledger.balances(alice)).USD!.A, 15n)
    }))

  it.effect("composes inside a caller's transaction: the caller's rollback undoes the postings and the key", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const sql = yield* SqlClient.SqlClient
      const [alice, bob] = [did("alice"), did("bob")]
      yield* funded([[alice, 100n], [bob, 0n]])
      const key = uniqueKey("nested")
      const move = ledger.transfer({ idempotencyKey: key, from: A(alice), to: A(bob), currency: "USD", amount: 40n })
      const rolledBack = yield* Effect.either(sql.withTransaction(Effect.zipRight(move, Effect.fail("caller failed" as const))))
      assert.isTrue(Either.isLeft(rolledBack))
      assert.strictEqual((yield* ledger.balances(alice)).USD!.A, 100n)
      assert.strictEqual((yield* idempotencyRows(key)).length, 0)
      // A business failure inside the caller's transaction leaves the caller free to carry on.
      const both = yield* sql.withTransaction(Effect.gen(function* () {
        const nsf = yield* Effect.either(ledger.transfer({ idempotencyKey: uniqueKey("nsf"), from: A(alice), to: A(bob), currency: "USD", amount: 1000n }))
        const moved = yield* move
        return [nsf, moved] as const
      }))
      assert.isTrue(Either.isLeft(both[0]))
      assert.strictEqual(both[1].postings[1]!.balanceAfter, 40n)
      assert.strictEqual((yield* ledger.balances(bob)).USD!.A, 40n)
    }))

  it.effect("batch: items succeed or fail on their own, in order, in one transaction", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const [alice, bob] = [did("alice"), did("bob")]
      yield* funded([[alice, 100n], [bob, 0n]])
      const k1 = uniqueKey("b1")
      const t = (key: string, amount: bigint) =>
        ({ op: "transfer", idempotencyKey: key, from: A(alice), to: A(bob), currency: "USD", amount }) as const
      const items = yield* ledger.batch([
        t(k1, 60n),
        t(uniqueKey("b2"), 60n), // only 40 left
        t(uniqueKey("b3"), 40n),
        t(k1, 60n), // the same key again in the batch: the first item's result
        t(k1, 61n), // the same key, another request
        { op: "transfer", idempotencyKey: uniqueKey("b6"), from: A(alice), to: A(bob), currency: "USD", amount: 0n }
      ])
      assert.deepStrictEqual(items.map((item) => (Either.isRight(item) ? "ok" : item.left._tag)), [
        "ok", "InsufficientFunds", "ok", "ok", "IdempotencyConflict", "AmountOutOfRange"
      ])
      assert.deepStrictEqual(items[3], items[0])
      assert.deepStrictEqual((yield* ledger.balances(alice)).USD!.A, 0n)
      assert.deepStrictEqual((yield* ledger.balances(bob)).USD!.A, 100n)
      const replay = yield* ledger.batch([t(k1, 60n)])
      assert.deepStrictEqual(replay[0], items[0])
      // A stored key is judged against its stored request, even after a conflicting use in the batch.
      const after = yield* ledger.batch([t(k1, 61n), t(k1, 60n)])
      assert.deepStrictEqual(after.map((item) => (Either.isRight(item) ? "ok" : item.left._tag)), ["IdempotencyConflict", "ok"])
      assert.deepStrictEqual(after[1], items[0])
    }))

  it.effect("a batch past one statement's rows (2,000) reads, locks and writes in parts, each item once", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const sql = yield* SqlClient.SqlClient
      const size = 513
      const accounts = Array.from({ length: size }, () => did("many"))
      yield* sql.withTransaction(funded(accounts.map((account) => [account, 0n] as const)))
      const minted = yield* ledger.batch(accounts.map((account) =>
        ({ op: "mint", idempotencyKey: uniqueKey("m"), world: "world:test", account, currency: "USD", amount: 10n }) as const))
      assert.isTrue(minted.every(Either.isRight))
      // Each account moves 1 from A to its B, F and P, and 1 to the next account's A: 2,052 keys
      // over 2,052 balance rows, both past one part.
      const transfers = accounts.flatMap((account, i) =>
        (["B", "F", "P", "next"] as const).map((to) => ({
          op: "transfer",
          idempotencyKey: uniqueKey("t"),
          from: A(account),
          to: to === "next" ? A(accounts[(i + 1) % size]!) : { account, bucket: to },
          currency: "USD",
          amount: 1n
        }) as const))
      const moved = yield* ledger.batch(transfers)
      assert.isTrue(moved.every(Either.isRight))
      const count = sql<{ n: number }>`SELECT COUNT(*) AS n FROM ledger_entries`
      const entriesBefore = Number((yield* count)[0]!.n)
      // The same operations again, and one new one after them: replays, then one new entry.
      const again = yield* ledger.batch([...transfers, { ...transfers[3]!, idempotencyKey: uniqueKey("t") }])
      assert.deepStrictEqual(again.slice(0, transfers.length), moved)
      assert.isTrue(Either.isRight(again[transfers.length]!))
      assert.strictEqual(Number((yield* count)[0]!.n), entriesBefore + 1)
      assert.deepStrictEqual((yield* ledger.balances(accounts[0]!)).USD, { A: 6n, H: 0n, B: 1n, F: 1n, P: 1n })
      assert.deepStrictEqual((yield* ledger.balances(accounts[1]!)).USD, { A: 8n, H: 0n, B: 1n, F: 1n, P: 1n })
      assert.deepStrictEqual((yield* ledger.balances(accounts[2]!)).USD, { A: 7n, H: 0n, B: 1n, F: 1n, P: 1n })
      assert.isTrue((yield* ledger.reconcile).ok)
    }))

  it.effect("history pages newest first with a cursor", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const [alice, bob] = [did("alice"), did("bob")]
      yield* funded([[alice, 100n], [bob, 0n]])
      for (let i = 1n; i <= 4n; i++) {
        yield* ledger.transfer({ idempotencyKey: uniqueKey("hist"), from: A(alice), to: A(bob), currency: "USD", amount: i, metadata: { n: Number(i) } })
      }
      const seen: Array<bigint> = []
      let cursor: string | undefined
      let pages = 0
      do {
        const page = yield* ledger.history({ account: alice, limit: 2, cursor })
        seen.push(...page.items.map((item) => item.amount))
        cursor = page.nextCursor ?? undefined
        pages++
      } while (cursor !== undefined)
      assert.deepStrictEqual(seen, [-4n, -3n, -2n, -1n, 100n])
      assert.strictEqual(pages, 3)
      const latest = (yield* ledger.history({ account: alice, limit: 1 })).items[0]!
      assert.deepStrictEqual([latest.balanceAfter, latest.metadata], [90n, { n: 4 }])
      // A cursor it did not return is refused: silently restarting at page 1 would loop a client forever.
      for (const forged of ["abc", "-1", "0", "01", "1.5", "9".repeat(19), ""]) {
        const error = yield* Effect.flip(ledger.history({ account: alice, cursor: forged }))
        assert.strictEqual(error._tag, "InvalidRequest", forged)
      }
      // A `__proto__` metadata key (JSON.parse makes it an own property) is kept like any other.
      const metadata = JSON.parse('{"__proto__":"kept"}') as Record<string, string>
      yield* ledger.transfer({ idempotencyKey: uniqueKey("hist"), from: A(alice), to: A(bob), currency: "USD", amount: 1n, metadata })
      assert.strictEqual(JSON.stringify((yield* ledger.history({ account: alice, limit: 1 })).items[0]!.metadata), '{"__proto__":"kept"}')
    }))

  it.effect("monthly statement: earned, fees, tips, payouts, ending balance, line items (spec A3.6)", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const [buyer, worker] = [did("buyer"), did("worker")]
      const feb = Date.UTC(2026, 1, 3, 10)
      const mar = Date.UTC(2026, 2, 2)
      yield* Effect.withClock(Effect.gen(function* () {
        yield* funded([[buyer, 100_000n], [worker, 0n]])
        yield* ledger.openAccount({ account: "platform:fees", currency: "USD" })
        const held = yield* ledger.hold({ idempotencyKey: uniqueKey("h"), account: buyer, currency: "USD", amount: 31_500n })
        yield* ledger.releaseHold({
          idempotencyKey: uniqueKey("r"),
          holdId: held.hold.id,
          destinations: [{ ...A(worker), amount: 30_000n }, { account: "platform:fees", bucket: "F", amount: 1_500n }],
          metadata: { bountyId: "bty_123", escrowId: "esc_123" }
        })
        yield* ledger.transfer({ idempotencyKey: uniqueKey("tip"), kind: "tip_transfer", from: A(buyer), to: A(worker), currency: "USD", amount: 500n })
        yield* ledger.transfer({ idempotencyKey: uniqueKey("tip2"), kind: "tip_transfer", from: A(worker), to: A(buyer), currency: "USD", amount: 200n })
        yield* ledger.feeTransfer({ idempotencyKey: uniqueKey("fee"), from: A(worker), to: "platform:fees", currency: "USD", amount: 300n })
        const payout = yield* ledger.hold({ idempotencyKey: uniqueKey("po"), kind: "payout_lock", account: worker, currency: "USD", amount: 25_000n })
        yield* ledger.releaseHold({ idempotencyKey: uniqueKey("ps"), kind: "payout_settle", holdId: payout.hold.id, destinations: [{ ...A("world:test"), amount: 25_000n }] })
      }), clockAt(feb))
      yield* Effect.withClock(
        ledger.transfer({ idempotencyKey: uniqueKey("late"), kind: "tip_transfer", from: A(buyer), to: A(worker), currency: "USD", amount: 999n }),
        clockAt(mar)
      )
      const statement = yield* ledger.statement({ did: worker, month: "2026-02" })
      assert.deepStrictEqual(
        { gross: statement.grossEarned, fees: statement.feesPaid, net: statement.netEarned, tipsIn: statement.tipsReceived, tipsOut: statement.tipsPaid, payouts: statement.payouts, ending: statement.endingBalance },
        { gross: 30_000n, fees: 300n, net: 29_700n, tipsIn: 500n, tipsOut: 200n, payouts: 25_000n, ending: 5_000n }
      )
      assert.deepStrictEqual(statement.lineItems.map((line) => [line.type, line.amount]), [
        ["bounty_payment", 30_000n], ["tip_received", 500n], ["tip_paid", -200n], ["platform_fee", -300n], ["payout", -25_000n]
      ])
      assert.deepStrictEqual(statement.lineItems[0]!.metadata, { bountyId: "bty_123", escrowId: "esc_123" })
      assert.strictEqual(statement.lineItems[0]!.timestamp, "2026-02-03T10:00:00.000Z")
      const buyerStatement = yield* ledger.statement({ did: buyer, month: "2026-02" })
      assert.strictEqual(buyerStatement.grossEarned, 0n, "the buyer's own escrow is not earnings")
      // The buyer's release is what the worker got and the fee it paid, as two lines.
      assert.strictEqual(buyerStatement.feesPaid, 1_500n)
      assert.deepStrictEqual(buyerStatement.lineItems.map((line) => [line.type, line.amount]), [
        ["deposit", 100_000n], ["bounty_paid", -30_000n], ["platform_fee", -1_500n], ["tip_paid", -500n], ["tip_received", 200n]
      ])
      const march = yield* ledger.statement({ did: worker, month: "2026-03" })
      assert.deepStrictEqual([march.tipsReceived, march.endingBalance], [999n, 5_999n])
      const bad = yield* Effect.either(ledger.statement({ did: worker, month: "2026-13" }))
      assert.isTrue(Either.isLeft(bad) && bad.left._tag === "InvalidRequest")
    }))

  it.effect("a statement shows adjustments as their own lines, counted in neither payouts nor deposits", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const worker = did("adjusted")
      yield* Effect.withClock(Effect.gen(function* () {
        yield* funded([[worker, 1_000n]])
        yield* ledger.openAccount({ account: "world:manual", currency: "USD" })
        yield* ledger.mint({ idempotencyKey: uniqueKey("adj+"), kind: "adjustment", world: "world:manual", account: worker, currency: "USD", amount: 50n })
        yield* ledger.burn({ idempotencyKey: uniqueKey("adj-"), kind: "adjustment", account: worker, world: "world:manual", currency: "USD", amount: 30n })
        yield* ledger.burn({ idempotencyKey: uniqueKey("out"), account: worker, world: "world:test", currency: "USD", amount: 100n })
      }), clockAt(Date.UTC(2026, 4, 2)))
      const statement = yield* ledger.statement({ did: worker, month: "2026-05" })
      assert.deepStrictEqual(statement.lineItems.map((line) => [line.type, line.kind, line.amount]), [
        ["deposit", "mint", 1_000n], ["adjustment", "adjustment", 50n], ["adjustment", "adjustment", -30n], ["payout", "burn", -100n]
      ])
      assert.deepStrictEqual([statement.payouts, statement.endingBalance], [100n, 920n])
    }))

  it.effect("a statement covers the month it names, whatever its year (0070-01 is not 1970-01)", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const early = did("early")
      yield* Effect.withClock(funded([[early, 700n]]), clockAt(Date.UTC(1970, 0, 5)))
      assert.strictEqual((yield* ledger.statement({ did: early, month: "1970-01" })).lineItems.length, 1)
      const ancient = yield* ledger.statement({ did: early, month: "0070-01" })
      assert.deepStrictEqual([ancient.lineItems.length, ancient.endingBalance], [0, 0n])
    }))

  it.effect("reconcile reports each discrepancy, and is clean again once repaired", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const sql = yield* SqlClient.SqlClient
      const alice = did("alice")
      yield* funded([[alice, 100n]])
      const held = yield* ledger.hold({ idempotencyKey: uniqueKey("h"), account: alice, currency: "USD", amount: 30n })
      assert.isTrue((yield* ledger.reconcile).ok)
      yield* sql`UPDATE ledger_balances SET amount = amount + 7 WHERE account = ${alice} AND bucket = 'A'`
      const broken = yield* ledger.reconcile
      assert.isFalse(broken.ok)
      assert.deepStrictEqual([...new Set(broken.discrepancies.map((d) => d.kind))].sort(), ["balance_differs_from_postings", "total_not_zero"])
      yield* sql`UPDATE ledger_balances SET amount = amount - 7 WHERE account = ${alice} AND bucket = 'A'`
      yield* sql`UPDATE ledger_holds SET amount = 31, remaining = 31 WHERE id = ${held.hold.id}`
      const holds = yield* ledger.reconcile
      assert.deepStrictEqual(holds.discrepancies.map((d) => d.kind), ["held_differs_from_open_holds"])
      yield* sql`UPDATE ledger_holds SET amount = 30, remaining = 30 WHERE id = ${held.hold.id}`
      assert.isTrue((yield* ledger.reconcile).ok)
      // Balances corrupted to values near 2^63: their sum leaves a 64-bit integer, and is still reported.
      const max = 9_223_372_036_854_775_807n
      yield* sql`UPDATE ledger_balances SET amount = ${max} WHERE account = ${alice} AND bucket IN ('B', 'F')`
      const huge = yield* ledger.reconcile
      assert.deepStrictEqual(huge.discrepancies.map((d) => d.kind).sort(), [
        "balance_differs_from_postings", "balance_differs_from_postings", "total_not_zero"
      ])
      assert.include(huge.discrepancies.find((d) => d.kind === "total_not_zero")!.detail, `USD: balances sum to ${2n * max}`)
      yield* sql`UPDATE ledger_balances SET amount = 0 WHERE account = ${alice} AND bucket IN ('B', 'F')`
      assert.isTrue((yield* ledger.reconcile).ok)
    }))
  it.effect("reconcile reports postings corrupted to values near 2^63 instead of failing on the sums", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const sql = yield* SqlClient.SqlClient
      const alice = did("alice")
      yield* funded([[alice, 100n]])
      yield* ledger.mint({ idempotencyKey: uniqueKey("more"), world: "world:test", account: alice, currency: "USD", amount: 5n })
      const first = (yield* sql<{ id: unknown; entry_id: string }>`
        SELECT id, entry_id FROM ledger_postings WHERE account = ${alice} ORDER BY id LIMIT 1`)[0]!
      const max = 9_223_372_036_854_775_807n
      yield* unguarded(sql`UPDATE ledger_postings SET amount = ${max}, balance_after = ${max} WHERE id = ${first.id}`)
      const report = yield* ledger.reconcile
      const kinds = report.discrepancies.map((d) => d.kind).sort()
      assert.deepStrictEqual(kinds, ["balance_after_chain_broken", "balance_differs_from_postings", "entry_not_balanced"])
      const detail = (kind: string) => report.discrepancies.find((d) => d.kind === kind)!.detail
      assert.include(detail("balance_differs_from_postings"), `${alice}/USD/A: balance 105, postings sum to ${max + 5n}`)
      assert.include(detail("entry_not_balanced"), `${first.entry_id}: 2 postings summing to ${max - 100n}`)
      assert.include(detail("balance_after_chain_broken"), `on ${alice}/USD/A: 105 after ${max} + 5`)
      yield* unguarded(sql`UPDATE ledger_postings SET amount = 100, balance_after = 100 WHERE id = ${first.id}`)
      assert.isTrue((yield* ledger.reconcile).ok)
      // Two open holds corrupted to 2^63 - 1 each: their sum is still reported against H.
      const holds = [
        yield* ledger.hold({ idempotencyKey: uniqueKey("h"), account: alice, currency: "USD", amount: 1n }),
        yield* ledger.hold({ idempotencyKey: uniqueKey("h"), account: alice, currency: "USD", amount: 2n })
      ].map((held) => held.hold.id)
      yield* sql`UPDATE ledger_holds SET amount = ${max}, remaining = ${max} WHERE id IN ${sql.in(holds)}`
      const held = yield* ledger.reconcile
      assert.deepStrictEqual(held.discrepancies.map((d) => `${d.kind} ${d.detail}`), [
        `held_differs_from_open_holds ${alice}/USD/H: H is 3, open holds sum to ${2n * max}`
      ])
      yield* sql`UPDATE ledger_holds SET amount = 1, remaining = 1 WHERE id = ${holds[0]!}`
      yield* sql`UPDATE ledger_holds SET amount = 2, remaining = 2 WHERE id = ${holds[1]!}`
      assert.isTrue((yield* ledger.reconcile).ok)
    }))
  it.effect("reconcile names each corrupted row on its own: a posting's balance_after, an unbalanced entry, a hold, a negative balance", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const sql = yield* SqlClient.SqlClient
      const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
      const [alice, bob, carol, dave] = [did("alice"), did("bob"), did("carol"), did("dave")]
      yield* funded([[alice, 100n], [bob, 100n], [carol, 100n], [dave, 100n]])
      for (let i = 1n; i <= 2n; i++) {
        yield* ledger.transfer({ idempotencyKey: uniqueKey("c"), from: A(alice), to: A(bob), currency: "USD", amount: i })
      }
      const held = yield* ledger.hold({ idempotencyKey: uniqueKey("h"), account: carol, currency: "USD", amount: 30n })
      assert.isTrue((yield* ledger.reconcile).ok)
      // 1. A middle posting of alice's A says 90 instead of 99.
      const middle = (yield* sql<{ id: unknown }>`
        SELECT id FROM ledger_postings WHERE account = ${alice} AND bucket = 'A' ORDER BY id LIMIT 1 OFFSET 1`)[0]!.id
      yield* unguarded(sql`UPDATE ledger_postings SET balance_after = 90 WHERE id = ${middle}`)
      // 2. Bob's first entry gets a third posting (3 more in bob's B), the balance kept in step with it.
      const bobEntry = (yield* sql<{ entry_id: string }>`SELECT entry_id FROM ledger_postings WHERE account = ${bob} ORDER BY id LIMIT 1`)[0]!.entry_id
      yield* sql`INSERT INTO ledger_postings (entry_id, account, currency, bucket, amount, balance_after) VALUES (${bobEntry}, ${bob}, 'USD', 'B', 3, 3)`
      yield* sql`UPDATE ledger_balances SET amount = 3 WHERE account = ${bob} AND bucket = 'B'`
      // 3. Carol's open hold of 30 says 31.
      yield* sql`UPDATE ledger_holds SET amount = 31, remaining = 31 WHERE id = ${held.hold.id}`
      // 4. Dave's F is -5 (the CHECK lifted, as a restore from a bad backup might).
      if (pg) yield* sql`ALTER TABLE ledger_balances DROP CONSTRAINT ledger_balances_non_negative`
      else yield* sql`PRAGMA ignore_check_constraints = ON`
      yield* sql`UPDATE ledger_balances SET amount = -5 WHERE account = ${dave} AND bucket = 'F'`
      if (pg) yield* sql`ALTER TABLE ledger_balances ADD CONSTRAINT ledger_balances_non_negative CHECK (may_go_negative OR amount >= 0) NOT VALID`
      else yield* sql`PRAGMA ignore_check_constraints = OFF`
      const report = yield* ledger.reconcile
      const details = report.discrepancies.map((d) => `${d.kind} ${d.detail}`).sort()
      assert.deepStrictEqual(details, [
        `balance_after_chain_broken posting ${middle} on ${alice}/USD/A: 90 after 100 + -1`,
        `balance_differs_from_postings ${dave}/USD/F: balance -5, postings sum to 0`,
        `entry_not_balanced ${bobEntry}: 3 postings summing to 3, 0 in another currency`,
        `held_differs_from_open_holds ${carol}/USD/H: H is 30, open holds sum to 31`,
        `negative_balance ${dave}/USD/F: -5`,
        "total_not_zero USD: balances sum to -2"
      ], "one report per corrupted row, naming it; the posting after the corrupted one is sound")
      // Repaired (the extra posting cannot be deleted: it is reversed by one of -3), clean again.
      yield* unguarded(sql`UPDATE ledger_postings SET balance_after = 99 WHERE id = ${middle}`)
      yield* sql`INSERT INTO ledger_postings (entry_id, account, currency, bucket, amount, balance_after) VALUES (${bobEntry}, ${bob}, 'USD', 'B', -3, 0)`
      yield* sql`UPDATE ledger_balances SET amount = 0 WHERE account = ${bob} AND bucket = 'B'`
      yield* sql`UPDATE ledger_holds SET amount = 30, remaining = 30 WHERE id = ${held.hold.id}`
      yield* sql`UPDATE ledger_balances SET amount = 0 WHERE account = ${dave} AND bucket = 'F'`
      assert.isTrue((yield* ledger.reconcile).ok)
    }))
  it.effect("statement months are UTC: the last millisecond of a month is in it, the first of the next is not; a quiet month carries the balance", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const [worker, payer] = [did("worker"), did("payer")]
      yield* Effect.withClock(funded([[worker, 0n], [payer, 10_000n]]), clockAt(Date.UTC(2025, 11, 15)))
      const tip = (amount: bigint, at: number) =>
        Effect.withClock(
          ledger.transfer({ idempotencyKey: uniqueKey("tip"), kind: "tip_transfer", from: A(payer), to: A(worker), currency: "USD", amount }),
          clockAt(at)
        )
      yield* tip(1n, Date.UTC(2026, 0, 1, 0, 0, 0, 0))
      yield* tip(10n, Date.UTC(2026, 0, 31, 23, 59, 59, 999))
      yield* tip(100n, Date.UTC(2026, 1, 1, 0, 0, 0, 0))
      yield* tip(1000n, Date.UTC(2026, 3, 30, 23, 59, 59, 999))
      const month = (m: string) => ledger.statement({ did: worker, month: m })
      const dec = yield* month("2025-12")
      assert.deepStrictEqual([dec.tipsReceived, dec.lineItems.length, dec.endingBalance], [0n, 0, 0n])
      const jan = yield* month("2026-01")
      assert.deepStrictEqual([jan.tipsReceived, jan.endingBalance], [11n, 11n])
      assert.deepStrictEqual(jan.lineItems.map((line) => [line.type, line.amount, line.timestamp]), [
        ["tip_received", 1n, "2026-01-01T00:00:00.000Z"],
        ["tip_received", 10n, "2026-01-31T23:59:59.999Z"]
      ])
      const feb = yield* month("2026-02")
      assert.deepStrictEqual([feb.tipsReceived, feb.lineItems.length, feb.endingBalance], [100n, 1, 111n])
      const mar = yield* month("2026-03")
      assert.deepStrictEqual([mar.tipsReceived, mar.lineItems.length, mar.endingBalance], [0n, 0, 111n], "a quiet month carries the balance")
      const apr = yield* month("2026-04")
      assert.deepStrictEqual([apr.tipsReceived, apr.endingBalance], [1000n, 1111n])
      const payerJan = yield* ledger.statement({ did: payer, month: "2026-01" })
      assert.deepStrictEqual([payerJan.tipsPaid, payerJan.endingBalance], [11n, 9_989n])
      for (const bad of ["2026-00", "2026-13", "2026-1", "26-01", "2026-01-01", " 2026-01", "2026-01 ", "2026-01\n", "2026/01", "", "２０２６-01"]) {
        const error = yield* Effect.flip(ledger.statement({ did: worker, month: bad }))
        assert.strictEqual(error._tag, "InvalidRequest", JSON.stringify(bad))
      }
      const none = yield* ledger.statement({ did: did("nobody"), month: "2026-01" })
      assert.deepStrictEqual([none.lineItems.length, none.endingBalance, none.grossEarned], [0, 0n, 0n])
    }))
  it.effect("amount bounds: the largest amount is accepted, a balance may reach 4·10^18 and not pass it on either side, nothing written when refused", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const [rich, other] = [did("rich"), did("other")]
      const [world, spare] = [`world:cap${uniqueKey("w").replace(/[^A-Za-z0-9]/g, "")}`, `world:spare${uniqueKey("w").replace(/[^A-Za-z0-9]/g, "")}`]
      for (const account of [rich, other, world, spare]) yield* ledger.openAccount({ account, currency: "USD" })
      const limit = 4_000_000_000_000_000_000n
      yield* ledger.mint({ idempotencyKey: uniqueKey("cap"), world, account: rich, currency: "USD", amount: Money.MAX_AMOUNT_MINOR })
      // The rest of the way to the limit in one entry written directly (4,000 mints would do the same, slowly).
      const sql = yield* SqlClient.SqlClient
      const rest = limit - Money.MAX_AMOUNT_MINOR
      const entry = `led_evt_cap${uniqueKey("e").replace(/[^A-Za-z0-9]/g, "")}`
      yield* sql`INSERT INTO ledger_entries (id, kind, currency, idempotency_key, hold_id, metadata, created_at)
        VALUES (${entry}, 'mint', 'USD', ${entry}, NULL, '{}', ${Date.now()})`
      yield* sql`INSERT INTO ledger_postings (entry_id, account, currency, bucket, amount, balance_after)
        VALUES (${entry}, ${world}, 'USD', 'A', ${-rest}, ${-limit}), (${entry}, ${rich}, 'USD', 'A', ${rest}, ${limit})`
      yield* sql`UPDATE ledger_balances SET amount = ${-limit} WHERE account = ${world} AND bucket = 'A'`
      yield* sql`UPDATE ledger_balances SET amount = ${limit} WHERE account = ${rich} AND bucket = 'A'`
      assert.isTrue((yield* ledger.reconcile).ok)
      assert.strictEqual((yield* ledger.balances(rich)).USD!.A, limit)
      assert.strictEqual((yield* ledger.balances(world)).USD!.A, -limit)
      const over = yield* rejectsUnchanged(
        ledger.mint({ idempotencyKey: uniqueKey("over"), world: spare, account: rich, currency: "USD", amount: 1n }),
        "AmountOutOfRange"
      )
      sameError(over, new ErrorCatalogue.AmountOutOfRange({ field: "balance", amount: limit + 1n, min: -limit, max: limit }))
      const under = yield* rejectsUnchanged(
        ledger.mint({ idempotencyKey: uniqueKey("under"), world, account: other, currency: "USD", amount: 1n }),
        "AmountOutOfRange"
      )
      sameError(under, new ErrorCatalogue.AmountOutOfRange({ field: "balance", amount: -limit - 1n, min: -limit, max: limit }))
      // A balance at the limit still moves: into other buckets, each within the limit, together past 2^63.
      for (const bucket of ["B", "F", "P"] as const) {
        yield* ledger.transfer({ idempotencyKey: uniqueKey("mv"), from: A(rich), to: { account: rich, bucket }, currency: "USD", amount: Money.MAX_AMOUNT_MINOR })
      }
      const legs = [{ ...A(rich), amount: -Money.MAX_AMOUNT_MINOR }, { ...A(other), amount: Money.MAX_AMOUNT_MINOR }]
      yield* ledger.post({ idempotencyKey: uniqueKey("legs"), kind: "transfer", currency: "USD", legs })
      for (const amount of [Money.MAX_AMOUNT_MINOR + 1n, 0n]) {
        yield* rejectsUnchanged(
          ledger.post({ idempotencyKey: uniqueKey("legs"), kind: "transfer", currency: "USD", legs: [{ ...A(rich), amount: -amount }, { ...A(other), amount }] }),
          "AmountOutOfRange"
        )
      }
      yield* rejectsUnchanged(ledger.hold({ idempotencyKey: uniqueKey("h"), account: rich, currency: "USD", amount: Money.MAX_AMOUNT_MINOR + 1n }), "AmountOutOfRange")
      yield* rejectsUnchanged(ledger.hold({ idempotencyKey: uniqueKey("h"), account: rich, currency: "USD", amount: 0n }), "AmountOutOfRange")
      yield* rejectsUnchanged(
        ledger.transfer({ idempotencyKey: uniqueKey("n"), from: A(rich), to: A(other), currency: "USD", amount: 5 as unknown as bigint }),
        "InvalidRequest"
      )
      const history = yield* ledger.history({ account: rich, limit: 1 })
      assert.strictEqual(history.items[0]!.balanceAfter, limit - 4n * Money.MAX_AMOUNT_MINOR)
      const report = yield* ledger.reconcile
      assert.isTrue(report.ok, JSON.stringify(report.discrepancies))
      const statement = yield* ledger.statement({ did: rich, month: new Date(history.items[0]!.createdAt).toISOString().slice(0, 7) })
      assert.strictEqual(statement.endingBalance, limit - 4n * Money.MAX_AMOUNT_MINOR)
    }))
  it.effect("history and balances at their edges: page size bounds, a foreign cursor, an unknown account, a currency never used", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const [alice, bob] = [did("alice"), did("bob")]
      yield* funded([[alice, 1_000n], [bob, 1_000n]])
      for (let i = 1n; i <= 3n; i++) {
        yield* ledger.transfer({ idempotencyKey: uniqueKey("e"), from: A(alice), to: A(bob), currency: "USD", amount: i })
      }
      const sizes: Array<number> = []
      for (const limit of [0, -3, 1, 2.7, 501, Number.POSITIVE_INFINITY]) {
        sizes.push((yield* ledger.history({ account: alice, limit })).items.length)
      }
      assert.deepStrictEqual(sizes, [1, 1, 1, 2, 4, 4])
      // Bob's cursor on alice's history, or one no posting has: refused, not a silent page 1 or a
      // page that starts wherever bob's posting happens to sit among alice's.
      const bobs = (yield* ledger.history({ account: bob, limit: 1 })).items[0]!.cursor
      for (const cursor of [bobs, "999999999999999999"]) {
        const error = yield* Effect.flip(ledger.history({ account: alice, cursor }))
        assert.strictEqual(error._tag, "InvalidRequest", cursor)
      }
      const own = (yield* ledger.history({ account: alice, limit: 1 })).nextCursor!
      assert.strictEqual((yield* ledger.history({ account: alice, cursor: own, currency: "USD" })).items.length, 3)
      const stranger = did("stranger")
      assert.deepStrictEqual(yield* ledger.history({ account: stranger }), { items: [], nextCursor: null })
      assert.deepStrictEqual((yield* ledger.history({ account: alice, currency: "EUR" })).items, [])
      const unknown = yield* Effect.flip(ledger.balances(stranger))
      sameError(unknown, new ErrorCatalogue.UnknownAccount({ account: stranger }))
      const balances = yield* ledger.balances(alice)
      assert.deepStrictEqual(Object.keys(balances), ["USD"])
      assert.isUndefined(balances.EUR)
      const euro = yield* ledger.statement({ did: alice, month: "2026-01", currency: "EUR" })
      assert.deepStrictEqual([euro.lineItems.length, euro.endingBalance], [0, 0n])
    }))
  it.effect("history pages stay put while new entries arrive: nothing repeated, nothing older skipped", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const [alice, bob] = [did("alice"), did("bob")]
      yield* funded([[alice, 1_000n], [bob, 1_000n]])
      const move = (from: string, to: string, bucket: "A" | "B" | "F" | "P" = "A") =>
        ledger.transfer({ idempotencyKey: uniqueKey("mv"), from: A(from), to: { account: to, bucket }, currency: "USD", amount: 1n })
      for (let i = 0; i < 5; i++) yield* move(alice, bob)
      const before = (yield* ledger.history({ account: alice, limit: 500 })).items.map((item) => item.cursor)
      const seen: Array<string> = []
      let page = yield* ledger.history({ account: alice, limit: 2 })
      seen.push(...page.items.map((item) => item.cursor))
      while (page.nextCursor !== null) {
        // New postings on alice (every bucket) and on bob between every two pages.
        yield* move(bob, alice)
        yield* move(bob, alice, "B")
        yield* move(alice, bob)
        page = yield* ledger.history({ account: alice, limit: 2, cursor: page.nextCursor })
        seen.push(...page.items.map((item) => item.cursor))
      }
      assert.deepStrictEqual(seen, before)
    }))
}
