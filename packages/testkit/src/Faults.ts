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
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import { Effect, FiberRef, Layer } from "effect"

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

const control = /^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b/i

const wrapConnection = (conn: Connection): Connection => {
  const guard = <A>(sql: string, run: Effect.Effect<A, SqlError>): Effect.Effect<A, SqlError> =>
    Effect.flatMap(FiberRef.get(armedRef), (state) => {
      if (state === undefined || state.fired) return run
      if (state.kind === "db_after_commit") {
        if (!/^\s*COMMIT\b/i.test(sql)) return run
        return Effect.flatMap(run, () => {
          state.fired = true
          return Effect.fail(injected("simulated fault: the commit succeeded but the connection was lost before the reply"))
        })
      }
      if (control.test(sql)) return run
      state.count++
      if (state.count !== state.at) return run
      state.fired = true
      return Effect.fail(injected(`simulated fault: statement ${state.at} of the command failed`))
    })
  return {
    execute: (sql, params, transformRows) => guard(sql, conn.execute(sql, params, transformRows)),
    executeRaw: (sql, params) => guard(sql, conn.executeRaw(sql, params)),
    executeValues: (sql, params) => guard(sql, conn.executeValues(sql, params)),
    executeUnprepared: (sql, params, transformRows) => guard(sql, conn.executeUnprepared(sql, params, transformRows)),
    executeStream: (sql, params, transformRows) => conn.executeStream(sql, params, transformRows)
  }
}

/**
 * Wraps the `SqlClient` of `store` (SQLite) so armed fibers can be failed. Unarmed fibers get the
 * same data and the same single writer, but not the same commit path: transactions here are
 * @effect/sql's own on the reserved connection, one COMMIT each, so the adapter's shared COMMITs
 * (`GroupCommit`) and their failure handling are not exercised under faults.
 */
export const wrap = <E, R>(store: Layer.Layer<SqlClient.SqlClient, E, R>): Layer.Layer<SqlClient.SqlClient, E, R> =>
  Layer.effect(
    SqlClient.SqlClient,
    Effect.gen(function* () {
      const inner = yield* SqlClient.SqlClient
      const dialect = inner.onDialectOrElse({ sqlite: () => "sqlite" as const, orElse: () => "other" as const })
      if (dialect !== "sqlite") return yield* Effect.dieMessage("Faults.wrap supports SQLite stores")
      return yield* SqlClient.make({
        acquirer: Effect.map(Effect.scoped(inner.reserve), wrapConnection),
        transactionAcquirer: Effect.map(inner.reserve, wrapConnection),
        compiler: Statement.makeCompilerSqlite(),
        spanAttributes: [["db.system.name", "sqlite"]]
      })
    }).pipe(Effect.provide(Reactivity.layer))
  ).pipe(Layer.provide(store))
