/**
 * The ledger: double-entry accounts, buckets, journal entries, holds and idempotency, over `SqlClient`.
 *
 * Every mutation runs in `sql.withTransaction`. Called inside a caller's transaction it becomes a
 * savepoint of that transaction (how @effect/sql nests), so a command that changes its own rows and
 * moves money commits or rolls back as one unit. Called on its own it is a transaction of its own,
 * retried a bounded number of times on serialization failures and deadlocks (see `Transaction.ts`).
 *
 * Every mutation carries an idempotency key. TigerBeetle's rules apply: the same key with the same
 * request returns the stored result (a stored business failure such as `InsufficientFunds` fails again,
 * identically); the same key with a different request fails with `IdempotencyConflict` naming the first
 * field that differs. The key, the request and the result are written in the same transaction as the
 * postings, and a rejected operation writes nothing but that idempotency record.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { ErrorCatalogue, Ids } from "@clawbounties/domain"
import { Clock, Context, Effect, Either, Layer, Schema } from "effect"
import * as Engine from "./internal/engine.js"
import * as Queries from "./internal/queries.js"
import * as Transaction from "./Transaction.js"

// ---------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------

/**
 * Buckets per account and currency: `A` available, `H` held (moved only by holds), `B` bonded
 * (stakes), `F` fee pool, `P` promo credit.
 */
export const Bucket = Schema.Literal("A", "H", "B", "F", "P")
export type Bucket = typeof Bucket.Type
export const buckets: ReadonlyArray<Bucket> = ["A", "H", "B", "F", "P"]

/**
 * An account name: a participant DID (`did:key:z...`) or a system account `<namespace>:<name>`
 * (`platform:fees`, `clearing:stripe`, `world:stripe`). Only `world:*` accounts, the counterpart of
 * money entering or leaving the system, may go negative.
 */
export const AccountName = Schema.String.pipe(
  Schema.pattern(/^[a-z][a-z0-9_-]*:[A-Za-z0-9._:-]{1,200}$/),
  Schema.annotations({ identifier: "AccountName", examples: ["did:key:z6Mk...", "platform:fees", "world:stripe"] })
)
export type AccountName = string

/** An ISO-4217-style currency code. The ledger is currency-agnostic; the domain decides which it accepts. */
export const Currency = Schema.String.pipe(Schema.pattern(/^[A-Z]{3}$/))
export type Currency = string

/** True for the accounts that may go negative: money entering or leaving the system. */
export const isWorldAccount = (account: AccountName): boolean => account.startsWith("world:")

/** Journal entry kinds (ARCHITECTURE §3). Callers pick the kind that names the business event. */
export const EntryKind = Schema.Literal(
  "mint",
  "burn",
  "transfer",
  "hold",
  "release",
  "refund",
  "stake_lock",
  "stake_release",
  "stake_slash",
  "fee_transfer",
  "tip_transfer",
  "promo_mint",
  "promo_burn",
  "payout_lock",
  "payout_settle",
  "payout_reverse",
  "reversal",
  /** An operator's manual correction of a balance (a credit or a debit), not a deposit or a payout. */
  "adjustment"
)
export type EntryKind = typeof EntryKind.Type

/** Flat, JSON-safe metadata stored with the journal entry (bounty ids, escrow ids, reasons). */
export type MetadataValue = string | number | boolean | null
export type Metadata = Readonly<Record<string, MetadataValue>>

/** An idempotency key: 1 to 255 characters, chosen by the caller and derived from its own intent. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255

/** A place money sits: one bucket of one account (the currency travels with the operation). */
export interface Location {
  readonly account: AccountName
  readonly bucket: Bucket
}

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/** Fields every mutation carries. */
export interface MutationBase {
  readonly idempotencyKey: string
  readonly metadata?: Metadata | undefined
}

export interface OpenAccountInput {
  readonly account: AccountName
  readonly currency: Currency
}

/** Money entering the system: `world` (a `world:*` account) -> `to` (bucket `A` by default). */
export interface MintInput extends MutationBase {
  readonly world: AccountName
  readonly account: AccountName
  readonly bucket?: Bucket | undefined
  readonly currency: Currency
  readonly amount: bigint
  readonly kind?: EntryKind | undefined
}

/** Money leaving the system: `account` (bucket `A` by default) -> `world`. */
export interface BurnInput extends MutationBase {
  readonly account: AccountName
  readonly bucket?: Bucket | undefined
  readonly world: AccountName
  readonly currency: Currency
  readonly amount: bigint
  readonly kind?: EntryKind | undefined
}

