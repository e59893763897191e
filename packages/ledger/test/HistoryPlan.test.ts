/**
 * A page of an account's history reads an index range per currency, newest first, and stops at the
 * page: it never sorts all of the account's postings. A busy account (the fee pool gains a posting
 * with every job) would otherwise sort its whole history for every page. SQLite's query plans of the
 * statements `history` runs show it.
 */
import { Ledger } from "@clawbounties/ledger"
import { SqlClient } from "@effect/sql"
import { assert, describe, layer } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { did, funded, sqliteLayer, uniqueKey } from "./helpers.js"

/** The statements better-sqlite3 runs while `effect` runs, with their parameters. */
const recorded = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const proto = Object.getPrototypeOf(new Database(":memory:").prepare("SELECT 1")) as { all: (...args: Array<unknown>) => unknown }
    const all = proto.all
    const statements: Array<readonly [string, Array<unknown>]> = []
    proto.all = function (this: { source: string }, ...args: Array<unknown>) {
      statements.push([this.source, args])
      return all.apply(this, args)
    }
    return Effect.map(Effect.ensuring(effect, Effect.sync(() => void (proto.all = all))), (value) => ({ value, statements }))
  })

describe("history query plans", () => {
  layer(sqliteLayer(), { excludeTestServices: true })((it) => {
    it.effect("a page of an account in every currency is index ranges, not a sort of all its postings", () =>
      Effect.gen(function* () {
        const ledger = yield* Ledger.Ledger
        const sql = yield* SqlClient.SqlClient
        const [alice, bob] = [did("alice"), did("bob")]
        yield* funded([[alice, 100n], [bob, 0n]], "USD")
        yield* funded([[alice, 100n], [bob, 0n]], "EUR")
        // Interleaved: USD 1, EUR 2, USD 3, EUR 4.
        for (const [currency, amount] of [["USD", 1n], ["EUR", 2n], ["USD", 3n], ["EUR", 4n]] as const) {
          yield* ledger.transfer({ idempotencyKey: uniqueKey("plan"), from: { account: alice, bucket: "A" }, to: { account: bob, bucket: "A" }, currency, amount })
        }
        const first = yield* recorded(ledger.history({ account: alice, limit: 3 }))
        const second = yield* recorded(ledger.history({ account: alice, limit: 3, cursor: first.value.nextCursor! }))
        // Newest first across currencies, and the pages meet without a gap.
        assert.deepStrictEqual(first.value.items.map((item) => [item.currency, item.amount]), [["EUR", -4n], ["USD", -3n], ["EUR", -2n]])
        assert.deepStrictEqual(second.value.items.map((item) => [item.currency, item.amount]), [["USD", -1n], ["EUR", 100n], ["USD", 100n]])
        assert.isNull(second.value.nextCursor)
        const pages = [...first.statements, ...second.statements].filter(([source]) => /ledger_postings p/.test(source))
        assert.isTrue(pages.length > 0)
        for (const [source, params] of pages) {
          const plan = yield* sql.unsafe<{ detail: string }>(`EXPLAIN QUERY PLAN ${source}`, params)
          assert.isFalse(plan.some((step) => /TEMP B-TREE/.test(step.detail)), `${source}\n${plan.map((step) => step.detail).join("\n")}`)
        }
      }))
  })
})
