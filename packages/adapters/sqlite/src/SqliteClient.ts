/**
 * The `SqlClient` over one better-sqlite3 connection, built with @effect/sql's `SqlClient.make`.
 *
 * It replaces @effect/sql-sqlite-node, whose per-command costs we measured on this engine's hot
 * path (a ledger transfer is eight statements and a transaction):
 *
 * - Prepared statements are kept in a plain `Map` keyed by their text, where the upstream client
 *   looked each one up through an Effect `Cache`.
 * - `BEGIN IMMEDIATE`, `COMMIT` and `ROLLBACK` are prepared once; upstream prepared them anew for
 *   every transaction.
 * - Outermost transactions take the connection in arrival order and share COMMITs with the ones
 *   started while they are open (`GroupCommit`). No transaction opens a span or a scope of its
 *   own: an empty transaction cost 65 µs upstream. The commands that open transactions carry the
 *   spans.
 * - On a file, reads outside a transaction run on a second connection (`openReader`), so they
 *   neither wait for the writer nor force its open group to commit early.
 * - `BEGIN IMMEDIATE` takes the file's write lock up front, so a second process writing the same
 *   file waits (up to the busy timeout) instead of failing half-way through its transaction.
 * - `SafeIntegers` is read per statement and set both ways; upstream only ever switched it on, so a
 *   cached statement kept returning bigints to callers that had not asked for them.
 *
 * A failed COMMIT dies, as @effect/sql's own `withTransaction` does: the caller cannot know whether
 * the transaction committed, which is what a retry with the same idempotency key resolves.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient, Statement } from "@effect/sql"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import { DirectExecution } from "@clawbounties/ledger"
import Database from "better-sqlite3"
import { Context, Effect, Exit, Layer, type Scope, Stream } from "effect"
import { resolve } from "node:path"
import * as GroupCommit from "./GroupCommit.js"

export interface Options {
  /** A file path, or `:memory:`. */
  readonly filename: string
  /** Prepared statements kept, 500 by default; the oldest is dropped beyond that. */
  readonly statementCacheSize?: number | undefined
  /** Transactions that may share one COMMIT (`GroupCommit`), 32 by default; 1 turns sharing off. */
  readonly maxGroupSize?: number | undefined
  /**
   * Called after each COMMIT with the number of transactions that shared it, and whether it waited a
   * turn of the event loop for them (a lone writer does not wait): for metrics.
   */
  readonly onCommit?: ((transactions: number, waited: boolean) => void) | undefined
}

