/**
 * The write path: a list of operations applied in one (caller-provided) transaction.
 *
 * 1. Validate and canonicalise every operation (no database access).
 * 2. Read and lock what the operations touch, in a fixed order: holds by id, then balance rows by
 *    (account, bucket, currency) with `FOR UPDATE` on PostgreSQL (every row of each account touched),
 *    in the same statement as the stored idempotency rows of their keys. An operation whose key is
 *    stored replays its stored result.
 * 3. Idempotency under concurrency: the key's primary key decides. Two transactions with one new key
 *    both apply it in memory; the second one's INSERT of the key waits for the first and then fails,
 *    and `Transaction.run` retries it, and the retry replays. (SQLite has one writer: no such race.)
 * 4. Apply the operations in memory, in order, against the locked rows: every check (account open,
 *    currency, hold state, funds, ranges) happens here, so a rejected operation writes nothing but
 *    its idempotency record.
 * 5. Write everything in a few set-based statements (one on PostgreSQL): balance deltas, entries,
 *    postings (numbered in application order, each with its balance_after), holds, idempotency rows.
 *    The `CHECK (may_go_negative OR amount >= 0)` constraint backs the in-memory check.
 */
import { type SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { ErrorCatalogue, Ids, Money } from "@clawbounties/domain"
import { Effect } from "effect"
import type { YieldWrap } from "effect/Utils"
import type {
  Bucket,
  EntryKind,
  EntryResult,
  Hold,
  HoldResult,
  HoldStatus,
  Leg,
  LedgerFailure,
  Operation,
  OperationResult,
  Posting,
  ReleaseResult
} from "../Ledger.js"
import * as Codec from "./codec.js"
import { holdFromRow } from "./queries.js"
import { BALANCE_LIMIT, firstDifference, isValidationError, type Prepared, prepare } from "./request.js"

export type Dialect = "pg" | "sqlite"

export type Outcome =
  | { readonly _tag: "Ok"; readonly result: OperationResult }
  | { readonly _tag: "Failed"; readonly error: LedgerFailure }

const ok = (result: OperationResult): Outcome => ({ _tag: "Ok", result })
const failed = (error: LedgerFailure): Outcome => ({ _tag: "Failed", error })

// ---------------------------------------------------------------------------------------------
// SQL text with dialect placeholders. The statements are built by hand (not with the tagged
// template) because their shape depends on the number of rows; the text is stable per shape, so
// the SQLite client's prepared-statement cache reuses it.
// ---------------------------------------------------------------------------------------------

class Builder {
  readonly params: Array<unknown> = []
  constructor(readonly dialect: Dialect) {}
  p(value: unknown): string {
    this.params.push(value)
    return this.dialect === "pg" ? `$${this.params.length}` : "?"
  }
  /** `(p, p, p), (p, p, p)` for rows of values; `cast[i]` wraps column i in CAST(... AS type). */
  rows(rows: ReadonlyArray<ReadonlyArray<unknown>>, cast: ReadonlyArray<string | undefined> = []): string {
    let out = ""
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]!
      out += r === 0 ? "(" : ",("
      for (let c = 0; c < row.length; c++) {
        const placeholder = this.p(row[c])
        const type = cast[c]
        out += (c === 0 ? "" : ",") + (type === undefined ? placeholder : `CAST(${placeholder} AS ${type})`)
      }
      out += ")"
    }
    return out
  }
}

const chunk = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** Rows per statement: keeps every statement under SQLite's 32,766 and PostgreSQL's 65,535 parameters. */
const ROWS_PER_STATEMENT = 2000

/**
 * Up to this many rows, SQLite updates them one statement each: `UPDATE ... FROM (VALUES ...)` has
 * a fixed cost of about 65 µs, against 3 µs per single-row update by primary key (measured), and
 * it only pays off past a dozen rows.
 */
const SQLITE_ROW_UPDATES = 8

export const boolFromDb = (value: unknown): boolean => value === true || value === 1 || value === 1n || value === "t"

