/**
 * PostgreSQL misbehaving under a running server, on a database of the test's own: a backend killed
 * while a command waits on it or at its COMMIT, idle connections killed, the pool exhausted,
 * the server's `lock_timeout` and `statement_timeout`, SERIALIZABLE set on the database, a value past its
 * column, a constraint the engine does not know of, and the database refusing connections under
 * the deadline scheduler. Every failure answers with a catalogued code (503 when a retry can cure
 * it) and writes nothing, and the server serves the next request.
 *
 * Commands are held mid-transaction by a session of the test's own that locks `audit_log`, the
 * table a command writes last: by then the command has moved money, so a partial write would show.
 */
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { ConfigProvider, Duration, Effect, Exit, Scope } from "effect"
import pg from "pg"
import * as Config from "../src/Config.js"
import * as Engine from "../src/Engine.js"
import { Scheduler } from "../src/Scheduler.js"
import * as H from "./helpers.js"

const probe = await PgTestDatabase.probe()

const until = async (check: () => Promise<boolean>, what: string) => {
  const deadline = Date.now() + 20_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** The store `npm start` opens on `url` with `env` set (and every other setting at its default). */
const storeFromSettings = async (url: string, env: Record<string, string>) => {
  const settings = await Effect.runPromise(Effect.withConfigProvider(Config.config, ConfigProvider.fromMap(new Map(Object.entries({ DATABASE_URL: url, ...env })))))
  return Engine.storeOf(settings)
}

/** The pool size the server's PostgreSQL store has by default (`Postgres.Options.maxConnections`). */
const POOL_SIZE = 10

describe.skipIf(!probe.available)(`PostgreSQL misbehaving under the server ${probe.reason}`, () => {
  const scope = Effect.runSync(Scope.make())
  let db: { readonly name: string; readonly url: string }
  let server: H.TestServer
  let call: H.Call
  let admin: pg.Client

  const query = async (text: string, values: Array<unknown> = []) => (await admin.query(text, values)).rows
  /** Terminates every backend of the test's database (never another's). */
  const terminateBackends = () =>
    query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [db.name])
  const count = async (sql: string) => Number((await query(sql.replace("$db", db.name)))[0].n)
  const waitingOnLocks = () => count("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = '$db' AND wait_event_type = 'Lock'")

  /** What a command writes, counted in the test's database. */
  const written = async () => {
    const client = new pg.Client({ connectionString: db.url })
    await client.connect()
    try {
      const rows = (await client.query(`SELECT
        (SELECT count(*) FROM ledger_entries) AS entries,
        (SELECT count(*) FROM ledger_postings) AS postings,
        (SELECT count(*) FROM ledger_idempotency) AS keys,
        (SELECT count(*) FROM outbox) AS events,
        (SELECT count(*) FROM audit_log) AS audit`)).rows[0]
      return rows as Record<string, string>
    } finally {
      await client.end()
    }
  }

  /** A session of the test's own holding `audit_log` locked until `release`. */
  const holdAuditLog = async () => {
    const session = new pg.Client({ connectionString: db.url })
    session.on("error", () => {})
    await session.connect()
    await session.query("BEGIN")
    await session.query("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE")
    return { release: () => session.query("COMMIT").catch(() => undefined).then(() => session.end().catch(() => undefined)) }
  }

  let keys = 0
  const credit = (did: string, amount = "100") =>
    call("POST", "/v1/operator/credits", {
      token: H.OPERATOR_TOKEN,
      body: { did, amount_minor: amount, currency: "USD", reason: "faults test", idempotency_key: `faults-${++keys}` }
    })

  beforeAll(async () => {
    db = await Effect.runPromise(Scope.extend(PgTestDatabase.database("pgfaults"), scope))
    server = await H.start({ _tag: "postgres", url: db.url })
    call = H.client(server.url)
    admin = new pg.Client({ connectionString: PgTestDatabase.adminUrl() })
    await admin.connect()
  })
  afterAll(async () => {
    await server?.cleanup()
    await admin?.end()
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("a backend killed in the middle of a command: SERVICE_UNAVAILABLE, nothing written, and the retry succeeds once", async () => {
    const requester = H.signer(61)
    await H.registerRequester(call, requester)
    const before = await written()
    const lock = await holdAuditLog()
    const body = { did: requester.did, amount_minor: "700", currency: "USD", reason: "killed", idempotency_key: "faults-killed" }
    const pending = call("POST", "/v1/operator/credits", { token: H.OPERATOR_TOKEN, body })
    await until(async () => (await waitingOnLocks()) > 0, "the credit to wait on the lock")
    await terminateBackends()
    const killed = await pending
    await lock.release()
    assert.deepStrictEqual([killed.status, killed.body.error], [503, "SERVICE_UNAVAILABLE"], JSON.stringify(killed.body))
    assert.deepStrictEqual(await written(), before)

    const retried = await call("POST", "/v1/operator/credits", { token: H.OPERATOR_TOKEN, body })
    assert.deepStrictEqual([retried.status, retried.body.available_after_minor], [201, "700"], JSON.stringify(retried.body))
    const replayed = await call("POST", "/v1/operator/credits", { token: H.OPERATOR_TOKEN, body })
    assert.deepStrictEqual([replayed.status, replayed.body.ledger_entry_id], [201, retried.body.ledger_entry_id])
  }, 60_000)

  it("idle connections killed: the pool hands out fresh ones, and the next requests succeed", async () => {
    const requester = H.signer(62)
    await H.registerRequester(call, requester)
    // Fill the pool with idle connections, then kill them all.
    await Promise.all(Array.from({ length: POOL_SIZE }, () => call("GET", "/v1/operator/reconcile", { token: H.OPERATOR_TOKEN })))
    await terminateBackends()
    await until(async () => (await count("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = '$db'")) === 0, "the backends to end")
    const replies = await Promise.all(Array.from({ length: POOL_SIZE }, () => credit(requester.did)))
    assert.deepStrictEqual(replies.map((r) => r.status), replies.map(() => 201), JSON.stringify(replies.map((r) => r.body)))
  }, 60_000)

  it("the pool exhausted by commands held in their transactions: a caller waiting for a connection gets SERVICE_UNAVAILABLE, and the held commands finish", async () => {
    const requester = H.signer(63)
    await H.registerRequester(call, requester)
    // With the timeouts off, as an operator may set them: held commands then wait for the lock as
    // long as it is held (with the defaults they give up after 5 s and free their connections).
    const unlimited = await H.start(await storeFromSettings(db.url, { PG_LOCK_TIMEOUT: "0 seconds", PG_STATEMENT_TIMEOUT: "0 seconds" }))
    const callUnlimited = H.client(unlimited.url)
    try {
      const lock = await holdAuditLog()
      const held = Array.from({ length: POOL_SIZE }, () =>
        callUnlimited("POST", "/v1/operator/credits", {
          token: H.OPERATOR_TOKEN,
          body: { did: requester.did, amount_minor: "100", currency: "USD", reason: "faults test", idempotency_key: `faults-${++keys}` }
        }))
      try {
        await until(async () => (await waitingOnLocks()) === POOL_SIZE, "every connection to wait on the lock")
        // Past the pool's wait for a free connection (the store's connect timeout), not forever.
        const waiting = await callUnlimited("GET", "/v1/operator/reconcile", { token: H.OPERATOR_TOKEN })
        assert.deepStrictEqual([waiting.status, waiting.body.error], [503, "SERVICE_UNAVAILABLE"], JSON.stringify(waiting.body))
      } finally {
        await lock.release()
      }
      const replies = await Promise.all(held)
      assert.deepStrictEqual(replies.map((r) => r.status), replies.map(() => 201), JSON.stringify(replies.map((r) => r.body)))
    } finally {
      await unlimited.close()
    }
  }, 60_000)

  it("a fresh server connection has the default lock_timeout and statement_timeout (the settings' defaults)", async () => {
    const store = await storeFromSettings(db.url, {})
    assert.deepInclude(store, { lockTimeout: Duration.seconds(5), statementTimeout: Duration.seconds(30) })
    // The server's own pool: a statement of the test's, on one of its connections.
    const shown = await server.runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<{ lock: string; statement: string }>`SELECT current_setting('lock_timeout') AS lock, current_setting('statement_timeout') AS statement`))
    assert.deepStrictEqual(shown, [{ lock: "5s", statement: "30s" }])
  }, 60_000)

  // Each on a server of its own, started from the settings an operator writes.
  for (const [setting, env] of [
    ["lock_timeout", { PG_LOCK_TIMEOUT: "100 millis" }],
    // With no lock_timeout, the statement waiting on the lock runs into statement_timeout.
    ["statement_timeout", { PG_LOCK_TIMEOUT: "0 seconds", PG_STATEMENT_TIMEOUT: "100 millis" }]
  ] as const) {
    it(`${setting} from the settings: a command held behind a lock answers DATABASE_TIMEOUT (503), writes nothing, and succeeds once retried`, async () => {
      const requester = H.signer(setting === "lock_timeout" ? 64 : 65)
      await H.registerRequester(call, requester)
      const limited = await H.start(await storeFromSettings(db.url, env))
      const body = { did: requester.did, amount_minor: "300", currency: "USD", reason: setting, idempotency_key: `faults-${setting}` }
      try {
        const before = await written()
        const lock = await holdAuditLog()
        // Without the timeout it would wait as long as the lock is held, released only once it answers.
        const timedOut = await H.client(limited.url)("POST", "/v1/operator/credits", { token: H.OPERATOR_TOKEN, body }).finally(lock.release)
        assert.deepStrictEqual([timedOut.status, timedOut.body.error, timedOut.body.details], [503, "DATABASE_TIMEOUT", { limit: setting }], JSON.stringify(timedOut.body))
        assert.deepStrictEqual(await written(), before)
        const retried = await H.client(limited.url)("POST", "/v1/operator/credits", { token: H.OPERATOR_TOKEN, body })
        assert.deepStrictEqual([retried.status, retried.body.available_after_minor], [201, "300"], JSON.stringify(retried.body))
      } finally {
        await limited.close()
      }
    }, 60_000)
  }

  it("a balance past what its column holds is refused as AMOUNT_OUT_OF_RANGE before any statement, writing nothing", async () => {
    const requester = H.signer(66)
    await H.registerRequester(call, requester)
    assert.strictEqual((await credit(requester.did, "1")).status, 201)
    // No request can take a balance this high (amounts are capped far below): set it by hand, and
    // back afterwards, so the ledger reconciles for the tests after this one.
    const session = new pg.Client({ connectionString: db.url })
    await session.connect()
    const setBalance = (amount: string) =>
      session.query("UPDATE ledger_balances SET amount = $2 WHERE account = $1 AND bucket = 'A'", [requester.did, amount])
    try {
      await setBalance("9223372036854775000")
      const before = await written()
      const overflowing = await credit(requester.did, "1000000")
      assert.deepStrictEqual([overflowing.status, overflowing.body.error], [400, "AMOUNT_OUT_OF_RANGE"], JSON.stringify(overflowing.body))
      assert.deepStrictEqual(await written(), before)
    } finally {
      await setBalance("1")
      await session.end()
    }
  }, 60_000)

  it("a constraint the engine does not know of fails a command: INTERNAL_ERROR without internals, nothing written, and the server serves on", async () => {
    const requester = H.signer(67)
    await H.registerRequester(call, requester)
    // As a DBA's constraint, or a schema drifted from the migrations, would.
    const session = new pg.Client({ connectionString: db.url })
    await session.connect()
    await session.query("ALTER TABLE ledger_postings ADD CONSTRAINT faults_not_777 CHECK (abs(amount) <> 777) NOT VALID").finally(() => session.end())
    const before = await written()
    const refused = await credit(requester.did, "777")
    assert.deepStrictEqual([refused.status, refused.body.error, refused.body.details], [500, "INTERNAL_ERROR", {}], JSON.stringify(refused.body))
    assert.notMatch(JSON.stringify(refused.body), /faults_not_777|ledger_postings|constraint/i)
    assert.deepStrictEqual(await written(), before)
    assert.strictEqual((await credit(requester.did, "778")).status, 201)
  }, 60_000)

  it("the database gone from under the deadline scheduler: failed sweeps are counted, the server serves on, and sweeps succeed once it is back", async () => {
    // A database of its own: while it refuses connections, so does every session on it.
    const gone = await Effect.runPromise(Scope.extend(PgTestDatabase.database("pgsweep"), scope))
    const running = await H.start({ _tag: "postgres", url: gone.url }, { scheduler: { interval: "100 millis", enabled: true }, shutdownGrace: "1 second" })
    const status = () => running.runtime.runPromise(Effect.flatMap(Scheduler, (scheduler) => scheduler.status))
    try {
      await until(async () => (await status()).runs >= 1, "a first sweep")
      await query(`ALTER DATABASE ${gone.name} ALLOW_CONNECTIONS false`)
      await query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [gone.name])
      const failuresBefore = (await status()).failures
      await until(async () => (await status()).failures >= failuresBefore + 2, "two failed sweeps")
      // Requests in the meantime are told to come back, not that the server broke.
      const refused = await H.client(running.url)("GET", "/v1/operator/reconcile", { token: H.OPERATOR_TOKEN })
      assert.deepStrictEqual([refused.status, refused.body.error], [503, "SERVICE_UNAVAILABLE"])
      // And the operator what is wrong, without a stack trace per sweep in the log.
      const during = await status()
      assert.deepStrictEqual([during.running, during.last_error], [true, "the database is unavailable"])
      await query(`ALTER DATABASE ${gone.name} ALLOW_CONNECTIONS true`)
      const runsBack = (await status()).runs
      await until(async () => {
        const now = await status()
        return now.runs >= runsBack + 2 && now.last_error === null
      }, "sweeps to succeed again")
      const served = await H.client(running.url)("GET", "/v1/operator/reconcile", { token: H.OPERATOR_TOKEN })
      assert.strictEqual(served.status, 200)
    } finally {
      await query(`ALTER DATABASE ${gone.name} ALLOW_CONNECTIONS true`)
      await running.close()
    }
  }, 60_000)

  it("a backend killed at COMMIT: COMMIT_OUTCOME_UNKNOWN (503), and the retry under the same key applies the command once", async () => {
    const requester = H.signer(69)
    await H.registerRequester(call, requester)
    // A deferred trigger runs at COMMIT: this one ends its own session there, the first time only
    // (a sequence, which a rollback does not undo, counts the times).
    const session = new pg.Client({ connectionString: db.url })
    await session.connect()
    await session.query(`CREATE SEQUENCE faults_commits`)
    await session.query(`CREATE FUNCTION faults_kill_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('faults_commits') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
        RETURN NULL;
      END $$`)
    await session.query(`CREATE CONSTRAINT TRIGGER faults_kill_at_commit AFTER INSERT ON audit_log
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION faults_kill_at_commit()`)
    await session.end()
    const before = await written()
    const body = { did: requester.did, amount_minor: "900", currency: "USD", reason: "killed at commit", idempotency_key: "faults-commit" }
    const killed = await call("POST", "/v1/operator/credits", { token: H.OPERATOR_TOKEN, body })
    assert.deepStrictEqual([killed.status, killed.body.error], [503, "COMMIT_OUTCOME_UNKNOWN"], JSON.stringify(killed.body))
    assert.deepStrictEqual(await written(), before)
    const retried = await call("POST", "/v1/operator/credits", { token: H.OPERATOR_TOKEN, body })
    assert.deepStrictEqual([retried.status, retried.body.available_after_minor], [201, "900"], JSON.stringify(retried.body))
    // Exactly one effect: a second retry replays the first.
    const replayed = await call("POST", "/v1/operator/credits", { token: H.OPERATOR_TOKEN, body })
    assert.deepStrictEqual([replayed.status, replayed.body.ledger_entry_id, replayed.body.available_after_minor], [201, retried.body.ledger_entry_id, "900"])
  }, 60_000)

  it("SERIALIZABLE set on the database: concurrent commands on one account succeed after jittered retries (or answer SERVICE_UNAVAILABLE once they run out), and the balance counts each success once", async () => {
    const requester = H.signer(70)
    await H.registerRequester(call, requester)
    await query(`ALTER DATABASE ${db.name} SET default_transaction_isolation = 'serializable'`)
    await terminateBackends()
    // Gone before the commands start: a backend still ending could cut one at its COMMIT, whose
    // outcome is then rightly unknown (COMMIT_OUTCOME_UNKNOWN), which is not what this test is about.
    await until(async () => (await count("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = '$db'")) === 0, "the backends to end")
    try {
      const replies = await Promise.all(Array.from({ length: 30 }, () => credit(requester.did, "1")))
      const unexpected = replies.filter((r) => r.status !== 201 && r.body.error !== "SERVICE_UNAVAILABLE")
      assert.deepStrictEqual(unexpected.map((r) => r.body), [])
      // Retrying at once, 11 of the 30 ran out of retries; with jittered waits none did in repeated
      // runs. A little slack: the waits are random.
      assert.isAtMost(replies.filter((r) => r.status === 503).length, 2)
      const balances = await call("GET", "/v1/operator/reconcile", { token: H.OPERATOR_TOKEN })
      assert.isTrue(balances.body.ok, JSON.stringify(balances.body))
      const last = await credit(requester.did, "1")
      assert.strictEqual(last.body.available_after_minor, String(replies.filter((r) => r.status === 201).length + 1))
    } finally {
      await query(`ALTER DATABASE ${db.name} RESET default_transaction_isolation`)
      await terminateBackends()
    }
  }, 60_000)
})
