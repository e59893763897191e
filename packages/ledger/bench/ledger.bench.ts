/**
 * Ledger throughput, `npm run bench:ledger`: transfers per second through the engine, one per
 * transaction and in batches of 100 and 1000, on a SQLite file (WAL, synchronous=FULL) and on
 * PostgreSQL, each beside a raw baseline measured in the same run: the same rows written by hand
 * with better-sqlite3 / pg in a tight loop (idempotency row, two balance updates, two postings).
 *
 * A fourth mode, "8 callers", sends single transfers from 8 concurrent callers, each its own command,
 * as a server's clients would. On SQLite their transactions share COMMITs (`GroupCommit`); its raw
 * column is the one-per-transaction loop, which has no callers to share with.
 *
 * Each mode runs BENCH_ROUNDS rounds; a round runs the engine and the baseline back to back and
 * yields their ratio. The table prints medians, and the median ratio with the range of the rounds'.
 *
 * Options (env): BENCH_SINGLE (transfers one per tx per round, 1000), BENCH_BATCHED (transfers per
 * batch size per round, 5000), BENCH_ACCOUNTS (1000), BENCH_ROUNDS (7), BENCH_PG=0 to skip
 * PostgreSQL, BENCH_SQLITE=0 to skip SQLite.
 */
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { Ids } from "@clawbounties/domain"
import { Ledger } from "@clawbounties/ledger"
import Database from "better-sqlite3"
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import pg from "pg"

const SINGLE = Number(process.env.BENCH_SINGLE ?? 1000)
const BATCHED = Number(process.env.BENCH_BATCHED ?? 5000)
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 1000)

/** A deterministic stream of (from, to) account indexes, the same for engine and baseline. */
const pairs = (count: number, seed: number): Array<readonly [number, number]> => {
  let state = seed
  const next = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31
    return state % ACCOUNTS
  }
  return Array.from({ length: count }, () => {
    const from = next()
    let to = next()
    if (to === from) to = (to + 1) % ACCOUNTS
    return [from, to] as const
  })
}

const account = (i: number) => `did:key:zbench${String(i).padStart(6, "0")}`
const key = (run: string, i: number) => `${run}-${String(i).padStart(9, "0")}`

interface Row {
  readonly backend: string
  readonly mode: string
  readonly engine: number
  readonly raw: number
  /** The median of the rounds' paired ratios, and their range. */
  readonly ratio: number
  readonly low: number
  readonly high: number
}
const rows: Array<Row> = []

const rate = (count: number, millis: number) => Math.round((count / millis) * 1000)

// ---------------------------------------------------------------------------------------------
// Runners: each writes `plan` (one per transaction, or in batches of `size`) with keys of `run`,
// and returns the elapsed milliseconds. `compare` pairs them round by round.
// ---------------------------------------------------------------------------------------------

type Plan = ReadonlyArray<readonly [number, number]>
interface Runner {
  /** `callers` > 1: single transfers from that many concurrent callers (the engine only). */
  readonly run: (plan: Plan, size: number, run: string, callers?: number) => Effect.Effect<number>
}

const transferOp = (run: string, i: number, [from, to]: readonly [number, number]) => ({
  op: "transfer" as const,
  idempotencyKey: key(run, i),
  from: { account: account(from), bucket: "A" as const },
  to: { account: account(to), bucket: "A" as const },
  currency: "USD",
  amount: 1n
})

const engineRunner = Effect.gen(function* () {
  const ledger = yield* Ledger.Ledger
  yield* ledger.openAccount({ account: "world:bench", currency: "USD" })
  const seedOps: Array<Ledger.Operation> = []
  for (let i = 0; i < ACCOUNTS; i++) {
    yield* ledger.openAccount({ account: account(i), currency: "USD" })
    seedOps.push({ op: "mint", idempotencyKey: `seed-${i}`, world: "world:bench", account: account(i), currency: "USD", amount: 1_000_000_000n })
  }
  yield* ledger.batch(seedOps)
  const runner: Runner = {
    run: (plan, size, run, callers = 1) =>
      Effect.gen(function* () {
        const start = performance.now()
        if (callers > 1) {
          yield* Effect.forEach(plan, (pair, i) => {
            const { op: _, ...input } = transferOp(run, i, pair)
            return ledger.transfer(input)
          }, { concurrency: callers, discard: true })
        } else if (size === 1) {
          for (let i = 0; i < plan.length; i++) {
            const { op: _, ...input } = transferOp(run, i, plan[i]!)
            yield* ledger.transfer(input)
          }
        } else {
          for (let offset = 0; offset < plan.length; offset += size) {
            const items = yield* ledger.batch(plan.slice(offset, offset + size).map((pair, k) => transferOp(run, offset + k, pair)))
            if (items.some((item) => item._tag === "Left")) return yield* Effect.dieMessage("a bench transfer failed")
          }
        }
        return performance.now() - start
      }).pipe(Effect.orDie)
  }
  return { runner, reconcile: ledger.reconcile }
})

