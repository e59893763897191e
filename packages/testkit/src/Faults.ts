/**
 * Fault injection for the in-process engine: a `SqlClient` that wraps a real one and, for the one
 * command a fiber has armed, either fails a chosen statement before it runs (the transaction rolls
 * back: nothing happened) or lets the `COMMIT` succeed and then reports a failure (everything
 * happened, but the caller is told otherwise). The second is the case idempotency keys exist for:
 * a client that retries with the same key must end with exactly one effect.
 *
 * Arming is per fiber (a `FiberRef`), so concurrent commands of other jobs are unaffected, and a
 * fault fires at most once.
 */
import { SqlClient } from "@effect/sql"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import { Context, Effect, FiberRef, Layer } from "effect"

/** Every fault the testkit can inject. `server_restart` needs an HTTP target that can restart. */
export const kinds = ["db_before_commit", "db_after_commit", "server_restart"] as const
export type Kind = (typeof kinds)[number]
export type DbKind = Exclude<Kind, "server_restart">

/** The code on the injected `SqlError`'s cause: never one the engine retries by itself. */
export const SIMULATED_CODE = "SIMULATED_FAULT"

export interface Armed {
  readonly kind: DbKind
  /** For `db_before_commit`: the 1-based data statement (not BEGIN/COMMIT/...) that fails. */
  readonly at: number
  /** Data statements seen so far, and whether the fault fired. */
  count: number
  fired: boolean
}

const armedRef = FiberRef.unsafeMake<Armed | undefined>(undefined)

/** Runs `effect` with a fault armed (fires at most once, in this fiber only). Returns whether it fired. */
export const armed = <A, E, R>(kind: DbKind, at: number, effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const state: Armed = { kind, at: Math.max(1, at), count: 0, fired: false }
    return Effect.locally(effect, armedRef, state).pipe(
      Effect.exit,
      Effect.map((exit) => ({ exit, fired: state.fired }))
    )
  })

/** True for the `SqlError` (or a defect carrying one) this module injected. */
export const isInjected = (error: unknown): boolean =>
  error instanceof SqlError && (error.cause as { code?: unknown } | undefined)?.code === SIMULATED_CODE

const injected = (message: string) =>
  new SqlError({ message, cause: Object.assign(new Error(message), { code: SIMULATED_CODE }) })

const wrapConnection = (conn: Connection): Connection => {
  // Only the transaction's data statements pass through here: the store runs BEGIN, SAVEPOINT and
  // COMMIT itself.
  const guard = <A>(run: Effect.Effect<A, SqlError>): Effect.Effect<A, SqlError> =>
    Effect.flatMap(FiberRef.get(armedRef), (state) => {
      if (state === undefined || state.fired || state.kind !== "db_before_commit") return run
      state.count++
      if (state.count !== state.at) return run
      state.fired = true
      return Effect.fail(injected(`simulated fault: statement ${state.at} of the command failed`))
    })
  return {
    execute: (sql, params, transformRows) => guard(conn.execute(sql, params, transformRows)),
    executeRaw: (sql, params) => guard(conn.executeRaw(sql, params)),
    executeValues: (sql, params) => guard(conn.executeValues(sql, params)),
    executeUnprepared: (sql, params, transformRows) => guard(conn.executeUnprepared(sql, params, transformRows)),
    executeStream: (sql, params, transformRows) => conn.executeStream(sql, params, transformRows)
  }
}

/**
 * Wraps the `SqlClient` of `store` (SQLite) so armed fibers can be failed, through the store's own
 * transactions: on a file, transactions side by side still share COMMITs (`GroupCommit`), and a
 * member failed before its COMMIT is rolled back alone while the others' work stays. A statement
 * fault fires inside a transaction (every command's data statements run in one); an after-commit
 * fault fires once the outermost transaction has committed.
 */
export const wrap = <E, R>(store: Layer.Layer<SqlClient.SqlClient, E, R>): Layer.Layer<SqlClient.SqlClient, E, R> =>
  Layer.effect(
    SqlClient.SqlClient,
    Effect.gen(function* () {
      const inner = yield* SqlClient.SqlClient
      const dialect = inner.onDialectOrElse({ sqlite: () => "sqlite" as const, orElse: () => "other" as const })
      if (dialect !== "sqlite") return yield* Effect.dieMessage("Faults.wrap supports SQLite stores")
      const withTransaction = <A, E2, R2>(effect: Effect.Effect<A, E2, R2>): Effect.Effect<A, E2 | SqlError, R2> =>
        Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (outer) => {
          // The store provides its own connection at every depth: the body gets it guarded.
          const guarded = Effect.contextWithEffect((context: Context.Context<never>) => {
            const [conn, depth] = Context.unsafeGet(context, SqlClient.TransactionConnection)
            return Effect.provideService(effect, SqlClient.TransactionConnection, [wrapConnection(conn), depth]) as Effect.Effect<A, E2, R2>
          })
          const transaction = inner.withTransaction(guarded)
          if (outer._tag === "Some") return transaction
          return Effect.flatMap(transaction, (value) =>
            Effect.flatMap(FiberRef.get(armedRef), (state) => {
              if (state === undefined || state.fired || state.kind !== "db_after_commit") return Effect.succeed(value)
              state.fired = true
              // As a failed COMMIT does: the caller cannot know whether it committed.
              return Effect.die(injected("simulated fault: the commit succeeded but the connection was lost before the reply"))
            }))
        })
      const client = Object.assign((...args: Array<unknown>) => (inner as unknown as (...args: Array<unknown>) => unknown)(...args), inner, { withTransaction })
      ;(client as { safe: unknown }).safe = client
      return client as unknown as SqlClient.SqlClient
    })
  ).pipe(Layer.provide(store))
