import { Sqlite } from "@clawbounties/adapter-sqlite"
import { Ids } from "@clawbounties/domain"
import { Ledger } from "@clawbounties/ledger"
import { SqlClient } from "@effect/sql"
import Database from "better-sqlite3"
import { Effect, Layer } from "effect"
import { mkdtempSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
const N = 2000, ACCOUNTS = 1000
const account = (i: number) => `did:key:zbench${String(i).padStart(6, "0")}`
const dir = mkdtempSync(join(tmpdir(), "walc-"))
const pairs = Array.from({ length: N }, (_, i) => [(i * 7919) % ACCOUNTS, (i * 104729 + 13) % ACCOUNTS] as const).map(([a, b]) => [a, a === b ? (b + 1) % ACCOUNTS : b] as const)
const prog = Effect.gen(function* () {
  const ledger = yield* Ledger.Ledger
  const sql = yield* SqlClient.SqlClient
  yield* ledger.openAccount({ account: "world:bench", currency: "USD" })
  const ops: Array<Ledger.Operation> = []
  for (let i = 0; i < ACCOUNTS; i++) {
    yield* ledger.openAccount({ account: account(i), currency: "USD" })
    ops.push({ op: "mint", idempotencyKey: `seed-${i}`, world: "world:bench", account: account(i), currency: "USD", amount: 1_000_000_000n })
  }
  yield* ledger.batch(ops)
  yield* sql.unsafe("PRAGMA wal_checkpoint(TRUNCATE)")
  yield* sql.unsafe("PRAGMA wal_autocheckpoint=0")
  const before = statSync(join(dir, "e.db-wal")).size; (globalThis as any).__sqlstats?.clear()
  const t = performance.now()
  for (let i = 0; i < N; i++) {
    const [from, to] = pairs[i]!
    yield* ledger.transfer({ idempotencyKey: `single-0-${String(i).padStart(9, "0")}`, from: { account: account(from), bucket: "A" }, to: { account: account(to), bucket: "A" }, currency: "USD", amount: 1n })
  }
  const ms = performance.now() - t
  const after = statSync(join(dir, "e.db-wal")).size
  console.log(`engine: ${(N / ms * 1000).toFixed(0)} tx/s, ${(ms / N * 1000).toFixed(0)} us/tx, WAL frames/tx ${((after - before) / 4120 / N).toFixed(2)}`)
}).pipe(Effect.provide(Ledger.layer.pipe(Layer.provideMerge(Sqlite.layer({ filename: join(dir, "e.db") })), Layer.provide(Ids.IdGen.layer))), Effect.orDie)
await Effect.runPromise(Effect.scoped(prog))
// raw
const db = new Database(join(dir, "r.db"))
db.pragma("journal_mode = WAL"); db.pragma("synchronous = FULL"); db.pragma("foreign_keys = ON"); db.defaultSafeIntegers(true)
for (const s of [`CREATE TABLE raw_idempotency (key TEXT PRIMARY KEY, result TEXT NOT NULL)`,
  `CREATE TABLE raw_balances (account TEXT PRIMARY KEY, amount BIGINT NOT NULL CHECK (amount >= 0))`,
  `CREATE TABLE raw_postings (id INTEGER PRIMARY KEY, key TEXT NOT NULL, account TEXT NOT NULL, amount BIGINT NOT NULL, balance_after BIGINT NOT NULL)`,
  `CREATE INDEX raw_postings_by_account ON raw_postings (account, id)`]) db.exec(s)
const ib = db.prepare("INSERT INTO raw_balances (account, amount) VALUES (?, ?)")
db.transaction(() => { for (let i = 0; i < ACCOUNTS; i++) ib.run(account(i), 1_000_000_000n) })()
db.pragma("wal_checkpoint(TRUNCATE)"); db.pragma("wal_autocheckpoint=0")
const idem = db.prepare("INSERT INTO raw_idempotency (key, result) VALUES (?, ?)")
const debit = db.prepare("UPDATE raw_balances SET amount = amount - ? WHERE account = ? AND amount >= ? RETURNING amount")
const credit = db.prepare("UPDATE raw_balances SET amount = amount + ? WHERE account = ? RETURNING amount")
const posting = db.prepare("INSERT INTO raw_postings (key, account, amount, balance_after) VALUES (?, ?, ?, ?), (?, ?, ?, ?)")
const begin = db.prepare("BEGIN IMMEDIATE"), commit = db.prepare("COMMIT")
const before = statSync(join(dir, "r.db-wal")).size
const t = performance.now()
for (let i = 0; i < N; i++) {
  const k = `single-0-${String(i).padStart(9, "0")}`; const [from, to] = pairs[i]!
  begin.run(); idem.run(k, "ok")
  const a = debit.get(1n, account(from), 1n) as any; const b = credit.get(1n, account(to)) as any
  posting.run(k, account(from), -1n, a.amount, k, account(to), 1n, b.amount); commit.run()
}
const ms = performance.now() - t
console.log(`raw: ${(N / ms * 1000).toFixed(0)} tx/s, ${(ms / N * 1000).toFixed(0)} us/tx, WAL frames/tx ${((statSync(join(dir, "r.db-wal")).size - before) / 4120 / N).toFixed(2)}`)
