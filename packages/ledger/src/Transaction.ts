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
 *
 * A retry is only safe for the outermost transaction. Inside a caller's transaction (a savepoint)
 * the failure is returned to the caller, whose own `run` retries the whole command.
 *
 * Retries wait as `RetryBackoff` says when it is provided (the packaged server and `Engine.liveParts`
 * provide `RetryBackoff.jittered`), and not at all otherwise. Losers that retry at once meet the
 * same contention again: under SERIALIZABLE, 11 of 30 concurrent credits to one account ran out of
 * retries that way, none with jittered waits (`PostgresFaults.test.ts`).
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Cause, Context, Duration, Effect, Layer, Random } from "effect"
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

export const isRetryable = (error: unknown): boolean => {
  if (typeof error !== "object" || error === null || (error as { _tag?: unknown })._tag !== "SqlError") return false
  const sqlError = error as SqlError
  return retryableCodes.has(errorCode(sqlError) ?? "") || isIdempotencyKeyTaken(sqlError)
}

/**
 * A failed COMMIT is a defect in @effect/sql (in general no one knows whether it committed). But a
 * PostgreSQL serialization failure at COMMIT, which SERIALIZABLE raises there, means the transaction
 * was rolled back: retrying it is as safe as retrying a failed statement.
 */
const isRolledBackCommit = (defect: unknown): boolean => {
  if (typeof defect !== "object" || defect === null || (defect as { _tag?: unknown })._tag !== "SqlError") return false
  const code = errorCode(defect as SqlError)
  return code === "40001" || code === "40P01"
}

const isRetryableCause = (cause: Cause.Cause<unknown>): boolean => {
  if (Cause.isInterrupted(cause)) return false
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some") return isRetryable(failure.value)
  const defect = Cause.dieOption(cause)
  return defect._tag === "Some" && isRolledBackCommit(defect.value)
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

/**
 * `sql.withTransaction(effect)`, keeping the effect's own failure when the ROLLBACK after it fails
 * too. @effect/sql turns a failed ROLLBACK into a defect that replaces the failure: a connection cut
 * mid-transaction (`pg_terminate_backend`, a server restart) failed the statement, then the ROLLBACK
 * on the dead connection, and the caller got a defect instead of the typed `SqlError`. Nothing was
 * committed: the effect failed before COMMIT, and the server discards a transaction whose session ends.
 */
const withTransaction = <A, E, R>(sql: SqlClient.SqlClient, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
  Effect.suspend(() => {
    let failed: Cause.Cause<E> | undefined
    return Effect.catchAllCause(
      sql.withTransaction(Effect.tapErrorCause(effect, (cause) => Effect.sync(() => {
        failed = cause
      }))),
      (cause) => Effect.failCause(failed !== undefined && Cause.isDie(cause) && !Cause.isFailure(cause) ? failed : cause)
    )
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
): Effect.Effect<A, E | SqlError, R | SqlClient.SqlClient> =>
  Effect.contextWithEffect((context: Context.Context<SqlClient.SqlClient>) => {
    const transaction = withTransaction(Context.get(context, SqlClient.SqlClient), effect)
    if (Context.getOption(context, SqlClient.TransactionConnection)._tag === "Some") return transaction
    const backoff = Context.getOption(context, RetryBackoff)
    const retries = options?.retries ?? 8
    const attempt = (retriesLeft: number): Effect.Effect<A, E | SqlError, R> =>
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
