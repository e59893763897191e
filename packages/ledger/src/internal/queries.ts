/**
 * The read side: balances, holds, history, monthly statements and reconciliation. Every money column
 * is read through `Money.fromDb` (pg returns BIGINT as a string, SQLite as a bigint with safe integers).
 */
import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { ErrorCatalogue, Money } from "@clawbounties/domain"
import { Effect } from "effect"
import type {
  Balances,
  Bucket,
  Discrepancy,
  EntryKind,
  HistoryInput,
  HistoryPage,
  Hold,
  HoldStatus,
  Metadata,
  ReconcileReport,
  Statement,
  StatementInput,
  StatementLine,
  StatementLineType
} from "../Ledger.js"
import { differs, halves, whole } from "../Sums.js"
import { BUCKETS } from "./request.js"

const num = (value: unknown): number => Number(value)

export const balances = (sql: SqlClient.SqlClient, account: string): Effect.Effect<Balances, ErrorCatalogue.UnknownAccount | SqlError> =>
  Effect.gen(function* () {
    // One statement, so the buckets come from one consistent snapshot.
    const rows = yield* sql<{ currency: string; bucket: Bucket; amount: unknown }>`
      SELECT currency, bucket, amount FROM ledger_balances WHERE account = ${account} ORDER BY currency, bucket`
    if (rows.length === 0) return yield* new ErrorCatalogue.UnknownAccount({ account })
    const out: Record<string, Record<Bucket, bigint>> = {}
    for (const row of rows) {
      const byBucket = out[row.currency] ??= { A: 0n, H: 0n, B: 0n, F: 0n, P: 0n }
      byBucket[row.bucket] = Money.fromDb(row.amount)
    }
    return out
  })

export const holdFromRow = (row: Record<string, unknown>): Hold => ({
  id: row.id as string,
  account: row.account as string,
  currency: row.currency as string,
  amount: Money.fromDb(row.amount),
  remaining: Money.fromDb(row.remaining),
  status: row.status as HoldStatus,
  createdEntryId: row.created_entry_id as string,
  resolvedEntryId: (row.resolved_entry_id as string | null) ?? null
})

export const getHold = (sql: SqlClient.SqlClient, holdId: string): Effect.Effect<Hold, ErrorCatalogue.HoldNotFound | SqlError> =>
  Effect.gen(function* () {
    const rows = yield* sql<Record<string, unknown>>`
      SELECT id, account, currency, amount, remaining, status, created_entry_id, resolved_entry_id
      FROM ledger_holds WHERE id = ${holdId}`
    if (rows.length === 0) return yield* new ErrorCatalogue.HoldNotFound({ holdId })
    return holdFromRow(rows[0]!)
  })

const parseMetadata = (json: unknown): Metadata => JSON.parse(String(json)) as Metadata

export const history = (sql: SqlClient.SqlClient, input: HistoryInput): Effect.Effect<HistoryPage, SqlError | ErrorCatalogue.InvalidRequest> =>
  Effect.gen(function* () {
    const limit = input.limit !== undefined && Number.isFinite(input.limit) ? Math.min(Math.max(Math.trunc(input.limit), 1), 500) : 50
    // A cursor is a posting id this query returned; anything else would silently restart at page 1.
    if (input.cursor !== undefined && !/^[1-9][0-9]{0,17}$/.test(input.cursor)) {
      return yield* new ErrorCatalogue.InvalidRequest({
        message: "cursor is not one this API returned",
        issues: [{ path: "cursor", message: "invalid cursor" }]
      })
    }
    const cursor = input.cursor === undefined ? undefined : BigInt(input.cursor)
    // ... and a posting of this account: another account's posting id, or one no posting has, would
    // start the page wherever that id happens to fall (page 1 again, for an id past the last).
    if (cursor !== undefined) {
      const owner = yield* sql<{ account: string }>`SELECT account FROM ledger_postings WHERE id = ${cursor}`
      if (owner.length === 0 || owner[0]!.account !== input.account) {
        return yield* new ErrorCatalogue.InvalidRequest({
          message: "cursor is not one this API returned for this account",
          issues: [{ path: "cursor", message: "invalid cursor" }]
        })
      }
    }
    // One index range (account, currency, id) per currency, newest first, each stopping at the page:
    // ordering all of an account's currencies at once sorted every posting it ever had, on every
    // page (the fee pool gains one with each job). The ranges are merged here.
    const currencies = input.currency !== undefined
      ? [input.currency]
      : (yield* sql<{ currency: string }>`SELECT currency FROM ledger_accounts WHERE account = ${input.account}`).map((row) => row.currency)
    const ranges = yield* Effect.forEach(currencies, (currency) =>
      sql<Record<string, unknown>>`
        SELECT p.id, p.entry_id, e.kind, e.created_at, p.bucket, p.currency, p.amount, p.balance_after, e.metadata
        FROM ledger_postings p JOIN ledger_entries e ON e.id = p.entry_id
        WHERE p.account = ${input.account} AND p.currency = ${currency}
          ${cursor !== undefined ? sql`AND p.id < ${cursor}` : sql``}
        ORDER BY p.id DESC
        LIMIT ${limit + 1}`)
    const rows = ranges.length === 1
      ? ranges[0]!
      : ranges.flat().sort((a, b) => (BigInt(b.id as number | bigint) > BigInt(a.id as number | bigint) ? 1 : -1)).slice(0, limit + 1)
    const items = rows.slice(0, limit).map((row) => ({
      cursor: String(row.id),
      entryId: row.entry_id as string,
      kind: row.kind as EntryKind,
      createdAt: num(row.created_at),
      bucket: row.bucket as Bucket,
      currency: row.currency as string,
      amount: Money.fromDb(row.amount),
      balanceAfter: Money.fromDb(row.balance_after),
      metadata: parseMetadata(row.metadata)
    }))
    return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.cursor : null }
  })