const tripleKey = (account: string, currency: string, bucket: string) => `${account}\u0000${currency}\u0000${bucket}`

interface BalanceState {
  readonly account: string
  readonly currency: string
  readonly bucket: Bucket
  readonly mayGoNegative: boolean
  amount: bigint
  delta: bigint
}

interface HoldState {
  id: string
  account: string
  currency: string
  amount: bigint
  remaining: bigint
  status: HoldStatus
  createdEntryId: string
  resolvedEntryId: string | null
  readonly isNew: boolean
  resolvedNow: boolean
}

interface StoredRow {
  readonly hash: string
  readonly request: string
  readonly outcome: string
  readonly result: string
}

const holdView = (hold: HoldState): Hold => ({
  id: hold.id,
  account: hold.account,
  currency: hold.currency,
  amount: hold.amount,
  remaining: hold.remaining,
  status: hold.status,
  createdEntryId: hold.createdEntryId,
  resolvedEntryId: hold.resolvedEntryId
})

/** Replays a stored row for a request with the same key. */
const replay = (prepared: Prepared, row: StoredRow): Outcome => {
  if (row.hash !== prepared.hash) {
    return failed(new ErrorCatalogue.IdempotencyConflict({
      key: prepared.key,
      field: firstDifference(row.request, prepared.requestJson)
    }))
  }
  return row.outcome === "ok" ? ok(Codec.decodeResult(row.result)) : failed(Codec.decodeFailure(row.result))
}

/**
 * One statement that reads (and on PostgreSQL locks, in a fixed order) the balance rows `triples`
 * and reads the stored idempotency rows of `keys`. A balance row has a null `key`.
 */
const lockAndLookup = (b: Builder, triples: ReadonlyArray<readonly [string, string, Bucket]>, keys: ReadonlyArray<string>): string => {
  const columns = "account, currency, bucket, amount, may_go_negative"
  let prefix = ""
  const parts: Array<string> = []
  if (triples.length > 0) {
    let from: string
    if (b.dialect === "pg") {
      // Every balance row of each account touched, not only those written: two transactions writing
      // one account (say its A and its B) then take their posting ids (a sequence) in commit order.
      // Otherwise the later id could commit first, and a history page read in between would move its
      // cursor past the earlier id, which a client paging on would never see.
      const accounts = [...new Set(triples.map(([account]) => account))].map((account) => b.p(account)).join(",")
      prefix = `WITH locked AS (SELECT ${columns} FROM ledger_balances WHERE account IN (${accounts}) ORDER BY account, bucket, currency FOR UPDATE) `
      from = "locked"
    } else {
      from = `ledger_balances WHERE (account, currency, bucket) IN (VALUES ${b.rows(triples)})`
    }
    parts.push(`SELECT ${columns}, NULL AS key, NULL AS request_hash, NULL AS request, NULL AS outcome, NULL AS result FROM ${from}`)
  }
  if (keys.length > 0) {
    const list = keys.map((key) => b.p(key)).join(",")
    parts.push(`SELECT NULL, NULL, NULL, NULL, NULL, key, request_hash, request, outcome, result FROM ledger_idempotency WHERE key IN (${list})`)
  }
  return prefix + parts.join(" UNION ALL ")
}

export interface EngineDeps {
  readonly sql: SqlClient.SqlClient
  readonly dialect: Dialect
  readonly newId: (kind: Ids.IdKind) => Effect.Effect<string>
  readonly now: Effect.Effect<number>
}

/**
 * A step of {@link apply}: a plain generator that `apply`'s `Effect.gen` runs with `yield*`. As
 * `Effect.gen`s of their own, these steps made a ledger transfer 30% slower (about 200 µs against
 * 150 in memory, measured); delegated to, they cost nothing measurable.
 */
type Step<A> = Generator<YieldWrap<Effect.Effect<unknown, SqlError>>, A, unknown>