/** Any account and bucket to any other (except `H`, which only holds move). */
export interface TransferInput extends MutationBase {
  readonly from: Location
  readonly to: Location
  readonly currency: Currency
  readonly amount: bigint
  readonly kind?: EntryKind | undefined
}

/** One leg of a multi-leg entry: a signed amount (negative debits the bucket). */
export interface Leg {
  readonly account: AccountName
  readonly bucket: Bucket
  readonly amount: bigint
}

/** A multi-leg entry; its legs must sum to zero (`UnbalancedEntry` otherwise). */
export interface PostInput extends MutationBase {
  readonly kind: EntryKind
  readonly currency: Currency
  readonly legs: ReadonlyArray<Leg>
}

/** Moves `amount` from the account's `A` to its `H` and opens a hold row for it. */
export interface HoldInput extends MutationBase {
  readonly account: AccountName
  readonly currency: Currency
  readonly amount: bigint
  /** `hold` by default; `payout_lock` for payouts. */
  readonly kind?: EntryKind | undefined
}

export interface Destination {
  readonly account: AccountName
  readonly bucket: Bucket
  readonly amount: bigint
}

/**
 * Spends a hold: each destination receives its amount out of the holder's `H`; what is left of the
 * hold returns to the holder's `A`. The hold is resolved afterwards (at most once).
 */
export interface ReleaseHoldInput extends MutationBase {
  readonly holdId: string
  readonly destinations: ReadonlyArray<Destination>
  /** `release` by default; `payout_settle` for payouts. */
  readonly kind?: EntryKind | undefined
}

/** Returns the whole remaining hold to the holder's `A` and resolves it as voided. */
export interface VoidHoldInput extends MutationBase {
  readonly holdId: string
  /** `refund` by default; `payout_reverse` for payouts. */
  readonly kind?: EntryKind | undefined
}

/** `A` -> `B` of the same account. */
export interface StakeLockInput extends MutationBase {
  readonly account: AccountName
  readonly currency: Currency
  readonly amount: bigint
}

/** `B` -> `A` of the same account. */
export type StakeReleaseInput = StakeLockInput

/** `B` of `account` -> `to` (the injured party's `A`, or a fee pool). */
export interface StakeSlashInput extends MutationBase {
  readonly account: AccountName
  readonly to: Location
  readonly currency: Currency
  readonly amount: bigint
}

/** `from` (bucket `A` by default) -> `to`'s fee pool `F`. */
export interface FeeTransferInput extends MutationBase {
  readonly from: Location
  readonly to: AccountName
  readonly currency: Currency
  readonly amount: bigint
}

/** Promo credit: `world` -> `account`'s `P`. */
export interface PromoMintInput extends MutationBase {
  readonly world: AccountName
  readonly account: AccountName
  readonly currency: Currency
  readonly amount: bigint
}

/** Promo credit withdrawn: `account`'s `P` -> `world`. */
export type PromoBurnInput = PromoMintInput

/** A mutation as data, for `batch`. `op` names the method. */
export type Operation =
  | ({ readonly op: "mint" } & MintInput)
  | ({ readonly op: "burn" } & BurnInput)
  | ({ readonly op: "transfer" } & TransferInput)
  | ({ readonly op: "post" } & PostInput)
  | ({ readonly op: "hold" } & HoldInput)
  | ({ readonly op: "releaseHold" } & ReleaseHoldInput)
  | ({ readonly op: "voidHold" } & VoidHoldInput)
  | ({ readonly op: "stakeLock" } & StakeLockInput)
  | ({ readonly op: "stakeRelease" } & StakeReleaseInput)
  | ({ readonly op: "stakeSlash" } & StakeSlashInput)
  | ({ readonly op: "feeTransfer" } & FeeTransferInput)
  | ({ readonly op: "promoMint" } & PromoMintInput)
  | ({ readonly op: "promoBurn" } & PromoBurnInput)

export type OperationName = Operation["op"]

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

/** One posting as written: signed amount, and the bucket's balance right after it. */
export interface Posting {
  readonly account: AccountName
  readonly bucket: Bucket
  readonly currency: Currency
  readonly amount: bigint
  readonly balanceAfter: bigint
}

export type HoldStatus = "open" | "released" | "voided"

export interface Hold {
  readonly id: string
  readonly account: AccountName
  readonly currency: Currency
  readonly amount: bigint
  /** What is still held: `amount` while open, 0 once resolved. */
  readonly remaining: bigint
  readonly status: HoldStatus
  readonly createdEntryId: string
  readonly resolvedEntryId: string | null
}