const MONTH = /^([0-9]{4})-(0[1-9]|1[0-2])$/

/** Classifies an entry's net effect on the DID for the statement (spec A3.6). */
const lineType = (kind: string, net: bigint, holdAccount: string | null, did: string): StatementLineType => {
  if (kind === "release" && net > 0n && holdAccount !== did) return "bounty_payment"
  if (kind === "fee_transfer" && net < 0n) return "platform_fee"
  if (kind === "tip_transfer") return net > 0n ? "tip_received" : "tip_paid"
  if ((kind === "payout_settle" || kind === "burn") && net < 0n) return "payout"
  if (kind === "mint" && net > 0n) return "deposit"
  if (kind === "adjustment") return "adjustment"
  return "other"
}

/** The first instant of a month. `Date.UTC` would read years 0–99 as 1900–1999. */
const monthStart = (year: number, monthIndex: number): number => new Date(0).setUTCFullYear(year, monthIndex, 1)

export const statement = (
  sql: SqlClient.SqlClient,
  input: StatementInput
): Effect.Effect<Statement, ErrorCatalogue.InvalidRequest | SqlError> =>
  Effect.gen(function* () {
    const match = MONTH.exec(input.month)
    if (match === null) return yield* new ErrorCatalogue.InvalidRequest({ message: "month must be YYYY-MM" })
    const year = Number(match[1])
    const month = Number(match[2])
    const start = monthStart(year, month - 1)
    const end = monthStart(year, month)
    const currency = input.currency ?? "USD"
    // The net change of the DID's holdings per entry: moves between its own buckets net to zero and
    // are not statement lines.
    // `fees_out`: what the entry paid into other accounts' fee buckets, for a payer's release.
    const rows = yield* sql<Record<string, unknown>>`
      SELECT p.entry_id, e.kind, e.created_at, e.metadata, h.account AS hold_account,
             SUM(p.amount) AS net, MIN(p.id) AS first_posting,
             (SELECT COALESCE(SUM(f.amount), 0) FROM ledger_postings f
               WHERE f.entry_id = p.entry_id AND f.bucket = 'F' AND f.account <> ${input.did}) AS fees_out
      FROM ledger_postings p
      JOIN ledger_entries e ON e.id = p.entry_id
      LEFT JOIN ledger_holds h ON h.id = e.hold_id
      WHERE p.account = ${input.did} AND p.currency = ${currency}
        AND e.created_at >= ${start} AND e.created_at < ${end}
      GROUP BY p.entry_id, e.kind, e.created_at, e.metadata, h.account
      ORDER BY first_posting`
    const ending = yield* sql<{ balance_after: unknown }>`
      SELECT p.balance_after FROM ledger_postings p JOIN ledger_entries e ON e.id = p.entry_id
      WHERE p.account = ${input.did} AND p.currency = ${currency} AND p.bucket = 'A' AND e.created_at < ${end}
      ORDER BY p.id DESC LIMIT 1`
    const lines: Array<StatementLine> = []
    let grossEarned = 0n
    let feesPaid = 0n
    let tipsReceived = 0n
    let tipsPaid = 0n
    let payouts = 0n
    for (const row of rows) {
      const net = Money.fromDb(row.net)
      if (net === 0n) continue
      const kind = row.kind as EntryKind
      const holdAccount = (row.hold_account as string | null) ?? null
      const line = (type: StatementLineType, amount: bigint) => {
        if (type === "bounty_payment") grossEarned += amount
        if (type === "platform_fee") feesPaid += -amount
        if (type === "tip_received") tipsReceived += amount
        if (type === "tip_paid") tipsPaid += -amount
        if (type === "payout") payouts += -amount
        lines.push({
          type,
          entryId: row.entry_id as string,
          kind,
          amount,
          timestamp: new Date(num(row.created_at)).toISOString(),
          metadata: parseMetadata(row.metadata)
        })
      }
      // The payer's side of an escrow release: what the worker got, and the fee, as two lines.
      if (kind === "release" && holdAccount === input.did && net < 0n) {
        const fee = Money.fromDb(row.fees_out)
        if (net + fee < 0n) line("bounty_paid", net + fee)
        if (fee > 0n) line("platform_fee", -fee)
        continue
      }
      line(lineType(kind, net, holdAccount, input.did), net)
    }
    return {
      did: input.did,
      month: input.month,
      currency,
      grossEarned,
      feesPaid,
      netEarned: grossEarned - feesPaid,
      tipsReceived,
      tipsPaid,
      payouts,
      endingBalance: ending.length > 0 ? Money.fromDb(ending[0]!.balance_after) : 0n,
      lineItems: lines
    }
  })

