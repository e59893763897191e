/** Shared test helpers: layers per database, unique names, row snapshots. */
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { Ids } from "@clawbounties/domain"
import { Ledger } from "@clawbounties/ledger"
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Layer } from "effect"

export const sqliteLayer = () =>
  Ledger.layer.pipe(Layer.provideMerge(Sqlite.layerMemory()), Layer.provide(Ids.IdGen.layerCounter))

export const pgLayer = (prefix: string) =>
  Ledger.layer.pipe(Layer.provideMerge(PgTestDatabase.layer({ prefix })), Layer.provide(Ids.IdGen.layerCounter))

let counter = 0
/** A participant account name no other test uses. */
export const did = (label: string): string => `did:key:z${label}${++counter}x${Math.random().toString(36).slice(2, 8)}`
export const uniqueKey = (label: string): string => `${label}:${++counter}:${Math.random().toString(36).slice(2, 10)}`

/** Every ledger row except the idempotency table, as one string: equal strings, equal state. */
export const snapshot = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const tables = [
    ["ledger_accounts", "account, currency"],
    ["ledger_balances", "account, currency, bucket"],
    ["ledger_entries", "id"],
    ["ledger_postings", "id"],
    ["ledger_holds", "id"]
  ] as const
  const parts: Array<string> = []
  for (const [table, order] of tables) {
    const rows = yield* sql.unsafe(`SELECT * FROM ${table} ORDER BY ${order}`)
    parts.push(JSON.stringify(rows, (_k, v) => (typeof v === "bigint" ? v.toString() : v)))
  }
  return parts.join("\n")
}).pipe(Effect.provideService(SqlClient.SafeIntegers, true))

export const idempotencyRows = (key: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ outcome: string; entry_id: string | null }>`SELECT outcome, entry_id FROM ledger_idempotency WHERE key = ${key}`)

/** A clock fixed at `millis`, for entries with a known date. */
export const clockAt = (millis: number): Clock.Clock => ({
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: () => millis,
  unsafeCurrentTimeNanos: () => BigInt(millis) * 1_000_000n,
  currentTimeMillis: Effect.succeed(millis),
  currentTimeNanos: Effect.succeed(BigInt(millis) * 1_000_000n),
  sleep: () => Effect.void
})

/** Opens accounts and funds them from `world:test`. */
export const funded = (funding: ReadonlyArray<readonly [account: string, amount: bigint]>, currency = "USD") =>
  Effect.gen(function* () {
    const ledger = yield* Ledger.Ledger
    yield* ledger.openAccount({ account: "world:test", currency })
    for (const [account, amount] of funding) {
      yield* ledger.openAccount({ account, currency })
      if (amount > 0n) {
        yield* ledger.mint({ idempotencyKey: uniqueKey("fund"), world: "world:test", account, currency, amount })
      }
    }
  })
