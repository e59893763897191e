/**
 * A `SqlClient` whose statements, inside a transaction, run on the transaction's connection
 * directly.
 *
 * @effect/sql runs every statement inside a tracing span and a scope of its own. On SQLite that is
 * about 20 µs of the 30 µs a statement costs (measured), and a marketplace command runs some twenty
 * statements: a quarter of its time went to bookkeeping no one read. The commands keep their own
 * spans; the statements inside a transaction do without one. Outside a transaction, and for
 * `.raw`, `.values`, `.stream` and `.unprepared`, statements run as @effect/sql runs them.
 *
 * Each statement stays the object @effect/sql built (so it still nests as a fragment in another);
 * only its `commit`, the method the runtime calls to execute it, is replaced. Rows come back
 * without the client's name transforms, which our tables do not use, and a statement transformer
 * (`Statement.withTransformer`) does not see statements inside a transaction.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import type { Statement } from "@effect/sql/Statement"
import { Effect, Layer } from "effect"

const directCommit = function (this: Statement<object>): Effect.Effect<ReadonlyArray<object>, SqlError> {
  return Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (transaction) => {
    if (transaction._tag === "None") return Object.getPrototypeOf(this).commit.call(this)
    const [text, params] = this.compile()
    return transaction.value[0].execute(text, params, undefined)
  })
}

const isStatement = (value: unknown): value is Statement<object> =>
  typeof value === "object" && value !== null && typeof (value as { compile?: unknown }).compile === "function" &&
  typeof (value as { commit?: unknown }).commit === "function"

const direct = <A>(value: A): A => {
  if (isStatement(value)) Object.defineProperty(value, "commit", { value: directCommit })
  return value
}

/** Wraps `sql` so the statements it makes (tagged or `unsafe`) execute directly in a transaction. */
export const wrap = (sql: SqlClient.SqlClient): SqlClient.SqlClient => {
  const client = Object.assign(
    (...args: Array<unknown>) => direct((sql as unknown as (...args: Array<unknown>) => unknown)(...args)),
    sql,
    {
      unsafe: (text: string, params?: ReadonlyArray<unknown>) => direct(sql.unsafe(text, params))
    }
  ) as unknown as SqlClient.SqlClient
  ;(client as { safe: unknown }).safe = client
  return client
}

/** Re-provides the `SqlClient` below it, wrapped. */
export const layer: Layer.Layer<SqlClient.SqlClient, never, SqlClient.SqlClient> = Layer.effect(
  SqlClient.SqlClient,
  Effect.map(SqlClient.SqlClient, wrap)
)
