/**
 * One command, one transaction, with bounded retries on the failures a retry can cure.
 *
 * PostgreSQL at READ COMMITTED with rows locked in a fixed order should not deadlock, but a caller
 * may lock its own rows in another order, and SERIALIZABLE callers get 40001s: both are retried here
 * a bounded number of times (the losing transaction is already rolled back). SQLite's
 * `SQLITE_BUSY` (another process holds the write lock past the busy timeout) is retried too.
 *
 * A PostgreSQL unique violation of a ledger idempotency key is retried too: two transactions applied
 * the same new key at once, and the one that lost finds the key stored on its retry and replays it
 * (see `internal/engine.ts`).
 *
 * A serialization failure at COMMIT (a defect in @effect/sql) is retried too: the transaction rolled back.
 * Any other failed COMMIT (a defect too) fails as `CommitOutcomeUnknown`, and is not retried: see
 * {@link settleCommitDefect}. A PostgreSQL `lock_timeout` or `statement_timeout` fails as
 * `DatabaseTimeout`, not retried either: see {@link timeoutOf}.
 *
 * A retry is only safe for the outermost transaction. Inside a caller's transaction (a savepoint)
 * the failure is returned to the caller, whose own `run` retries the whole command.
 *
 * Retries wait as `RetryBackoff` says when it is provided (the packaged server and `Engine.liveParts`
 * provide `RetryBackoff.jittered`), and not at all otherwise. Losers that retry at once meet the
 * same contention again: under SERIALIZABLE, 11 of 30 concurrent credits to one account ran out of
 * retries that way, none with jittered waits (`PostgresFaults.test.ts`).
 */
import { ErrorCatalogue } from "@clawbounties/domain"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Cause, Context, Duration, Effect, FiberRef, Layer, Random } from "effect"
import { WriteGate } from "./WriteGate.js"

/** SQLSTATEs / codes worth retrying: serialization failure, deadlock, SQLite busy. */
const retryableCodes = new Set(["40001", "40P01", "SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT"])

/** The driver's error code behind a SqlError (pg SQLSTATE or a better-sqlite3 code), if any. */
export const errorCode = (error: SqlError): string | undefined => {
  const cause = error.cause as { readonly code?: unknown } | undefined
  return typeof cause?.code === "string" ? cause.code : undefined
}

/** The ledger idempotency key a concurrent transaction stored first (pg `unique_violation`). */
const isIdempotencyKeyTaken = (error: SqlError): boolean =>
  errorCode(error) === "23505" && (error.cause as { readonly constraint?: unknown }).constraint === "ledger_idempotency_pkey"

const isSqlError = (error: unknown): error is SqlError =>
  typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "SqlError"

export const isRetryable = (error: unknown): boolean =>
  isSqlError(error) && (retryableCodes.has(errorCode(error) ?? "") || isIdempotencyKeyTaken(error))

/**
 * A PostgreSQL `lock_timeout` (55P03) or `statement_timeout` (57014) as the typed `DatabaseTimeout`:
 * the statement failed, so the transaction rolls back and nothing is written.
 *
 * Not retried here, unlike a deadlock: a deadlock is resolved the moment PostgreSQL picks a loser,
 * but a lock timeout means another transaction held the row for the whole timeout (a long or stuck
 * transaction), and a retry would most likely wait the whole timeout again, holding its pool
 * connection all the while: the starvation the timeout exists to stop. The caller retries later
 * (over HTTP a 503), when the holder may be gone.
 */
export const timeoutOf = (error: unknown): ErrorCatalogue.DatabaseTimeout | undefined => {
  if (!isSqlError(error)) return undefined
  const code = errorCode(error)
  return code === "55P03"
    ? new ErrorCatalogue.DatabaseTimeout({ limit: "lock_timeout" })
    : code === "57014"
    ? new ErrorCatalogue.DatabaseTimeout({ limit: "statement_timeout" })
    : undefined
}

/**
 * The failure for a COMMIT that failed after the body succeeded, which @effect/sql (and the SQLite
 * store's `GroupCommit`, which keeps its contract) report as a defect.
 *
 * A PostgreSQL serialization failure or deadlock at COMMIT, which SERIALIZABLE raises there, means the
 * transaction was rolled back: it fails as the `SqlError` it is, retried as a failed statement is.
 * Anything else (mostly a connection cut while it committed) may or may not have committed:
 * `CommitOutcomeUnknown`, a typed failure the caller can act on rather than a defect. It is never
 * retried here: running the command again is safe only under its idempotency key, which the caller
 * holds (a retry replays it if the COMMIT landed).
 */
const settleCommitDefect = (defect: SqlError): SqlError | ErrorCatalogue.CommitOutcomeUnknown => {
  const code = errorCode(defect)
  return code === "40001" || code === "40P01" ? defect : new ErrorCatalogue.CommitOutcomeUnknown()
}

const isRetryableCause = (cause: Cause.Cause<unknown>): boolean => {
  if (Cause.isInterrupted(cause)) return false
  const failure = Cause.failureOption(cause)
  return failure._tag === "Some" && isRetryable(failure.value)
}

/** How long a command waits before its `retry`-th retry (1 for the first). */
export class RetryBackoff extends Context.Tag("@clawbounties/ledger/RetryBackoff")<
  RetryBackoff,
  { readonly wait: (retry: number) => Effect.Effect<void> }