// ---------------------------------------------------------------------------------------------
// Raw baselines: the same rows by hand, in a tight loop
// ---------------------------------------------------------------------------------------------

const rawSchema = (dialect: "sqlite" | "pg") => [
  `CREATE TABLE raw_idempotency (key TEXT PRIMARY KEY, result TEXT NOT NULL)`,
  `CREATE TABLE raw_balances (account TEXT PRIMARY KEY, amount BIGINT NOT NULL CHECK (amount >= 0))`,
  `CREATE TABLE raw_postings (id ${dialect === "pg" ? "BIGSERIAL" : "INTEGER"} PRIMARY KEY, key TEXT NOT NULL, account TEXT NOT NULL, amount BIGINT NOT NULL, balance_after BIGINT NOT NULL)`,
  `CREATE INDEX raw_postings_by_account ON raw_postings (account, id)`
]

const sqliteRaw = (filename: string): Runner & { close: () => void } => {
  const db = new Database(filename)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = FULL")
  db.pragma("foreign_keys = ON")
  db.defaultSafeIntegers(true)
  for (const statement of rawSchema("sqlite")) db.exec(statement)
  const insertBalance = db.prepare("INSERT INTO raw_balances (account, amount) VALUES (?, ?)")
  db.transaction(() => {
    for (let i = 0; i < ACCOUNTS; i++) insertBalance.run(account(i), 1_000_000_000n)
  })()
  const idem = db.prepare("INSERT INTO raw_idempotency (key, result) VALUES (?, ?)")
  const debit = db.prepare("UPDATE raw_balances SET amount = amount - ? WHERE account = ? AND amount >= ? RETURNING amount")
  const credit = db.prepare("UPDATE raw_balances SET amount = amount + ? WHERE account = ? RETURNING amount")
  const posting = db.prepare("INSERT INTO raw_postings (key, account, amount, balance_after) VALUES (?, ?, ?, ?), (?, ?, ?, ?)")
  const begin = db.prepare("BEGIN IMMEDIATE")
  const commit = db.prepare("COMMIT")
  const one = (k: string, [from, to]: readonly [number, number]) => {
    idem.run(k, "ok")
    const a = debit.get(1n, account(from), 1n) as { amount: bigint } | undefined
    if (a === undefined) throw new Error("insufficient funds")
    const b = credit.get(1n, account(to)) as { amount: bigint }
    posting.run(k, account(from), -1n, a.amount, k, account(to), 1n, b.amount)
  }
  return {
    run: (plan, size, run) =>
      Effect.sync(() => {
        const start = performance.now()
        for (let offset = 0; offset < plan.length; offset += size) {
          begin.run()
          for (let k = offset; k < Math.min(offset + size, plan.length); k++) one(key(run, k), plan[k]!)
          commit.run()
        }
        return performance.now() - start
      }),
    close: () => db.close()
  }
}

const pgRaw = async (url: string): Promise<Runner & { close: () => Promise<void> }> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  for (const statement of rawSchema("pg")) await client.query(statement)
  await client.query(`INSERT INTO raw_balances SELECT 'did:key:zbench' || lpad(i::text, 6, '0'), 1000000000 FROM generate_series(0, ${ACCOUNTS - 1}) AS i`)
  const one = async (k: string, [from, to]: readonly [number, number]) => {
    await client.query("INSERT INTO raw_idempotency (key, result) VALUES ($1, $2)", [k, "ok"])
    // Rows in a fixed order (the lower account first), as a correct implementation must.
    const [first, second] = from < to ? [from, to] : [to, from]
    const firstDelta = first === from ? -1 : 1
    const a = await client.query("UPDATE raw_balances SET amount = amount + $1 WHERE account = $2 AND amount + $1 >= 0 RETURNING amount", [firstDelta, account(first)])
    const b = await client.query("UPDATE raw_balances SET amount = amount + $1 WHERE account = $2 AND amount + $1 >= 0 RETURNING amount", [-firstDelta, account(second)])
    if (a.rowCount !== 1 || b.rowCount !== 1) throw new Error("insufficient funds")
    await client.query("INSERT INTO raw_postings (key, account, amount, balance_after) VALUES ($1, $2, $3, $4), ($1, $5, $6, $7)", [
      k, account(first), firstDelta, a.rows[0].amount, account(second), -firstDelta, b.rows[0].amount
    ])
  }
  return {
    run: (plan, size, run) =>
      Effect.promise(async () => {
        const start = performance.now()
        for (let offset = 0; offset < plan.length; offset += size) {
          await client.query("BEGIN")
          for (let k = offset; k < Math.min(offset + size, plan.length); k++) await one(key(run, k), plan[k]!)
          await client.query("COMMIT")
        }
        return performance.now() - start
      }),
    close: () => client.end()
  }
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/**
 * Each round runs the engine and the baseline back to back on the same plan, the first of the two
 * alternating, and yields one paired ratio. The VM's fsync latency drifts from minute to minute: a
 * ratio of rounds run side by side cancels that drift, and the median of those ratios (printed with
 * their range) ignores the odd round disturbed by another process.
 */
