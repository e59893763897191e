/**
 * A `SqlClient` whose statements, inside a transaction, run on the transaction's connection
 * directly.
 *
 * @effect/sql runs every statement inside a tracing span and a scope of its own. On SQLite that is
 * about 20 µs of the 30 µs a statement costs (measured), and a marketplace command runs some twenty
 * statements: a quarter of its time went to bookkeeping no one read. The commands keep their own
 * spans; the statements inside a transaction do without one. Outside a transaction, statements run
 * as @effect/sql runs them, unless the client hands out its connection for them under
 * `OutsideTransactions` (the SQLite client does: 23 µs a read through @effect/sql, 4 µs direct).
 * `.raw`, `.values`, `.stream` and `.unprepared` always run as @effect/sql runs them.
 *
 * Each statement stays the object @effect/sql built (so it still nests as a fragment in another);
 * only its `commit`, the method the runtime calls to execute it, is replaced. Rows come back
 * without the client's name transforms, which our tables do not use, and a statement transformer
 * (`Statement.withTransformer`) does not see the statements run directly.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import type { Connection } from "@effect/sql/SqlConnection"
import type { Statement } from "@effect/sql/Statement"
import { Effect, Layer } from "effect"

/**
 * Where a client may hand out the connection its statements outside a transaction run on, when
 * using it needs no scope: DirectExecution then runs those statements on it directly too.
 */
export const OutsideTransactions: unique symbol = Symbol.for("@clawbounties/ledger/DirectExecution/OutsideTransactions")

export interface HandsOutConnection {
  readonly [OutsideTransactions]?: Connection | undefined
}

const directCommit = (outside: Connection | undefined) =>
  function (this: Statement<object>): Effect.Effect<ReadonlyArray<object>, SqlError> {
    return Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (transaction) => {
      const connection = transaction._tag === "Some" ? transaction.value[0] : outside
      if (connection === undefined) return Object.getPrototypeOf(this).commit.call(this)
      const [text, params] = this.compile()
      return connection.execute(text, params, undefined)
    })
  }

const isStatement = (value: unknown): value is Statement<object> =>
  typeof value === "object" && value !== null && typeof (value as { compile?: unknown }).compile === "function" &&
  typeof (value as { commit?: unknown }).commit === "function"

/** Wraps `sql` so the statements it makes (tagged or `unsafe`) execute directly in a transaction. */
export const wrap = (sql: SqlClient.SqlClient): SqlClient.SqlClient => {
  const commit = directCommit((sql as HandsOutConnection)[OutsideTransactions])
  const direct = <A>(value: A): A => {
    if (isStatement(value)) Object.defineProperty(value, "commit", { value: commit })
    return value
  }
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