/** The operations once validated: one slot per operation, in order. */
interface Batch {
  /** Decided so far: validation failures first, then replays and applied results. */
  readonly outcomes: Array<Outcome | undefined>
  /** Undefined where the operation failed validation. */
  readonly prepared: Array<Prepared | undefined>
  /** The first operation of each key, in order: the ones read for and applied. */
  readonly fresh: ReadonlyArray<number>
  /** Later operations with a key an earlier one of the batch used. */
  readonly duplicates: ReadonlyArray<readonly [index: number, first: number]>
}

/** What the transaction read (and on PostgreSQL locked), changed in memory as operations apply. */
interface Locked {
  readonly stored: Map<string, StoredRow>
  readonly holds: Map<string, HoldState>
  readonly balances: Map<string, BalanceState>
  /** Every balance location the fresh operations touch, in lock order. */
  readonly triples: ReadonlyArray<readonly [string, string, Bucket]>
}

/** The rows the applied operations add. */
interface Changes {
  readonly entries: Array<ReadonlyArray<unknown>>
  readonly postings: Array<ReadonlyArray<unknown>>
  readonly idempotency: Array<{ readonly index: number; readonly outcome: "ok" | "failed"; readonly result: string; readonly entryId: string | null }>
}

/** Applies `operations`; must run inside a transaction. One outcome per operation, in order. */
export const apply = (deps: EngineDeps, operations: ReadonlyArray<Operation>): Effect.Effect<Array<Outcome>, SqlError> =>
  Effect.gen(function* () {
    const batch = prepareBatch(operations)
    if (batch.fresh.length === 0) return resolveDuplicates(batch, emptyLocked())
    const locked = yield* readAndLock(deps, batch)

    // The entries' time is read once their rows are locked, not before: an entry that waited for
    // another's locks is then dated no earlier than it, so dates follow the order of postings on each
    // account (and of each balance_after). Dated before the wait, an entry sent at 23:59:59.999 that
    // waited for one of 00:00 fell in the old month, and that month's statement ended on a balance
    // counting the new month's money.
    const now = yield* deps.now
    const toApply: Array<number> = []
    for (const i of batch.fresh) {
      const row = locked.stored.get(batch.prepared[i]!.key)
      if (row !== undefined) batch.outcomes[i] = replay(batch.prepared[i]!, row)
      else toApply.push(i)
    }
    if (toApply.length > 0) {
      const changes = yield* applyInMemory(deps, batch, locked, toApply, now)
      yield* write(deps, batch, locked, changes, now)
    }
    return resolveDuplicates(batch, locked)
  })

const emptyLocked = (): Locked => ({ stored: new Map(), holds: new Map(), balances: new Map(), triples: [] })

// --- 1. validate and canonicalise ----------------------------------------------------------------

const prepareBatch = (operations: ReadonlyArray<Operation>): Batch => {
  const outcomes: Array<Outcome | undefined> = new Array(operations.length)
  const prepared: Array<Prepared | undefined> = new Array(operations.length)
  const firstIndex = new Map<string, number>()
  const duplicates: Array<readonly [index: number, first: number]> = []
  for (let i = 0; i < operations.length; i++) {
    const p = prepare(operations[i]!)
    if (isValidationError(p)) {
      outcomes[i] = failed(p)
      continue
    }
    prepared[i] = p
    const first = firstIndex.get(p.key)
    if (first === undefined) firstIndex.set(p.key, i)
    else duplicates.push([i, first])
  }
  return { outcomes, prepared, fresh: [...firstIndex.values()], duplicates }
}

// --- 2. read and lock, holds first, then balances, with the stored idempotency rows ----------------

/**
 * Every operation with a fresh key is read for, replays included: a replay's rows are known only
 * once its key is read, and reading the key with the balances saves a round trip for the common
 * case, a new key. On PostgreSQL the keys are read from the statement's snapshot, before any lock
 * wait: a concurrent request with the same key that commits meanwhile is not seen, and this
 * transaction's INSERT of the key then fails on its primary key, which `Transaction.run` retries
 * (`isRetryable`), and the retry replays the stored result. So exactly one of them writes.
 */
