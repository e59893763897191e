import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"

const pg = await PgTestDatabase.probe()

/** The statements this session has prepared (one connection, so always the same session). */
const prepared = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ name: string; statement: string }>`SELECT name, statement FROM pg_prepared_statements ORDER BY name`.pipe(
    // That query has no parameters, so it is never prepared itself.
    Effect.map((rows) => rows.map((row) => [row.name, row.statement] as const))
  ))

const database = (preparedStatements?: number) =>
  PgTestDatabase.layer({ prefix: "adapter_prepared", migrations: [], maxConnections: 1, preparedStatements })

describe.skipIf(!pg.available)(`Postgres prepared statements ${pg.reason}`, () => {
  it.live("a statement with parameters is prepared once per connection and reused, in every row mode", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      for (const n of [1, 2, 3]) {
        assert.deepStrictEqual(yield* sql<{ x: number }>`SELECT ${n}::int AS x`, [{ x: n }])
      }
      assert.deepStrictEqual(yield* sql`SELECT ${7}::int AS x`.values, [[7]])
      assert.deepStrictEqual(yield* prepared, [["cb_1", "SELECT $1::int AS x"]])
    }).pipe(Effect.provide(database())))

  it.live("past the limit, new texts run unnamed and still answer", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      assert.deepStrictEqual(yield* sql<{ x: number }>`SELECT ${1}::int AS x`, [{ x: 1 }])
      assert.deepStrictEqual(yield* sql<{ y: number }>`SELECT ${2}::int AS y`, [{ y: 2 }])
      assert.deepStrictEqual(yield* sql<{ z: number }>`SELECT ${3}::int AS z`, [{ z: 3 }])
      assert.deepStrictEqual((yield* prepared).map(([name]) => name), ["cb_1", "cb_2"])
    }).pipe(Effect.provide(database(2))))

  it.live("0 prepares nothing; statements without parameters (several commands in one) are never prepared", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      assert.deepStrictEqual(yield* sql<{ x: number }>`SELECT ${1}::int AS x`, [{ x: 1 }])
      yield* sql.unsafe("CREATE TABLE a (id int); CREATE TABLE b (id int)")
      assert.deepStrictEqual(yield* prepared, [])
    }).pipe(Effect.provide(database(0))))

  it.live("a statement that failed to prepare, or failed to run, or ran in a rolled-back transaction, works afterwards", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const insert = (id: number) => sql`INSERT INTO later (id) VALUES (${id})`
      // Parse fails: the table does not exist yet.
      assert.isTrue(Either.isLeft(yield* Effect.either(insert(1))))
      yield* sql`CREATE TABLE later (id int PRIMARY KEY)`
      yield* insert(1)
      // Execution fails (a duplicate key) after the statement was prepared.
      assert.isTrue(Either.isLeft(yield* Effect.either(insert(1))))
      // Prepared inside a transaction that rolls back: prepared statements are not transactional.
      const rolledBack = yield* Effect.either(sql.withTransaction(Effect.zipRight(insert(2), Effect.fail("undo"))))
      assert.isTrue(Either.isLeft(rolledBack))
      yield* insert(3)
      const rows = yield* sql<{ id: number }>`SELECT id FROM later WHERE id > ${0} ORDER BY id`
      assert.deepStrictEqual(rows.map((r) => r.id), [1, 3])
      assert.deepStrictEqual((yield* prepared).map(([, text]) => text), [
        "INSERT INTO later (id) VALUES ($1)",
        "SELECT id FROM later WHERE id > $1 ORDER BY id"
      ])
    }).pipe(Effect.provide(database())))
})