/** Recomputes every balance from the postings and checks the invariants of ARCHITECTURE §3. */
export const reconcile = (sql: SqlClient.SqlClient): Effect.Effect<ReconcileReport, SqlError> =>
  Effect.gen(function* () {
    const discrepancies: Array<Discrepancy> = []
    const found = (kind: Discrepancy["kind"], detail: string) => discrepancies.push({ kind, detail })
    const where = (row: Record<string, unknown>) => `${row.account}/${row.currency}/${row.bucket}`

    const counts = (yield* sql<Record<string, unknown>>`
      SELECT (SELECT COUNT(*) FROM ledger_accounts) AS accounts, (SELECT COUNT(*) FROM ledger_entries) AS entries,
             (SELECT COUNT(*) FROM ledger_postings) AS postings, (SELECT COUNT(*) FROM ledger_holds) AS holds`)[0]!

    // Each balance equals the sum of its postings. Sums of postings are taken in halves (see `halves`).
    for (const row of yield* sql<Record<string, unknown>>`
      SELECT account, currency, bucket, amount, hi, lo FROM (
        SELECT b.account, b.currency, b.bucket, b.amount, ${sql.literal(halves("p.amount"))}
        FROM ledger_balances b LEFT JOIN ledger_postings p
          ON p.account = b.account AND p.currency = b.currency AND p.bucket = b.bucket
        GROUP BY b.account, b.currency, b.bucket, b.amount) sums
      WHERE ${sql.literal(differs("amount"))}`) {
      found("balance_differs_from_postings", `${where(row)}: balance ${Money.fromDb(row.amount)}, postings sum to ${whole(row)}`)
    }
    // Only world:* balances may be negative.
    for (const row of yield* sql<Record<string, unknown>>`
      SELECT b.account, b.currency, b.bucket, b.amount FROM ledger_balances b
      WHERE b.amount < 0 AND substr(b.account, 1, 6) <> 'world:'`) {
      found("negative_balance", `${where(row)}: ${Money.fromDb(row.amount)}`)
    }
    // Every entry has at least two postings, in its own currency, summing to zero.
    for (const row of yield* sql<Record<string, unknown>>`
      SELECT id, legs, hi, lo, foreign_legs FROM (
        SELECT e.id, COUNT(p.id) AS legs, ${sql.literal(halves("p.amount"))},
               SUM(CASE WHEN p.currency <> e.currency THEN 1 ELSE 0 END) AS foreign_legs
        FROM ledger_entries e LEFT JOIN ledger_postings p ON p.entry_id = e.id
        GROUP BY e.id, e.currency) sums
      WHERE legs < 2 OR ${sql.literal(differs("0"))} OR foreign_legs > 0`) {
      found("entry_not_balanced", `${row.id}: ${num(row.legs)} postings summing to ${whole(row)}, ${num(row.foreign_legs ?? 0)} in another currency`)
    }
    // The sum of all balances is zero, per currency (summed in halves).
    for (const row of yield* sql<Record<string, unknown>>`
      SELECT currency, ${sql.literal(halves("amount"))} FROM ledger_balances GROUP BY currency`) {
      const total = whole(row)
      if (total !== 0n) found("total_not_zero", `${row.currency}: balances sum to ${total}`)
    }
    // Each posting's balance_after is the previous one plus its amount. The one reported is the one at
    // fault: it also disagrees with the running sum of the amounts. The posting after a corrupt
    // balance_after agrees with that sum, and the one after a corrupt amount with its predecessor.
    // The addition is NUMERIC: a corrupt value near 2^63 would fail it with "bigint out of range" on
    // PostgreSQL (SQLite's integer `+` turns to REAL on overflow, unequal to any 64-bit integer).
    for (const row of yield* sql<Record<string, unknown>>`
      SELECT id, account, currency, bucket, amount, balance_after, prev FROM (
        SELECT id, account, currency, bucket, amount, balance_after, LAG(balance_after) OVER w AS prev,
               CAST(SUM(amount >> 32) OVER w AS BIGINT) AS hi, CAST(SUM(amount & 4294967295) OVER w AS BIGINT) AS lo
        FROM ledger_postings
        WINDOW w AS (PARTITION BY account, currency, bucket ORDER BY id)) chain
      WHERE balance_after <> COALESCE(prev, 0) + CAST(amount AS NUMERIC) AND ${sql.literal(differs("balance_after"))}`) {
      found("balance_after_chain_broken", `posting ${row.id} on ${where(row)}: ${Money.fromDb(row.balance_after)} after ${row.prev === null ? 0n : Money.fromDb(row.prev)} + ${Money.fromDb(row.amount)}`)
    }
    // Each account's H equals the sum of its open holds (summed in halves, as the postings are).
    for (const row of yield* sql<Record<string, unknown>>`
      SELECT account, currency, bucket, amount, hi, lo FROM (
        SELECT b.account, b.currency, b.bucket, b.amount, ${sql.literal(halves("h.remaining"))}
        FROM ledger_balances b LEFT JOIN ledger_holds h
          ON h.account = b.account AND h.currency = b.currency AND h.status = 'open'
        WHERE b.bucket = 'H'
        GROUP BY b.account, b.currency, b.bucket, b.amount) sums
      WHERE ${sql.literal(differs("amount"))}`) {
      found("held_differs_from_open_holds", `${where(row)}: H is ${Money.fromDb(row.amount)}, open holds sum to ${whole(row)}`)
    }
    // Holds: open ones hold their whole amount, resolved ones nothing, and their entries exist.
    for (const row of yield* sql<Record<string, unknown>>`
      SELECT h.id, h.status, h.amount, h.remaining FROM ledger_holds h
      WHERE (h.status = 'open' AND h.remaining <> h.amount) OR (h.status <> 'open' AND h.remaining <> 0)
         OR (h.status <> 'open' AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.id = h.resolved_entry_id))`) {
      found("hold_inconsistent", `${row.id}: ${row.status} with ${Money.fromDb(row.remaining)} of ${Money.fromDb(row.amount)}`)
    }
    return {
      ok: discrepancies.length === 0,
      accounts: num(counts.accounts),
      entries: num(counts.entries),
      postings: num(counts.postings),
      holds: num(counts.holds),
      discrepancies
    }
  })