function* readAndLock(deps: EngineDeps, batch: Batch): Step<Locked> {
  const { dialect, sql } = deps
  const { fresh, prepared } = batch
  const stored = new Map<string, StoredRow>()
  const holds = new Map<string, HoldState>()
  const balances = new Map<string, BalanceState>()
  const holdIds = [...new Set(fresh.flatMap((i) => {
    const plan = prepared[i]!.plan
    return plan._tag === "Release" || plan._tag === "Void" ? [plan.holdId] : []
  }))].sort()
  for (const part of chunk(holdIds, ROWS_PER_STATEMENT)) {
    const b = new Builder(dialect)
    const list = part.map((id) => b.p(id)).join(",")
    const rows = yield* sql.unsafe<Record<string, unknown>>(
      `SELECT id, account, currency, amount, remaining, status, created_entry_id, resolved_entry_id FROM ledger_holds WHERE id IN (${list}) ORDER BY id${dialect === "pg" ? " FOR UPDATE" : ""}`,
      b.params
    )
    for (const row of rows) holds.set(row.id as string, { ...holdFromRow(row), isNew: false, resolvedNow: false })
  }

  const wanted = new Map<string, readonly [string, string, Bucket]>()
  const want = (account: string, currency: string, bucket: Bucket) => {
    const key = tripleKey(account, currency, bucket)
    if (!wanted.has(key)) wanted.set(key, [account, currency, bucket])
  }
  for (const i of fresh) {
    const p = prepared[i]!
    const plan = p.plan
    switch (plan._tag) {
      case "Legs":
        for (const leg of plan.legs) want(leg.account, p.currency!, leg.bucket)
        break
      case "Hold":
        want(plan.account, p.currency!, "A")
        want(plan.account, p.currency!, "H")
        break
      case "Release":
      case "Void": {
        const hold = holds.get(plan.holdId)
        if (hold === undefined) break
        want(hold.account, hold.currency, "A")
        want(hold.account, hold.currency, "H")
        if (plan._tag === "Release") for (const d of plan.destinations) want(d.account, hold.currency, d.bucket)
        break
      }
    }
  }
  const triples = [...wanted.values()].sort((x, y) =>
    x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[2] < y[2] ? -1 : x[2] > y[2] ? 1 : x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0
  )
  const keyParts = chunk(fresh.map((i) => prepared[i]!.key).sort(), ROWS_PER_STATEMENT)
  const tripleParts = chunk(triples, ROWS_PER_STATEMENT)
  for (let n = 0; n < Math.max(keyParts.length, tripleParts.length); n++) {
    const b = new Builder(dialect)
    const rows = yield* sql.unsafe<Record<string, unknown>>(lockAndLookup(b, tripleParts[n] ?? [], keyParts[n] ?? []), b.params)
    for (const row of rows) {
      if (row.key !== null) {
        stored.set(row.key as string, {
          hash: row.request_hash as string,
          request: row.request as string,
          outcome: row.outcome as string,
          result: row.result as string
        })
        continue
      }
      balances.set(tripleKey(row.account as string, row.currency as string, row.bucket as string), {
        account: row.account as string,
        currency: row.currency as string,
        bucket: row.bucket as Bucket,
        mayGoNegative: boolFromDb(row.may_go_negative),
        amount: Money.fromDb(row.amount),
        delta: 0n
      })
    }
  }
  return { stored, holds, balances, triples }
}

// --- 4. apply in memory, in order ------------------------------------------------------------------

/**
 * Every check (account open, currency, hold state, funds, ranges) happens here, against the locked
 * rows, so a rejected operation writes nothing but its idempotency record.
 */