type Rows = ReadonlyArray<Record<string, unknown>>
type TransformRows = (<A extends object>(rows: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined

const sqlError = (message: string) => (cause: unknown) => new SqlError({ cause, message })

/** The connection: its statements run synchronously, so none of them ever waits on another. */
const makeConnection = (db: Database.Database, cacheSize: number) => {
  const prepared = new Map<string, Database.Statement>()
  const prepare = (text: string): Database.Statement => {
    let statement = prepared.get(text)
    if (statement === undefined) {
      statement = db.prepare(text)
      if (prepared.size >= cacheSize) prepared.delete(prepared.keys().next().value!)
      prepared.set(text, statement)
    }
    return statement
  }

  const run = (text: string, params: ReadonlyArray<unknown>, mode: "rows" | "raw" | "values", safeIntegers: boolean, fresh = false) => {
    const statement = fresh ? db.prepare(text) : prepare(text)
    statement.safeIntegers(safeIntegers)
    if (!statement.reader) {
      const result = statement.run(...params)
      return mode === "raw" ? result : []
    }
    if (mode !== "values") return statement.all(...params)
    statement.raw(true)
    try {
      return statement.all(...params)
    } finally {
      statement.raw(false)
    }
  }

  const execute = (text: string, params: ReadonlyArray<unknown>, mode: "rows" | "raw" | "values", fresh = false) =>
    Effect.withFiberRuntime<any, SqlError>((fiber) => {
      try {
        return Effect.succeed(run(text, params, mode, Context.get(fiber.currentContext, SqlClient.SafeIntegers), fresh))
      } catch (cause) {
        return Effect.fail(new SqlError({ cause, message: "Failed to execute statement" }))
      }
    })

  const withRows = (effect: Effect.Effect<Rows, SqlError>, transformRows: TransformRows) =>
    transformRows === undefined ? effect : Effect.map(effect, (rows) => transformRows(rows))

  const connection: Connection = {
    execute: (text, params, transformRows) => withRows(execute(text, params, "rows"), transformRows),
    executeRaw: (text, params) => execute(text, params, "raw"),
    executeValues: (text, params) => execute(text, params, "values"),
    executeUnprepared: (text, params, transformRows) => withRows(execute(text, params ?? [], "rows", true), transformRows),
    // better-sqlite3's iterator keeps the connection busy between rows, so rows are read at once.
    executeStream: (text, params, transformRows) =>
      Stream.flatMap(withRows(execute(text, params, "rows"), transformRows), Stream.fromIterable)
  }

  /** Runs a transaction-control statement (prepared once); throws on failure. */
  const control = (text: string) => prepare(text).run()

  /** Whether `text` is a query that writes nothing (one that fails to prepare is not). */
  const isReadOnlyQuery = (text: string): boolean => {
    if (!QUERY.test(text)) return false
    try {
      const statement = prepare(text)
      return statement.reader && statement.readonly
    } catch {
      return false
    }
  }
  return { connection, control, isReadOnlyQuery }
}

const QUERY = /^\s*(SELECT|WITH)\b/i

/**
 * The connection statements outside a transaction get. A read-only query runs on the reader, which
 * sees committed work only and never waits for the writer; anything else holds the writer to itself,
 * after the open group (if any) has committed. Without a reader (`:memory:`), everything does.
 */
const outsideTransactions = (
  writer: Connection,
  reader: ReturnType<typeof makeConnection> | undefined,
  group: GroupCommit.GroupCommit
): Connection => {
  const read = reader === undefined ? () => false : reader.isReadOnlyQuery
  const to = (text: string) => read(text) ? reader!.connection : undefined
  return {
    execute: (text, params, transformRows) =>
      to(text)?.execute(text, params, transformRows) ?? group.exclusively(writer.execute(text, params, transformRows)),
    executeRaw: (text, params) => to(text)?.executeRaw(text, params) ?? group.exclusively(writer.executeRaw(text, params)),
    executeValues: (text, params) => to(text)?.executeValues(text, params) ?? group.exclusively(writer.executeValues(text, params)),
    executeUnprepared: (text, params, transformRows) =>
      to(text)?.executeUnprepared(text, params, transformRows) ??
        group.exclusively(writer.executeUnprepared(text, params, transformRows)),
    executeStream: (text, params, transformRows) =>
      to(text)?.executeStream(text, params, transformRows) ??
        Stream.unwrapScoped(Effect.as(group.exclusive, writer.executeStream(text, params, transformRows)))
  }
}

/**
 * A second connection to the file for reads outside transactions: WAL lets it read the last
 * committed state while the writer works. `query_only` makes sure nothing is ever written on it.
 */
const openReader = (filename: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const db = new Database(filename, { fileMustExist: true })
        db.pragma("query_only = ON")
        db.pragma("busy_timeout = 5000")
        return db
      },
      catch: sqlError(`Failed to open a reader on ${filename}`)
    }),
    (db) => Effect.sync(() => db.close())
  )

/**
 * The files a client of this process has open. A second client's writer on one of them would wait
 * for the first one's lock inside a synchronous call, blocking the thread the first needs to
 * commit: each contended transaction stalled for the whole busy timeout, then failed.
 */
const openFiles = new Set<string>()

