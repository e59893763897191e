import { PgTestDatabase, Postgres } from "@clawbounties/adapter-postgres"
import { SqlClient } from "@effect/sql"
import { Migrations } from "@clawbounties/ledger"
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it, layer } from "@effect/vitest"
import { Cause, Context, Deferred, Effect, Either, Exit, Layer, Ref } from "effect"
import pgDriver from "pg"

const pg = await PgTestDatabase.probe()

/** The URL of the database a test's store runs on. */
class DatabaseUrl extends Context.Tag("test/DatabaseUrl")<DatabaseUrl, string>() {}

const failing = (code: string, times: number, attempts: Ref.Ref<number>) =>
  Effect.gen(function* () {
    const n = yield* Ref.updateAndGet(attempts, (x) => x + 1)
    if (n <= times) return yield* new SqlError({ cause: Object.assign(new Error(code), { code }), message: "simulated" })
    return n
  })

describe.skipIf(!pg.available)(`Postgres adapter ${pg.reason}`, () => {
  layer(PgTestDatabase.layer({ prefix: "adapter_pg" }), { excludeTestServices: true })((it) => {
    it.effect("a fresh database with the ledger tables, at READ COMMITTED", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const tables = yield* sql<{ table_name: string }>`
          SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name LIKE 'ledger_%' ORDER BY table_name`
        assert.deepStrictEqual(tables.map((t) => t.table_name), [
          "ledger_accounts", "ledger_balances", "ledger_entries", "ledger_holds", "ledger_idempotency", "ledger_migrations", "ledger_postings"
        ])
        const level = yield* sql<{ level: string }>`SELECT current_setting('transaction_isolation') AS level`
        assert.strictEqual(level[0]!.level, "read committed")
      }))

    it.effect("withRetry retries serialization failures and deadlocks a bounded number of times, and nothing else", () =>
      Effect.gen(function* () {
        const attempts = yield* Ref.make(0)
        assert.strictEqual(yield* Postgres.withRetry(failing("40001", 2, attempts)), 3)
        yield* Ref.set(attempts, 0)
        assert.strictEqual(yield* Postgres.withRetry(failing("40P01", 1, attempts)), 2)
        yield* Ref.set(attempts, 0)
        const exhausted = yield* Effect.either(Postgres.withRetry(failing("40001", 100, attempts), { retries: 3 }))
        assert.isTrue(Either.isLeft(exhausted))
        assert.strictEqual(yield* Ref.get(attempts), 4)
        yield* Ref.set(attempts, 0)
        const other = yield* Effect.either(Postgres.withRetry(failing("23505", 1, attempts)))
        assert.isTrue(Either.isLeft(other))
        assert.strictEqual(yield* Ref.get(attempts), 1)
      }))

    it.effect("withRetry retries a SERIALIZABLE transaction whose COMMIT fails with a serialization failure", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE skew (class INTEGER NOT NULL)`
        const [t2Read, t1Read, t2Wrote, t1Committed] = yield* Effect.all(Array.from({ length: 4 }, () => Deferred.make<void>()))
        const attempts = yield* Ref.make(0)
        const serializable = sql`SET TRANSACTION ISOLATION LEVEL SERIALIZABLE`
        // Write skew: each reads one class and writes the other. T1 commits first, so T2, the pivot,
        // can only fail at its COMMIT, which @effect/sql turns into a defect.
        const t1 = sql.withTransaction(Effect.gen(function* () {
          yield* serializable
          yield* Deferred.await(t2Read)
          yield* sql`SELECT COUNT(*) FROM skew WHERE class = 1`
          yield* Deferred.succeed(t1Read, undefined)
          yield* Deferred.await(t2Wrote)
          yield* sql`INSERT INTO skew (class) VALUES (2)`
        })).pipe(Effect.zipRight(Deferred.succeed(t1Committed, undefined)))
        const t2 = Postgres.withRetry(Effect.gen(function* () {
          const attempt = yield* Ref.updateAndGet(attempts, (n) => n + 1)
          yield* serializable
          yield* sql`SELECT COUNT(*) FROM skew WHERE class = 2`
          if (attempt > 1) return yield* sql`INSERT INTO skew (class) VALUES (1)`
          yield* Deferred.succeed(t2Read, undefined)
          yield* Deferred.await(t1Read)
          yield* sql`INSERT INTO skew (class) VALUES (1)`
          yield* Deferred.succeed(t2Wrote, undefined)
          yield* Deferred.await(t1Committed)
        }))
        const [, second] = yield* Effect.all([t1, Effect.exit(t2)], { concurrency: 2 })
        assert.isTrue(Exit.isSuccess(second), `the transaction was not retried: ${Exit.isFailure(second) ? Cause.pretty(second.cause) : ""}`)
        assert.strictEqual(yield* Ref.get(attempts), 2)
        const classes = yield* sql<{ class: number }>`SELECT class FROM skew ORDER BY class`
        assert.deepStrictEqual(classes.map((row) => row.class), [1, 2])
      }))

    it.effect("inside a caller's transaction it does not retry (the caller retries the whole command)", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const attempts = yield* Ref.make(0)
        const result = yield* Effect.either(sql.withTransaction(Postgres.withRetry(failing("40001", 1, attempts))))
        assert.isTrue(Either.isLeft(result))
        assert.strictEqual(yield* Ref.get(attempts), 1)
      }))

    it.effect("a transaction whose connection is killed fails with its SqlError, writes nothing, and the next one runs", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE killed_midway (n INTEGER NOT NULL)`
        // The session ends itself, as an operator's pg_terminate_backend or a server restart would;
        // the ROLLBACK that follows fails too, on a connection that is gone.
        const exit = yield* Effect.exit(Postgres.withRetry(Effect.gen(function* () {
          yield* sql`INSERT INTO killed_midway (n) VALUES (1)`
          yield* sql`SELECT pg_terminate_backend(pg_backend_pid())`
        })))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          const failure = Cause.failureOption(exit.cause)
          assert.isTrue(failure._tag === "Some" && failure.value._tag === "SqlError", `not a typed failure: ${Cause.pretty(exit.cause)}`)
        }
        const rows = yield* Postgres.withRetry(sql<{ n: number }>`SELECT n FROM killed_midway`)
        assert.deepStrictEqual(rows, [])
      }))
  })

  it.live("the test database is dropped when its layer is released", () =>
    Effect.gen(function* () {
      const name = yield* Effect.scoped(Effect.map(PgTestDatabase.database("adapter_drop"), (db) => db.name))
      const rows = yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1 FROM pg_database WHERE datname = ${name}`).pipe(
        Effect.provide(PgTestDatabase.layer({ prefix: "adapter_check", migrations: [] }))
      )
      assert.strictEqual(rows.length, 0)
    }))

  it.live("replicas starting together on a fresh database all migrate it and start", () =>
    Effect.gen(function* () {
      const { url } = yield* PgTestDatabase.database("adapter_replicas")
      const migrations = [Migrations.ledger, { ...Migrations.ledger, name: "second", table: "second_migrations", pg: {} }]
      // Each checked for a migrations table, found none and created it: all but one failed on the catalog.
      const started = yield* Effect.all(
        Array.from({ length: 4 }, () => Effect.either(Layer.build(Postgres.layer({ url, migrations, maxConnections: 2 })))),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(started.map((r) => Either.isRight(r) ? "started" : r.left.message), ["started", "started", "started", "started"])
    }).pipe(Effect.scoped))
})

describe.skipIf(!pg.available)(`Postgres adapter timeouts ${pg.reason}`, () => {
  /** A store on a fresh database of its own, with `options`. */
  const storeWith = (options: Partial<Postgres.Options>) =>
    Layer.unwrapScoped(Effect.map(PgTestDatabase.database("adapter_timeouts"), ({ url }) =>
      Layer.merge(Postgres.layer({ url, migrations: [], ...options }), Layer.succeed(DatabaseUrl, url))))

  /** The values of `settings` on a fresh pool connection. */
  const show = (...settings: ReadonlyArray<string>) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.forEach(settings, (setting) => Effect.map(sql.unsafe<{ value: string }>(`SELECT current_setting('${setting}') AS value`), (rows) => rows[0]!.value)))

  /** A session of the test's own holding the row `id` of `locked` until `release`. */
  const holdRow = (url: string, id: number) =>
    Effect.acquireRelease(
      Effect.promise(async () => {
        const session = new pgDriver.Client({ connectionString: url })
        await session.connect()
        await session.query("BEGIN")
        await session.query("SELECT id FROM locked WHERE id = $1 FOR UPDATE", [id])
        return session
      }),
      (session) => Effect.promise(() => session.query("ROLLBACK").then(() => session.end()))
    )

  it.live("a fresh connection has a 5 s lock_timeout and a 30 s statement_timeout by default", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* show("lock_timeout", "statement_timeout"), ["5s", "30s"])
    }).pipe(Effect.provide(storeWith({}))))

  it.live("the options set other timeouts, and 0 sets none (PostgreSQL's default: no limit)", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* show("lock_timeout", "statement_timeout"), ["0", "2s"])
    }).pipe(Effect.provide(storeWith({ lockTimeout: 0, statementTimeout: "2 seconds" }))))

  it.live("a command behind a row lock fails with DatabaseTimeout past lock_timeout, once, and writes nothing", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE locked (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)`
      yield* sql`CREATE TABLE written (n INTEGER NOT NULL)`
      yield* sql`INSERT INTO locked (id, n) VALUES (1, 0)`
      yield* holdRow(yield* DatabaseUrl, 1)
      const attempts = yield* Ref.make(0)
      // Without the store's lock_timeout this would wait as long as the row is held: for ever here.
      const error = yield* Effect.flip(Postgres.withRetry(Effect.gen(function* () {
        yield* Ref.update(attempts, (n) => n + 1)
        yield* sql`INSERT INTO written (n) VALUES (1)`
        yield* sql`UPDATE locked SET n = n + 1 WHERE id = 1`
      })))
      assert.strictEqual(error._tag, "DatabaseTimeout")
      assert.deepStrictEqual(error._tag === "DatabaseTimeout" ? error.limit : undefined, "lock_timeout")
      // Not retried: the row's holder would most likely still hold it.
      assert.strictEqual(yield* Ref.get(attempts), 1)
      assert.deepStrictEqual(yield* sql`SELECT n FROM written`, [])
    }).pipe(Effect.scoped, Effect.provide(storeWith({ lockTimeout: "200 millis" }))))

  it.live("a statement past statement_timeout fails with DatabaseTimeout", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const error = yield* Effect.flip(Postgres.withRetry(sql`SELECT pg_sleep(30)`))
      assert.deepStrictEqual([error._tag, error._tag === "DatabaseTimeout" ? error.limit : undefined], ["DatabaseTimeout", "statement_timeout"])
    }).pipe(Effect.provide(storeWith({ statementTimeout: "200 millis" }))))
})

describe("Postgres.layer start-up", () => {
  it.live("a server that cannot be reached fails the layer with the reason, never the password", () =>
    Effect.gen(function* () {
      const result = yield* Effect.either(Effect.scoped(Layer.build(
        Postgres.layer({ url: "postgres://someone:sekrit-password@127.0.0.1:1/nowhere", connectTimeout: "2 seconds", migrations: [] })
      )))
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) {
        assert.strictEqual(result.left._tag, "SqlError")
        assert.match(result.left.message, /^Failed to connect to PostgreSQL: .*ECONNREFUSED/)
        assert.notInclude(result.left.message, "sekrit")
      }
    }))
})