function* applyInMemory(deps: EngineDeps, batch: Batch, locked: Locked, toApply: ReadonlyArray<number>, now: number): Step<Changes> {
  const { outcomes, prepared } = batch
  const { balances, holds } = locked
  const missingFailure = yield* failureOfMissing(deps, locked)
  const entries: Array<ReadonlyArray<unknown>> = []
  const postings: Array<ReadonlyArray<unknown>> = []
  const idempotency: Changes["idempotency"] = []

  for (const i of toApply) {
    const p = prepared[i]!
    const plan = p.plan
    let currency = p.currency
    let legs: Array<Leg>
    let hold: HoldState | undefined
    let released = 0n
    let failure: LedgerFailure | undefined

    switch (plan._tag) {
      case "Legs":
        legs = plan.legs.slice()
        break
      case "Hold":
        legs = [
          { account: plan.account, bucket: "A", amount: -plan.amount },
          { account: plan.account, bucket: "H", amount: plan.amount }
        ]
        break
      case "Release":
      case "Void": {
        legs = []
        hold = holds.get(plan.holdId)
        if (hold === undefined) {
          failure = new ErrorCatalogue.HoldNotFound({ holdId: plan.holdId })
          break
        }
        currency = hold.currency
        if (hold.status !== "open") {
          failure = new ErrorCatalogue.HoldAlreadyResolved({ holdId: hold.id, status: hold.status })
          break
        }
        legs.push({ account: hold.account, bucket: "H", amount: -hold.remaining })
        if (plan._tag === "Release") {
          for (const d of plan.destinations) {
            released += d.amount
            legs.push(d)
          }
          if (released > hold.remaining) {
            failure = new ErrorCatalogue.HoldOverspent({ holdId: hold.id, remaining: hold.remaining, requested: released })
            break
          }
        }
        if (hold.remaining - released > 0n) legs.push({ account: hold.account, bucket: "A", amount: hold.remaining - released })
        break
      }
    }

    // Merge legs per location (a release may pay the holder's own bucket), keep first-seen order.
    const merged: Array<{ state: BalanceState; amount: bigint }> = []
    if (failure === undefined) {
      for (const leg of legs) {
        const state = balances.get(tripleKey(leg.account, currency!, leg.bucket))
        if (state === undefined) {
          failure = missingFailure(leg.account, currency!)
          break
        }
        const existing = merged.find((m) => m.state === state)
        if (existing !== undefined) existing.amount += leg.amount
        else merged.push({ state, amount: leg.amount })
      }
    }
    if (failure === undefined) {
      for (const m of merged) {
        const after = m.state.amount + m.amount
        if (m.amount < 0n && !m.state.mayGoNegative && after < 0n) {
          failure = new ErrorCatalogue.InsufficientFunds({
            account: m.state.account,
            bucket: m.state.bucket,
            available: m.state.amount,
            requested: -m.amount
          })
          break
        }
        if (after > BALANCE_LIMIT || after < -BALANCE_LIMIT) {
          failure = new ErrorCatalogue.AmountOutOfRange({ field: "balance", amount: after, min: -BALANCE_LIMIT, max: BALANCE_LIMIT })
          break
        }
      }
    }

    if (failure !== undefined) {
      outcomes[i] = failed(failure)
      idempotency.push({ index: i, outcome: "failed", result: Codec.encodeFailure(failure as Codec.StorableFailure), entryId: null })
      continue
    }

    const entryId = yield* deps.newId("journalEntry")
    const entryPostings: Array<Posting> = []
    for (const m of merged) {
      if (m.amount === 0n) continue
      m.state.amount += m.amount
      m.state.delta += m.amount
      entryPostings.push({ account: m.state.account, bucket: m.state.bucket, currency: currency!, amount: m.amount, balanceAfter: m.state.amount })
      postings.push([entryId, m.state.account, currency!, m.state.bucket, m.amount, m.state.amount])
    }
    let holdId: string | null = null
    let result: OperationResult
    const base: EntryResult = { entryId, kind: p.kind as EntryKind, currency: currency!, createdAt: now, postings: entryPostings }
    if (plan._tag === "Hold") {
      const created: HoldState = {
        id: yield* deps.newId("hold"),
        account: plan.account,
        currency: currency!,
        amount: plan.amount,
        remaining: plan.amount,
        status: "open",
        createdEntryId: entryId,
        resolvedEntryId: null,
        isNew: true,
        resolvedNow: false
      }
      holds.set(created.id, created)
      holdId = created.id
      result = { ...base, hold: holdView(created) } satisfies HoldResult
    } else if (hold !== undefined) {
      const returned = hold.remaining - released
      hold.remaining = 0n
      hold.status = plan._tag === "Release" ? "released" : "voided"
      hold.resolvedEntryId = entryId
      hold.resolvedNow = true
      holdId = hold.id
      result = { ...base, hold: holdView(hold), released, returned } satisfies ReleaseResult
    } else {
      result = base
    }
    entries.push([entryId, p.kind, currency!, p.key, holdId, p.metadataJson, now])
    outcomes[i] = ok(result)
    idempotency.push({ index: i, outcome: "ok", result: Codec.encodeResult(result), entryId })
  }
  return { entries, postings, idempotency }
}

