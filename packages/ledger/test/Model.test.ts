/**
 * Model-based property test: random sequences of operations (including replays with the same key and
 * requests that reuse a key for something else) are applied to the ledger and to a small in-memory
 * model. After every operation the outcome, the balances and every invariant must agree.
 * The seed is printed; rerun a failure with LEDGER_MODEL_SEED=<seed>.
 */
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { Ledger } from "@clawbounties/ledger"
import { SqlClient } from "@effect/sql"
import { assert, describe, layer, type Vitest } from "@effect/vitest"
import { Effect, Either, Runtime } from "effect"
import * as fc from "fast-check"
import { pgLayer, sqliteLayer } from "./helpers.js"

type ModelOp =
  | { readonly t: "mint"; readonly to: number; readonly amount: bigint }
  | { readonly t: "transfer"; readonly from: number; readonly to: number; readonly fromBucket: "A" | "B" | "P"; readonly toBucket: "A" | "B" | "P"; readonly amount: bigint }
  | { readonly t: "hold"; readonly who: number; readonly amount: bigint }
  | { readonly t: "release"; readonly hold: number; readonly dests: ReadonlyArray<{ readonly to: number; readonly amount: bigint }> }
  | { readonly t: "void"; readonly hold: number }
  | { readonly t: "stake"; readonly who: number; readonly lock: boolean; readonly amount: bigint }
  | { readonly t: "replay"; readonly back: number }
  | { readonly t: "conflict"; readonly back: number }
  | { readonly t: "ghost"; readonly from: number; readonly amount: bigint }

const USERS = 3
const user = fc.integer({ min: 0, max: USERS - 1 })
const amount = fc.bigInt({ min: 1n, max: 150n })
const bucket = fc.constantFrom("A" as const, "B" as const, "P" as const)

const opArb: fc.Arbitrary<ModelOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant("mint" as const), to: user, amount: fc.bigInt({ min: 1n, max: 300n }) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant("transfer" as const), from: user, to: user, fromBucket: bucket, toBucket: bucket, amount }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("hold" as const), who: user, amount }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("release" as const), hold: fc.nat(20), dests: fc.array(fc.record({ to: user, amount: fc.bigInt({ min: 1n, max: 80n }) }), { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("void" as const), hold: fc.nat(20) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("stake" as const), who: user, lock: fc.boolean(), amount }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("replay" as const), back: fc.nat(50) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("conflict" as const), back: fc.nat(50) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("ghost" as const), from: user, amount }) }
)

interface Recorded {
  readonly operation: Ledger.Operation
  readonly outcome: Either.Either<Ledger.OperationResult, { readonly _tag: string }>
}

type Expected = { readonly tag: "ok"; readonly apply: (result: Ledger.OperationResult) => void } | { readonly tag: string; readonly replay?: Recorded }