/** The result of every mutation: the journal entry it wrote. */
export interface EntryResult {
  readonly entryId: string
  readonly kind: EntryKind
  readonly currency: Currency
  /** Milliseconds since the epoch, from `Clock`. */
  readonly createdAt: number
  readonly postings: ReadonlyArray<Posting>
}

export interface HoldResult extends EntryResult {
  readonly hold: Hold
}

export interface ReleaseResult extends EntryResult {
  readonly hold: Hold
  /** Paid to the destinations. */
  readonly released: bigint
  /** Returned to the holder's `A`. */
  readonly returned: bigint
}

export type OperationResult = EntryResult | HoldResult | ReleaseResult

export interface OpenAccountResult {
  readonly account: AccountName
  readonly currency: Currency
  /** False when the account was already open (opening is idempotent). */
  readonly created: boolean
}

/** Balances per currency, then per bucket: `balances.USD.A`. */
export type Balances = Readonly<Record<Currency, Readonly<Record<Bucket, bigint>>>>

export interface HistoryItem {
  /** Opaque; pass it as `cursor` to continue after this item. */
  readonly cursor: string
  readonly entryId: string
  readonly kind: EntryKind
  readonly createdAt: number
  readonly bucket: Bucket
  readonly currency: Currency
  readonly amount: bigint
  readonly balanceAfter: bigint
  readonly metadata: Metadata
}

export interface HistoryInput {
  readonly account: AccountName
  readonly currency?: Currency | undefined
  /** Continue after this item (newest first). */
  readonly cursor?: string | undefined
  /** 1..500, 50 by default. */
  readonly limit?: number | undefined
}

export interface HistoryPage {
  readonly items: ReadonlyArray<HistoryItem>
  readonly nextCursor: string | null
}

export interface StatementInput {
  readonly did: AccountName
  /** `YYYY-MM` (UTC). */
  readonly month: string
  readonly currency?: Currency | undefined
}

export type StatementLineType =
  | "bounty_payment"
  /** The payer's side of an escrow release: what went to the worker (its fee is a `platform_fee` line). */
  | "bounty_paid"
  | "platform_fee"
  | "tip_received"
  | "tip_paid"
  | "payout"
  | "deposit"
  /** An operator's manual correction (entry kind `adjustment`), in either direction. */
  | "adjustment"
  | "other"

export interface StatementLine {
  readonly type: StatementLineType
  readonly entryId: string
  readonly kind: EntryKind
  /** The net change of the DID's holdings through this entry (signed). */
  readonly amount: bigint
  readonly timestamp: string
  readonly metadata: Metadata
}

/** A monthly statement (spec A3.6). Amounts are positive magnitudes except `lineItems[].amount`. */
export interface Statement {
  readonly did: AccountName
  readonly month: string
  readonly currency: Currency
  readonly grossEarned: bigint
  readonly feesPaid: bigint
  readonly netEarned: bigint
  readonly tipsReceived: bigint
  readonly tipsPaid: bigint
  readonly payouts: bigint
  /** The `A` balance at the end of the month. */
  readonly endingBalance: bigint
  readonly lineItems: ReadonlyArray<StatementLine>
}

export const DiscrepancyKind = Schema.Literal(
  "balance_differs_from_postings",
  "entry_not_balanced",
  "negative_balance",
  "held_differs_from_open_holds",
  "total_not_zero",
  "balance_after_chain_broken",
  "hold_inconsistent"
)
export type DiscrepancyKind = typeof DiscrepancyKind.Type

export interface Discrepancy {
  readonly kind: DiscrepancyKind
  readonly detail: string
}

export interface ReconcileReport {
  readonly ok: boolean
  readonly accounts: number
  readonly entries: number
  readonly postings: number
  readonly holds: number
  readonly discrepancies: ReadonlyArray<Discrepancy>
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** Failures decided by the ledger's state or the request; stored under the key when state-dependent. */
export type LedgerFailure =
  | ErrorCatalogue.LedgerError
  | ErrorCatalogue.IdempotencyConflict
  | ErrorCatalogue.InvalidRequest
  | ErrorCatalogue.UnsupportedCurrency

/** What a mutation can fail with: a typed ledger failure, or the database (`Transaction.TransactionError`). */
export type MutationError = LedgerFailure | Transaction.TransactionError

/** One item of a batch: its result, or the business failure that rejected it (and only it). */
export type BatchItem = Either.Either<OperationResult, LedgerFailure>

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

export interface LedgerService {
  /** Opens `account` in `currency` with all five buckets at zero. Opening an open account is a no-op. */
  readonly openAccount: (
    input: OpenAccountInput
  ) => Effect.Effect<OpenAccountResult, ErrorCatalogue.InvalidAccount | ErrorCatalogue.UnsupportedCurrency | Transaction.TransactionError>