/**
 * The failure for a location with no balance row: its account is unknown, or open in other
 * currencies only. The accounts behind the missing rows are read once, for all operations.
 */
function* failureOfMissing(deps: EngineDeps, locked: Locked): Step<(account: string, currency: string) => LedgerFailure> {
  const accountCurrencies = new Map<string, Array<string>>()
  const missingAccounts = [...new Set(locked.triples.filter(([a, c, k]) => !locked.balances.has(tripleKey(a, c, k))).map(([a]) => a))]
  for (const part of chunk(missingAccounts, ROWS_PER_STATEMENT)) {
    const b = new Builder(deps.dialect)
    const list = part.map((account) => b.p(account)).join(",")
    const rows = yield* deps.sql.unsafe<{ account: string; currency: string }>(
      `SELECT account, currency FROM ledger_accounts WHERE account IN (${list}) ORDER BY currency`,
      b.params
    )
    for (const row of rows) {
      const list = accountCurrencies.get(row.account) ?? []
      list.push(row.currency)
      accountCurrencies.set(row.account, list)
    }
  }
  return (account, currency) => {
    const currencies = accountCurrencies.get(account)
    return currencies === undefined
      ? new ErrorCatalogue.UnknownAccount({ account, currency })
      : new ErrorCatalogue.CurrencyMismatch({ account, currency, accountCurrencies: currencies })
  }
}

// --- 5. write ----------------------------------------------------------------------------------------