const compare = (backend: string, engine: Runner, raw: Runner) =>
  Effect.gen(function* () {
    const modes = [["single", 1, SINGLE, 1], ["8 callers", 1, SINGLE, 8], ["batch 100", 100, BATCHED, 1], ["batch 1000", 1000, BATCHED, 1]] as const
    for (const [mode, size, count, callers] of modes) {
      const engineRates: Array<number> = []
      const rawRates: Array<number> = []
      const ratios: Array<number> = []
      for (let round = 0; round < ROUNDS; round++) {
        const plan = pairs(count, 1 + round * 7 + size + callers)
        const runRaw = Effect.map(raw.run(plan, size, `${mode}-${round}`), (ms) => rate(count, ms))
        const runEngine = Effect.map(engine.run(plan, size, `${mode}-${round}`, callers), (ms) => rate(count, ms))
        let rawRate: number
        let engineRate: number
        if (round % 2 === 0) {
          rawRate = yield* runRaw
          engineRate = yield* runEngine
        } else {
          engineRate = yield* runEngine
          rawRate = yield* runRaw
        }
        rawRates.push(rawRate)
        engineRates.push(engineRate)
        ratios.push(engineRate / rawRate)
      }
      rows.push({ backend, mode, engine: median(engineRates), raw: median(rawRates), ratio: median(ratios), low: Math.min(...ratios), high: Math.max(...ratios) })
    }
  })

// ---------------------------------------------------------------------------------------------

const main = Effect.gen(function* () {
  const dir = mkdtempSync(join(tmpdir(), "ledger-bench-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
  console.log(`ledger bench: ${ROUNDS} paired rounds per mode; ${SINGLE} single transfers, ${BATCHED} per batch size, ${ACCOUNTS} accounts, a round each`)

  if (process.env.BENCH_SQLITE !== "0") {
    yield* Effect.gen(function* () {
      const raw = sqliteRaw(join(dir, "raw.db"))
      const { reconcile, runner } = yield* engineRunner
      yield* compare("SQLite (WAL, FULL)", runner, raw)
      raw.close()
      const report = yield* reconcile
      if (!report.ok) return yield* Effect.dieMessage(`sqlite: reconcile found ${report.discrepancies.length} discrepancies`)
    }).pipe(
      Effect.provide(Ledger.layer.pipe(Layer.provideMerge(Sqlite.layer({ filename: join(dir, "engine.db") })), Layer.provide(Ids.IdGen.layer))),
      Effect.orDie
    )
  }

  if (process.env.BENCH_PG !== "0") {
    const probe = yield* Effect.promise(() => PgTestDatabase.probe())
    if (!probe.available) {
      console.log(`PostgreSQL ${probe.reason}`)
    } else {
      const rawDb = yield* PgTestDatabase.database("bench_raw").pipe(Effect.orDie)
      const raw = yield* Effect.promise(() => pgRaw(rawDb.url))
      yield* Effect.gen(function* () {
        const { reconcile, runner } = yield* engineRunner
        yield* compare("PostgreSQL", runner, raw)
        const report = yield* reconcile
        if (!report.ok) return yield* Effect.dieMessage(`pg: reconcile found ${report.discrepancies.length} discrepancies`)
      }).pipe(
        Effect.provide(Ledger.layer.pipe(Layer.provideMerge(PgTestDatabase.layer({ prefix: "bench_engine", maxConnections: 2 })), Layer.provide(Ids.IdGen.layer))),
        Effect.orDie
      )
      yield* Effect.promise(() => raw.close())
    }
  }

  const pad = (s: string | number, n: number) => String(s).padStart(n)
  console.log(`\nmedians of ${ROUNDS} rounds; ratio: the median of the rounds' paired engine/raw ratios, and their range`)
  console.log(`${"backend".padEnd(20)}${"mode".padEnd(12)}${pad("engine tx/s", 13)}${pad("raw tx/s", 11)}${pad("ratio", 8)}  range`)
  for (const row of rows) {
    const range = `${row.low.toFixed(2)}-${row.high.toFixed(2)}`
    console.log(`${row.backend.padEnd(20)}${row.mode.padEnd(12)}${pad(Math.round(row.engine), 13)}${pad(Math.round(row.raw), 11)}${pad(row.ratio.toFixed(2), 8)}  ${range}`)
  }
})

Effect.runPromise(Effect.scoped(main)).catch((error) => {
  console.error(error)
  process.exit(1)
})
