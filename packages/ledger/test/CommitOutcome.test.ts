/**
 * A COMMIT that fails after the command's body succeeded reaches the caller as the typed
 * `CommitOutcomeUnknown`, on either store, never as a defect, and is not retried by the engine: only
 * the caller holds the idempotency key that makes a retry safe. A retry under that key applies the
 * command exactly once.
 */
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { ErrorCatalogue } from "@clawbounties/domain"
import { Ledger, Transaction } from "@clawbounties/ledger"
import { SqlClient } from "@effect/sql"
import { assert, describe, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Ref } from "effect"
import { did, funded, pgLayer, sqliteLayer, uniqueKey } from "./helpers.js"

const pg = await PgTestDatabase.probe()

/** The typed failure of `exit`, or a message naming what it was instead (a defect, a success). */
const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | string =>
  Exit.isSuccess(exit)
    ? "succeeded"
    : Cause.failureOption(exit.cause).pipe((failure) => failure._tag === "Some" ? failure.value : `not a typed failure: ${Cause.pretty(exit.cause)}`)

describe.skipIf(!pg.available)(`a COMMIT cut off on PostgreSQL ${pg.reason}`, () => {
  layer(pgLayer("ledger_commit_cut"), { excludeTestServices: true, timeout: "30 seconds" })((it) => {
    it.effect("fails with CommitOutcomeUnknown, not retried, and a retry under the same key applies the mint once", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const ledger = yield* Ledger.Ledger
        const account = did("cut")
        yield* funded([[account, 0n]])
        // A deferred trigger runs at COMMIT: this one ends its own session there, as a server
        // restart or an operator's pg_terminate_backend would, the first time only (a sequence,
        // which a rollback does not undo, counts the times).
        yield* sql`CREATE SEQUENCE commit_cuts`
        yield* sql.unsafe(`CREATE FUNCTION cut_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF nextval('commit_cuts') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
            RETURN NULL;
          END $$`)
        yield* sql`CREATE CONSTRAINT TRIGGER cut_at_commit AFTER INSERT ON ledger_entries
          DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cut_at_commit()`
        const mint = { idempotencyKey: uniqueKey("cut"), world: "world:test", account, currency: "USD", amount: 700n }

        // Had the engine retried it, the second COMMIT would have passed the trigger and succeeded.
        const failure = failureOf(yield* Effect.exit(ledger.mint(mint)))
        assert.instanceOf(failure, ErrorCatalogue.CommitOutcomeUnknown, String(failure))
        assert.strictEqual(ErrorCatalogue.toWire(failure as ErrorCatalogue.CommitOutcomeUnknown).body.error, "COMMIT_OUTCOME_UNKNOWN")

        // The caller retries under the same key, as on any 503. The pool may hand out the cut
        // connection once more before it notices the socket closed (@effect/sql-pg releases it as
        // healthy), and that attempt fails too: with a SqlError, or again with the unknown outcome.
        const retried = yield* Effect.retry(ledger.mint(mint), {
          times: 3,
          while: (error) => error._tag === "SqlError" || error._tag === "CommitOutcomeUnknown"
        })
        const replayed = yield* ledger.mint(mint)
        assert.strictEqual(replayed.entryId, retried.entryId)
        const balances = yield* ledger.balances(account)
        assert.strictEqual(balances.USD?.A, 700n)
      }))
  })
})

layer(sqliteLayer(), { excludeTestServices: true })("a COMMIT that fails on SQLite", (it) => {
  it.effect("fails with CommitOutcomeUnknown too, and is not retried", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      // A deferred foreign key is checked at COMMIT: the store's COMMIT fails there.
      yield* sql`CREATE TABLE parents (id INTEGER PRIMARY KEY)`
      yield* sql`CREATE TABLE children (parent INTEGER NOT NULL REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)`
      const attempts = yield* Ref.make(0)
      const exit = yield* Effect.exit(Transaction.run(Effect.zipRight(Ref.update(attempts, (n) => n + 1), sql`INSERT INTO children (parent) VALUES (1)`)))
      assert.instanceOf(failureOf(exit), ErrorCatalogue.CommitOutcomeUnknown, String(failureOf(exit)))
      assert.strictEqual(yield* Ref.get(attempts), 1)
      assert.deepStrictEqual(yield* sql`SELECT parent FROM children`, [])
    }))
})