/** Writes the changes in a few set-based statements, one round trip on PostgreSQL. */
function* write(deps: EngineDeps, batch: Batch, locked: Locked, changes: Changes, now: number): Step<void> {
  const { dialect, sql } = deps
  const pg = dialect === "pg"
  const { prepared } = batch
  const { entries, idempotency, postings } = changes
  const statements: Array<(b: Builder) => string> = []
  const deltas = [...locked.balances.values()].filter((s) => s.delta !== 0n)
  if (!pg && deltas.length <= SQLITE_ROW_UPDATES) {
    for (const s of deltas) {
      statements.push((b) =>
        `UPDATE ledger_balances SET amount = amount + ${b.p(s.delta)} WHERE account = ${b.p(s.account)} AND currency = ${b.p(s.currency)} AND bucket = ${b.p(s.bucket)}`
      )
    }
  } else for (const part of chunk(deltas, ROWS_PER_STATEMENT)) {
    statements.push((b) => {
      const values = b.rows(part.map((s) => [s.account, s.currency, s.bucket, s.delta]), [undefined, undefined, undefined, "BIGINT"])
      return pg
        ? `UPDATE ledger_balances AS t SET amount = t.amount + v.delta FROM (VALUES ${values}) AS v (account, currency, bucket, delta) WHERE t.account = v.account AND t.currency = v.currency AND t.bucket = v.bucket`
        : `WITH v (account, currency, bucket, delta) AS (VALUES ${values}) UPDATE ledger_balances SET amount = amount + v.delta FROM v WHERE ledger_balances.account = v.account AND ledger_balances.currency = v.currency AND ledger_balances.bucket = v.bucket`
    })
  }
  for (const part of chunk(entries, ROWS_PER_STATEMENT)) {
    statements.push((b) => `INSERT INTO ledger_entries (id, kind, currency, idempotency_key, hold_id, metadata, created_at) VALUES ${b.rows(part)}`)
  }
  for (const part of chunk(postings, ROWS_PER_STATEMENT)) {
    statements.push((b) => `INSERT INTO ledger_postings (entry_id, account, currency, bucket, amount, balance_after) VALUES ${b.rows(part)}`)
  }
  const holdRow = (h: HoldState) => [h.id, h.account, h.currency, h.amount, h.remaining, h.status, h.createdEntryId, h.resolvedEntryId]
  const newHolds = [...locked.holds.values()].filter((h) => h.isNew)
  for (const part of chunk(newHolds, ROWS_PER_STATEMENT)) {
    statements.push((b) => `INSERT INTO ledger_holds (id, account, currency, amount, remaining, status, created_entry_id, resolved_entry_id) VALUES ${b.rows(part.map(holdRow))}`)
  }
  const resolved = [...locked.holds.values()].filter((h) => !h.isNew && h.resolvedNow)
  if (!pg && resolved.length <= SQLITE_ROW_UPDATES) {
    for (const h of resolved) {
      statements.push((b) =>
        `UPDATE ledger_holds SET remaining = 0, status = ${b.p(h.status)}, resolved_entry_id = ${b.p(h.resolvedEntryId)} WHERE id = ${b.p(h.id)}`
      )
    }
  } else for (const part of chunk(resolved, ROWS_PER_STATEMENT)) {
    statements.push((b) => {
      const values = b.rows(part.map((h) => [h.id, h.status, h.resolvedEntryId]))
      return pg
        ? `UPDATE ledger_holds AS t SET remaining = 0, status = v.status, resolved_entry_id = v.entry FROM (VALUES ${values}) AS v (id, status, entry) WHERE t.id = v.id`
        : `WITH v (id, status, entry) AS (VALUES ${values}) UPDATE ledger_holds SET remaining = 0, status = v.status, resolved_entry_id = v.entry FROM v WHERE ledger_holds.id = v.id`
    })
  }
  // In key order, so two transactions inserting overlapping keys wait on each other in one order.
  const keyed = [...idempotency].sort((x, y) => (prepared[x.index]!.key < prepared[y.index]!.key ? -1 : 1))
  for (const part of chunk(keyed, ROWS_PER_STATEMENT)) {
    statements.push((b) => {
      const values = b.rows(part.map((r) => {
        const p = prepared[r.index]!
        return [p.key, p.op, p.hash, p.requestJson, r.outcome, r.result, r.entryId, now]
      }))
      return `INSERT INTO ledger_idempotency (key, op, request_hash, request, outcome, result, entry_id, created_at) VALUES ${values}`
    })
  }

  if (pg && entries.length + postings.length + idempotency.length <= ROWS_PER_STATEMENT) {
    // One round trip: data-modifying CTEs all run, and foreign keys are checked at the end.
    const b = new Builder(dialect)
    const parts = statements.map((statement, n) => `w${n} AS (${statement(b)})`)
    yield* sql.unsafe(`WITH ${parts.join(", ")} SELECT 1`, b.params)
  } else {
    for (const statement of statements) {
      const b = new Builder(dialect)
      const text = statement(b)
      yield* sql.unsafe(text, b.params)
    }
  }
}

// --- duplicates within the batch --------------------------------------------------------------------

/**
 * A later operation with a key the batch already used: a stored key is judged against the request
 * stored under it, not against the batch's first use of the key (which may itself have been a
 * conflicting request); a new one against that first use.
 */
const resolveDuplicates = (batch: Batch, locked: Locked): Array<Outcome> => {
  const { duplicates, outcomes, prepared } = batch
  for (const [index, first] of duplicates) {
    const p = prepared[index]!
    const original = prepared[first]!
    const row = locked.stored.get(p.key)
    outcomes[index] = row !== undefined
      ? replay(p, row)
      : p.hash === original.hash
      ? outcomes[first]!
      : failed(new ErrorCatalogue.IdempotencyConflict({ key: p.key, field: firstDifference(original.requestJson, p.requestJson) }))
  }
  return outcomes as Array<Outcome>
}