>() {
  /**
   * "Full jitter": a random wait, from `Random`, between 0 and `base` doubled per retry up to `cap`,
   * slept on `Clock`. Random, so the transactions that collided do not collide again in step.
   */
  static readonly jittered = (options: { readonly base?: Duration.DurationInput; readonly cap?: Duration.DurationInput } = {}) => {
    const base = Duration.toMillis(options.base ?? "5 millis")
    const cap = Duration.toMillis(options.cap ?? "500 millis")
    return Layer.succeed(RetryBackoff, {
      wait: (retry) => {
        const ceiling = Math.min(cap, base * 2 ** Math.min(retry, 30))
        return Effect.flatMap(Random.next, (fraction) => Effect.sleep(Duration.millis(fraction * ceiling)))
      }
    })
  }
}

export interface RunOptions {
  /** Attempts after the first, 8 by default. */
  readonly retries?: number | undefined
}

/** What a transaction can fail with besides its body's own failures. */
export type TransactionError = SqlError | ErrorCatalogue.CommitOutcomeUnknown | ErrorCatalogue.DatabaseTimeout

/** What to run once the outermost `run` commits; undefined outside `run`. */
const afterCommitRef = FiberRef.unsafeMake<Array<Effect.Effect<void>> | undefined>(undefined)

/**
 * Runs `effect` once the transaction it is called in has committed: after the outermost `run`'s
 * COMMIT, which is also after the SQLite store's shared group COMMIT (a member's transaction returns
 * only once that COMMIT is done). Never when the transaction rolls back, a savepoint's rollback
 * included, nor for an attempt that is retried. Outside any transaction, the statements before it
 * committed on their own: it runs at once.
 *
 * In a transaction opened with `sql.withTransaction` directly, not through `run`, its COMMIT cannot
 * be seen from here, and `effect` is dropped: use it only for what may be lost (a wake-up, a cache
 * hint), never for what must happen. For the same reason a COMMIT whose outcome is unknown, or a
 * fiber interrupted just after its COMMIT, runs nothing.
 */
export const afterCommit = (effect: Effect.Effect<void>): Effect.Effect<void> =>
  Effect.flatMap(FiberRef.get(afterCommitRef), (pending) => {
    if (pending !== undefined) {
      pending.push(effect)
      return Effect.void
    }
    return Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (open) => open._tag === "Some" ? Effect.void : effect)
  })

/**
 * `sql.withTransaction(effect)`, keeping the effect's own failure when the ROLLBACK after it fails
 * too. @effect/sql turns a failed ROLLBACK into a defect that replaces the failure: a connection cut
 * mid-transaction (`pg_terminate_backend`, a server restart) failed the statement, then the ROLLBACK
 * on the dead connection, and the caller got a defect instead of the typed `SqlError`. Nothing was
 * committed: the effect failed before COMMIT, and the server discards a transaction whose session ends.
 *
 * A defect carrying a `SqlError` after the effect succeeded can only be its failed COMMIT: it becomes
 * a typed failure ({@link settleCommitDefect}). Timeouts become `DatabaseTimeout` ({@link timeoutOf}).
 */
const withTransaction = <A, E, R>(sql: SqlClient.SqlClient, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | TransactionError, R> =>
  Effect.suspend(() => {
    let failed: Cause.Cause<E> | undefined
    let committed: Array<Effect.Effect<void>> = []
    // Fresh for each run of the body: the SQLite store's group commit may run it again alone.
    const body = Effect.suspend(() => {
      committed = []
      return Effect.locally(effect, afterCommitRef, committed)
    })
    const ended = Effect.catchAllCause(
      sql.withTransaction(Effect.tapErrorCause(body, (cause) => Effect.sync(() => {
        failed = cause
      }))),
      (cause): Effect.Effect<never, E | TransactionError> => {
        if (failed === undefined) {
          const defect = Cause.dieOption(cause)
          if (defect._tag === "Some" && isSqlError(defect.value)) return Effect.fail(settleCommitDefect(defect.value))
        }
        const settled = failed !== undefined && Cause.isDie(cause) && !Cause.isFailure(cause) ? failed : cause
        const failure = Cause.failureOption(settled)
        const timeout = failure._tag === "Some" ? timeoutOf(failure.value) : undefined
        return timeout !== undefined ? Effect.fail(timeout) : Effect.failCause(settled)
      }
    )
    // Outermost, it committed: they run now. In a savepoint: they pass to the enclosing transaction.
    return Effect.tap(ended, () => Effect.forEach(committed, afterCommit, { discard: true }))
  })

/**
 * `sql.withTransaction(effect)`, retried on serialization failures and deadlocks when it is the
 * outermost transaction, and queued behind the store's `WriteGate` when it provides one.
 *
 * Every command runs through here, so it reads its context once and retries with a plain loop:
 * `Effect.retry` with a schedule cost about 50 µs per call (measured), a tenth of a ledger transfer.
 */
export const run = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options?: RunOptions
): Effect.Effect<A, E | TransactionError, R | SqlClient.SqlClient> =>
  Effect.contextWithEffect((context: Context.Context<SqlClient.SqlClient>) => {
    const transaction = withTransaction(Context.get(context, SqlClient.SqlClient), effect)
    if (Context.getOption(context, SqlClient.TransactionConnection)._tag === "Some") return transaction
    const backoff = Context.getOption(context, RetryBackoff)
    const retries = options?.retries ?? 8
    const attempt = (retriesLeft: number): Effect.Effect<A, E | TransactionError, R> =>
      retriesLeft <= 0
        ? transaction
        : Effect.catchAllCause(transaction, (cause) => {
          if (!isRetryableCause(cause)) return Effect.failCause(cause)
          const next = attempt(retriesLeft - 1)
          return backoff._tag === "Some" ? Effect.zipRight(backoff.value.wait(retries - retriesLeft + 1), next) : next
        })
    const retried = attempt(retries)
    const gate = Context.getOption(context, WriteGate)
    return gate._tag === "Some" ? gate.value.withPermit(retried) : retried
  })