/** Claims `filename` for this client until the scope closes, or refuses it, saying why. */
const claim = (filename: string) =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const path = resolve(filename)
      if (!openFiles.has(path)) {
        openFiles.add(path)
        return Effect.succeed(path)
      }
      return Effect.fail(new SqlError({
        cause: undefined,
        message: `${filename} is already open in this process: build the engine's layer once and share it (a ManagedRuntime, or one Effect.provide around the whole program)`
      }))
    }),
    (path) => Effect.sync(() => openFiles.delete(path))
  )

/** The client on `options.filename`, closed with the scope. */
export const make = (options: Options): Effect.Effect<SqlClient.SqlClient, SqlError, Scope.Scope | Reactivity.Reactivity> =>
  Effect.gen(function* () {
    // An in-memory or temporary database is a new one each time it is opened.
    if (options.filename !== ":memory:" && options.filename !== "") yield* claim(options.filename)
    const db = yield* Effect.acquireRelease(
      Effect.try({ try: () => new Database(options.filename), catch: sqlError(`Failed to open ${options.filename}`) }),
      (db) => Effect.sync(() => db.close())
    )
    // The first statement on the file: a file that is not a SQLite database fails here.
    yield* Effect.try({
      try: () => db.pragma("journal_mode = WAL"),
      catch: (cause) => new SqlError({ cause, message: `${options.filename} is not a usable SQLite database: ${cause instanceof Error ? cause.message : String(cause)}` })
    })
    const cacheSize = Math.max(16, options.statementCacheSize ?? 500)
    const { connection, control } = makeConnection(db, cacheSize)
    // An in-memory or temporary database has no file a second connection could open.
    const reader = db.memory || options.filename === "" ? undefined : makeConnection(yield* openReader(options.filename), cacheSize)
    const group = GroupCommit.make({
      control,
      inTransaction: () => db.inTransaction,
      maxMembers: options.maxGroupSize ?? 32,
      onCommit: options.onCommit
    })
    // Runs before the connection closes: work its members finished is committed, not dropped.
    yield* Effect.addFinalizer(() => Effect.sync(group.flush))

    const outside = outsideTransactions(connection, reader, group)
    const client = yield* SqlClient.make({
      acquirer: Effect.succeed(outside),
      // A reserved connection is the writer, held to itself with no transaction open on it.
      transactionAcquirer: Effect.as(group.exclusive, connection),
      compiler: Statement.makeCompilerSqlite(),
      spanAttributes: [["db.system.name", "sqlite"]]
    })

    const attempt = (text: string) => Effect.try({ try: () => control(text), catch: sqlError(`Failed to execute ${text}`) })

    const withTransaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.contextWithEffect((context: Context.Context<never>) => {
          const outer = Context.getOption(context, SqlClient.TransactionConnection)
          const depth = outer._tag === "Some" ? outer.value[1] + 1 : 0
          const body = restore(Effect.provideService(effect, SqlClient.TransactionConnection, [connection, depth]))
          if (depth === 0) return group.transaction(body)
          const savepoint = `effect_sql_${depth}`
          // SQLite may have rolled the whole transaction back by itself (a full disk, for one);
          // then there is no savepoint left to roll back to.
          const rollback = Effect.suspend(() =>
            db.inTransaction ? Effect.orDie(attempt(`ROLLBACK TO SAVEPOINT ${savepoint}`)) : Effect.void
          )
          return Effect.zipRight(
            attempt(`SAVEPOINT ${savepoint}`),
            Effect.onExit(body, (exit) => Exit.isSuccess(exit) ? Effect.void : rollback)
          )
        })
      )

    // `outside` needs no scope, so `DirectExecution` may run statements on it without one.
    return Object.assign(client, { withTransaction, [DirectExecution.OutsideTransactions]: outside })
  })

/** `SqlClient` on `options.filename`. */
export const layer = (options: Options): Layer.Layer<SqlClient.SqlClient, SqlError> =>
  Layer.scoped(SqlClient.SqlClient, make(options)).pipe(Layer.provide(Reactivity.layer))