  readonly mint: (input: MintInput) => Effect.Effect<EntryResult, MutationError>
  readonly burn: (input: BurnInput) => Effect.Effect<EntryResult, MutationError>
  readonly transfer: (input: TransferInput) => Effect.Effect<EntryResult, MutationError>
  readonly post: (input: PostInput) => Effect.Effect<EntryResult, MutationError>

  readonly hold: (input: HoldInput) => Effect.Effect<HoldResult, MutationError>
  readonly releaseHold: (input: ReleaseHoldInput) => Effect.Effect<ReleaseResult, MutationError>
  readonly voidHold: (input: VoidHoldInput) => Effect.Effect<ReleaseResult, MutationError>

  readonly stakeLock: (input: StakeLockInput) => Effect.Effect<EntryResult, MutationError>
  readonly stakeRelease: (input: StakeReleaseInput) => Effect.Effect<EntryResult, MutationError>
  readonly stakeSlash: (input: StakeSlashInput) => Effect.Effect<EntryResult, MutationError>
  readonly feeTransfer: (input: FeeTransferInput) => Effect.Effect<EntryResult, MutationError>
  readonly promoMint: (input: PromoMintInput) => Effect.Effect<EntryResult, MutationError>
  readonly promoBurn: (input: PromoBurnInput) => Effect.Effect<EntryResult, MutationError>

  /**
   * Applies many operations in one transaction, in order, each with its own key and result (as
   * TigerBeetle's unlinked batches): a rejected item changes nothing, later items see earlier ones.
   * For all-or-nothing, call the single-operation methods inside your own `sql.withTransaction`.
   */
  readonly batch: (operations: ReadonlyArray<Operation>) => Effect.Effect<ReadonlyArray<BatchItem>, Transaction.TransactionError>

  /** All balances of an account, read in one statement. */
  readonly balances: (account: AccountName) => Effect.Effect<Balances, ErrorCatalogue.UnknownAccount | SqlError>
  readonly getHold: (holdId: string) => Effect.Effect<Hold, ErrorCatalogue.HoldNotFound | SqlError>
  readonly history: (input: HistoryInput) => Effect.Effect<HistoryPage, SqlError | ErrorCatalogue.InvalidRequest>
  readonly statement: (input: StatementInput) => Effect.Effect<Statement, ErrorCatalogue.InvalidRequest | SqlError>
  /** Recomputes every balance from the postings and checks every invariant of ARCHITECTURE §3. */
  readonly reconcile: Effect.Effect<ReconcileReport, SqlError>
}

export class Ledger extends Context.Tag("@clawbounties/ledger/Ledger")<Ledger, LedgerService>() {}

// ---------------------------------------------------------------------------------------------
// The implementation over SqlClient
// ---------------------------------------------------------------------------------------------

const ACCOUNT_PATTERN = /^[a-z][a-z0-9_-]*:[A-Za-z0-9._:-]{1,200}$/

/** The ledger over the `SqlClient` in context (SQLite or PostgreSQL), with ids from `IdGen`. */
export const make: Effect.Effect<LedgerService, never, SqlClient.SqlClient | Ids.IdGen> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const idGen = yield* Ids.IdGen
  const dialect = sql.onDialectOrElse({
    pg: () => "pg" as const,
    sqlite: () => "sqlite" as const,
    orElse: () => undefined
  })
  if (dialect === undefined) return yield* Effect.dieMessage("Ledger: only SQLite and PostgreSQL are supported")
  const deps: Engine.EngineDeps = { sql, dialect, newId: idGen.make, now: Clock.currentTimeMillis }

  // SQLite returns INTEGER columns as bigint only with safe integers on (see STACK.md); pg ignores it.
  const safe = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(Effect.provideService(SqlClient.SafeIntegers, true), Effect.provideService(SqlClient.SqlClient, sql))

  const batch = (operations: ReadonlyArray<Operation>) =>
    safe(Transaction.run(Engine.apply(deps, operations))).pipe(
      Effect.map((outcomes) =>
        outcomes.map((outcome): BatchItem =>
          outcome._tag === "Ok" ? Either.right(outcome.result) : Either.left(outcome.error)
        )
      )
    )