/** Whether the account is open in `currency` (as the transaction, or the last commit, sees it). */
export const accountIsOpen = (sql: SqlClient.SqlClient, account: string, currency: string): Effect.Effect<boolean, SqlError> =>
  Effect.map(
    sql`SELECT 1 AS open FROM ledger_accounts WHERE account = ${account} AND currency = ${currency}`,
    (rows) => rows.length > 0
  )

export const openAccount = (
  sql: SqlClient.SqlClient,
  account: string,
  currency: string,
  mayGoNegative: boolean,
  now: number
): Effect.Effect<boolean, SqlError> =>
  Effect.gen(function* () {
    // `ON CONFLICT DO NOTHING`: opening twice (or concurrently) is harmless; the second sees no row.
    // No conflict target: the row has two unique keys, and on PostgreSQL a concurrent opener that
    // collides on the one not named fails instead of doing nothing (seen with 20 concurrent opens).
    const flag = sql.onDialectOrElse({ pg: () => mayGoNegative, orElse: () => (mayGoNegative ? 1 : 0) })
    const inserted = yield* sql<{ account: string }>`
      INSERT INTO ledger_accounts (account, currency, may_go_negative, opened_at)
      VALUES (${account}, ${currency}, ${flag}, ${now})
      ON CONFLICT DO NOTHING RETURNING account`
    if (inserted.length === 0) return false
    yield* sql`INSERT INTO ledger_balances ${sql.insert(BUCKETS.map((bucket) => ({
      account,
      currency,
      bucket,
      amount: 0,
      may_go_negative: flag
    })))}`
    return true
  })