const modelSuite = (numRuns: number, maxOps: number) => (it: Vitest.MethodsNonLive<Ledger.Ledger | SqlClient.SqlClient, true>) => {
  it.effect("the ledger agrees with an in-memory model after every operation", () =>
    Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const sql = yield* SqlClient.SqlClient
      const runtime = yield* Effect.runtime<never>()
      const seed = process.env.LEDGER_MODEL_SEED !== undefined ? Number(process.env.LEDGER_MODEL_SEED) : Math.floor(Math.random() * 2 ** 31)
      console.log(`ledger model test seed: ${seed} (rerun with LEDGER_MODEL_SEED=${seed})`)
      let run = 0

      const check = (ops: ReadonlyArray<ModelOp>) => Effect.gen(function* () {
        run++
        const tag = `${seed}r${run}`
        const world = `world:m${tag}`
        const users = Array.from({ length: USERS }, (_, i) => `did:key:zm${tag}u${i}`)
        const balances = new Map<string, bigint>()
        const at = (account: string, b: Ledger.Bucket) => balances.get(`${account}|${b}`) ?? 0n
        const add = (account: string, b: Ledger.Bucket, delta: bigint) => balances.set(`${account}|${b}`, at(account, b) + delta)
        const holds: Array<{ id: string; account: string; amount: bigint; status: "open" | "released" | "voided" }> = []
        const history: Array<Recorded> = []

        yield* ledger.openAccount({ account: world, currency: "USD" })
        for (const u of users) yield* ledger.openAccount({ account: u, currency: "USD" })

        for (let index = 0; index < ops.length; index++) {
          const op = ops[index]!
          const key = `m${tag}-${index}`
          let operation: Ledger.Operation
          let expected: Expected
          const funds = (account: string, b: Ledger.Bucket, need: bigint) => at(account, b) >= need
          switch (op.t) {
            case "mint": {
              operation = { op: "mint", idempotencyKey: key, world, account: users[op.to]!, currency: "USD", amount: op.amount }
              expected = { tag: "ok", apply: () => { add(world, "A", -op.amount); add(users[op.to]!, "A", op.amount) } }
              break
            }
            case "transfer": {
              const from = users[op.from]!
              const to = users[op.to]!
              const toBucket = from === to && op.fromBucket === op.toBucket ? (op.toBucket === "A" ? "B" : "A") : op.toBucket
              operation = { op: "transfer", idempotencyKey: key, from: { account: from, bucket: op.fromBucket }, to: { account: to, bucket: toBucket }, currency: "USD", amount: op.amount }
              expected = funds(from, op.fromBucket, op.amount)
                ? { tag: "ok", apply: () => { add(from, op.fromBucket, -op.amount); add(to, toBucket, op.amount) } }
                : { tag: "InsufficientFunds" }
              break
            }
            case "hold": {
              const who = users[op.who]!
              operation = { op: "hold", idempotencyKey: key, account: who, currency: "USD", amount: op.amount }
              expected = funds(who, "A", op.amount)
                ? {
                  tag: "ok",
                  apply: (result) => {
                    add(who, "A", -op.amount)
                    add(who, "H", op.amount)
                    holds.push({ id: (result as Ledger.HoldResult).hold.id, account: who, amount: op.amount, status: "open" })
                  }
                }
                : { tag: "InsufficientFunds" }
              break
            }
            case "release":
            case "void": {
              const hold = holds.length > 0 ? holds[op.hold % holds.length]! : undefined
              const holdId = hold?.id ?? `hld_missing${tag}`
              const dests = op.t === "release" ? op.dests.map((d) => ({ account: users[d.to]!, bucket: "A" as const, amount: d.amount })) : []
              const total = dests.reduce((sum, d) => sum + d.amount, 0n)
              operation = op.t === "release"
                ? { op: "releaseHold", idempotencyKey: key, holdId, destinations: dests }
                : { op: "voidHold", idempotencyKey: key, holdId }
              expected = hold === undefined
                ? { tag: "HoldNotFound" }
                : hold.status !== "open"
                ? { tag: "HoldAlreadyResolved" }
                : total > hold.amount
                ? { tag: "HoldOverspent" }
                : {
                  tag: "ok",
                  apply: () => {
                    add(hold.account, "H", -hold.amount)
                    for (const d of dests) add(d.account, "A", d.amount)
                    add(hold.account, "A", hold.amount - total)
                    hold.status = op.t === "release" ? "released" : "voided"
                  }
                }
              break
            }
            case "stake": {
              const who = users[op.who]!
              const [from, to] = op.lock ? (["A", "B"] as const) : (["B", "A"] as const)
              operation = { op: op.lock ? "stakeLock" : "stakeRelease", idempotencyKey: key, account: who, currency: "USD", amount: op.amount }
              expected = funds(who, from, op.amount)
                ? { tag: "ok", apply: () => { add(who, from, -op.amount); add(who, to, op.amount) } }
                : { tag: "InsufficientFunds" }
              break
            }
            case "ghost": {
              operation = { op: "transfer", idempotencyKey: key, from: { account: users[op.from]!, bucket: "A" }, to: { account: `did:key:zghost${tag}`, bucket: "A" }, currency: "USD", amount: op.amount }
              expected = { tag: "UnknownAccount" }
              break
            }
            case "replay":
            case "conflict": {
              const earlier = history.length > 0 ? history[op.back % history.length]! : undefined
              if (earlier === undefined) continue
              if (op.t === "replay") {
                operation = earlier.operation
                expected = { tag: Either.isRight(earlier.outcome) ? "replay-ok" : earlier.outcome.left._tag, replay: earlier }
              } else {
                const changed = earlier.operation
                if (!("amount" in changed)) continue
                operation = { ...changed, amount: changed.amount + 1n } as Ledger.Operation
                expected = { tag: "IdempotencyConflict" }
              }
              break
            }
          }

          const before = yield* sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM ledger_postings`
          const [item] = yield* ledger.batch([operation])
          const outcome = item!
          const got = Either.isRight(outcome) ? "ok" : outcome.left._tag
          const context = `op #${index} ${JSON.stringify(op, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))}`
          if (expected.tag === "replay-ok") {
            assert.deepStrictEqual(outcome as unknown, ("replay" in expected ? expected.replay : undefined)?.outcome as unknown, `${context}: a replay returns the original result`)
          } else {
            assert.strictEqual(got, expected.tag, `${context}: outcome`)
            const original = "replay" in expected ? expected.replay : undefined
            if (original !== undefined && Either.isLeft(outcome) && Either.isLeft(original.outcome)) {
              assert.deepStrictEqual({ ...outcome.left } as object, { ...original.outcome.left } as object, `${context}: the stored failure`)
            }
            if (expected.tag === "IdempotencyConflict" && Either.isLeft(outcome)) {
              assert.strictEqual((outcome.left as unknown as { field: string }).field, "amount", `${context}: conflict field`)
            }
          }
          if ("apply" in expected && Either.isRight(outcome)) expected.apply(outcome.right)
          if (op.t !== "replay" && op.t !== "conflict") history.push({ operation, outcome })
          if (Either.isLeft(outcome)) {
            const after = yield* sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM ledger_postings`
            assert.strictEqual(String(after[0]!.n), String(before[0]!.n), `${context}: a rejected operation writes no postings`)
          }

          // Invariants after every operation: balances equal the model's; reconcile finds nothing.
          const rows = yield* sql<{ account: string; bucket: Ledger.Bucket; amount: unknown }>`
            SELECT account, bucket, amount FROM ledger_balances WHERE account IN ${sql.in([world, ...users])}`
          for (const row of rows) {
            assert.strictEqual(BigInt(String(row.amount)), at(row.account, row.bucket), `${context}: balance ${row.account}/${row.bucket}`)
          }
          const report = yield* ledger.reconcile
          assert.deepStrictEqual(report.discrepancies, [], `${context}: reconcile`)
        }
        const open = holds.filter((h) => h.status === "open").reduce((sum, h) => sum + h.amount, 0n)
        assert.strictEqual(users.reduce((sum, u) => sum + at(u, "H"), 0n), open)
      })

      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: maxOps }), (ops) => Runtime.runPromise(runtime)(check(ops).pipe(Effect.provideService(Ledger.Ledger, ledger), Effect.provideService(SqlClient.SqlClient, sql)))),
          { seed, numRuns, endOnFailure: true }
        )
      )
    }), { timeout: 60_000 })
}

const pg = await PgTestDatabase.probe()

layer(sqliteLayer(), { excludeTestServices: true })("model on SQLite", modelSuite(30, 40))

describe.skipIf(!pg.available)(`model on PostgreSQL ${pg.reason}`, () => {
  layer(pgLayer("ledger_model"), { excludeTestServices: true, timeout: "30 seconds" })("suite", modelSuite(10, 30))
})