  const one = <A extends OperationResult>(operation: Operation): Effect.Effect<A, MutationError> =>
    safe(Transaction.run(Engine.apply(deps, [operation]))).pipe(
      Effect.flatMap(([outcome]) =>
        outcome!._tag === "Ok" ? Effect.succeed(outcome!.result as A) : Effect.fail(outcome!.error)
      )
    )

  const openAccount = Effect.fn("Ledger.openAccount")(function* (input: OpenAccountInput) {
    if (typeof input.account !== "string" || !ACCOUNT_PATTERN.test(input.account)) {
      return yield* new ErrorCatalogue.InvalidAccount({ account: String(input.account), reason: "not a valid account name" })
    }
    if (typeof input.currency !== "string" || !/^[A-Z]{3}$/.test(input.currency)) {
      return yield* new ErrorCatalogue.UnsupportedCurrency({ currency: String(input.currency) })
    }
    // Commands open their parties' accounts every time (opening is idempotent): the common case, an
    // open account, is one read, without the transaction (a savepoint in a command) the write needs.
    if (yield* safe(Queries.accountIsOpen(sql, input.account, input.currency))) {
      return { account: input.account, currency: input.currency, created: false }
    }
    const now = yield* Clock.currentTimeMillis
    const created = yield* safe(Transaction.run(
      Queries.openAccount(sql, input.account, input.currency, isWorldAccount(input.account), now)
    ))
    return { account: input.account, currency: input.currency, created }
  })

  return {
    openAccount,
    mint: Effect.fn("Ledger.mint")((input: MintInput) => one<EntryResult>({ op: "mint", ...input })),
    burn: Effect.fn("Ledger.burn")((input: BurnInput) => one<EntryResult>({ op: "burn", ...input })),
    transfer: Effect.fn("Ledger.transfer")((input: TransferInput) => one<EntryResult>({ op: "transfer", ...input })),
    post: Effect.fn("Ledger.post")((input: PostInput) => one<EntryResult>({ op: "post", ...input })),
    hold: Effect.fn("Ledger.hold")((input: HoldInput) => one<HoldResult>({ op: "hold", ...input })),
    releaseHold: Effect.fn("Ledger.releaseHold")((input: ReleaseHoldInput) => one<ReleaseResult>({ op: "releaseHold", ...input })),
    voidHold: Effect.fn("Ledger.voidHold")((input: VoidHoldInput) => one<ReleaseResult>({ op: "voidHold", ...input })),
    stakeLock: Effect.fn("Ledger.stakeLock")((input: StakeLockInput) => one<EntryResult>({ op: "stakeLock", ...input })),
    stakeRelease: Effect.fn("Ledger.stakeRelease")((input: StakeReleaseInput) => one<EntryResult>({ op: "stakeRelease", ...input })),
    stakeSlash: Effect.fn("Ledger.stakeSlash")((input: StakeSlashInput) => one<EntryResult>({ op: "stakeSlash", ...input })),
    feeTransfer: Effect.fn("Ledger.feeTransfer")((input: FeeTransferInput) => one<EntryResult>({ op: "feeTransfer", ...input })),
    promoMint: Effect.fn("Ledger.promoMint")((input: PromoMintInput) => one<EntryResult>({ op: "promoMint", ...input })),
    promoBurn: Effect.fn("Ledger.promoBurn")((input: PromoBurnInput) => one<EntryResult>({ op: "promoBurn", ...input })),
    batch: Effect.fn("Ledger.batch")(batch),
    balances: Effect.fn("Ledger.balances")((account: AccountName) => safe(Queries.balances(sql, account))),
    getHold: Effect.fn("Ledger.getHold")((holdId: string) => safe(Queries.getHold(sql, holdId))),
    history: Effect.fn("Ledger.history")((input: HistoryInput) => safe(Queries.history(sql, input))),
    statement: Effect.fn("Ledger.statement")((input: StatementInput) => safe(Queries.statement(sql, input))),
    reconcile: Effect.withSpan(safe(Queries.reconcile(sql)), "Ledger.reconcile")
  }
})

/** The ledger layer; provide a `SqlClient` (an adapter, migrated) and an `IdGen`. */
export const layer: Layer.Layer<Ledger, never, SqlClient.SqlClient | Ids.IdGen> = Layer.effect(Ledger, make)
