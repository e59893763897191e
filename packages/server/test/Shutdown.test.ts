/**
 * Shutdown with a request still running: on PostgreSQL a reconcile waits on a table another session
 * holds locked; closing the server lets it run for the grace, then interrupts it, and the client
 * gets a catalogued 503 asking it to close the connection, not a dropped connection. A server that
 * cannot listen releases what it opened.
 */
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import pg from "pg"
import * as Server from "../src/Server.js"
import * as H from "./helpers.js"

const probe = await PgTestDatabase.probe()

describe.skipIf(!probe.available)(`shutdown on PostgreSQL ${probe.reason}`, () => {
  const scope = Effect.runSync(Scope.make())
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

  it("a request still running after the grace answers 503 with Connection: close", async () => {
    const db = await Effect.runPromise(Scope.extend(PgTestDatabase.database("shutdown"), scope))
    const running = await H.start({ _tag: "postgres", url: db.url }, { shutdownGrace: "500 millis" })
    const locker = new pg.Client({ connectionString: db.url })
    await locker.connect()
    try {
      await locker.query("BEGIN")
      await locker.query("LOCK TABLE ledger_postings IN ACCESS EXCLUSIVE MODE")
      const call = H.client(running.url)
      const stuck = call("GET", "/v1/operator/reconcile", { token: H.OPERATOR_TOKEN })
      await new Promise((resolve) => setTimeout(resolve, 300))
      const started = Date.now()
      const closed = running.close()
      const reply = await stuck
      assert.strictEqual(reply.status, 503, JSON.stringify(reply.body))
      assert.strictEqual(reply.body.error, "SERVICE_UNAVAILABLE")
      assert.strictEqual(reply.headers.get("connection"), "close")
      await locker.query("ROLLBACK")
      await closed
      assert.isBelow(Date.now() - started, 5000)
    } finally {
      await locker.end()
      await running.close()
    }
  }, 30_000)

  it("a start that cannot listen (port in use) releases the database and stops the scheduler", async () => {
    const db = await Effect.runPromise(Scope.extend(PgTestDatabase.database("listen"), scope))
    const first = await H.startSqlite()
    const admin = new pg.Client({ connectionString: db.url })
    await admin.connect()
    try {
      const failed = await Server.start({
        host: "127.0.0.1",
        port: first.port,
        bodyLimitBytes: 64 * 1024,
        engine: { store: { _tag: "postgres", url: db.url }, operatorToken: H.operatorLayer },
        scheduler: { interval: "1 hour", enabled: true }
      }).then(() => "started", (error: Error) => error.message)
      assert.match(failed, /EADDRINUSE/)
      // A closed connection's server process exits a moment after its client: a leaked one never does.
      const others = async () =>
        (await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")).rows[0].n as number
      let open = await others()
      for (let attempt = 0; open > 0 && attempt < 40; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        open = await others()
      }
      assert.strictEqual(open, 0, "the failed start left connections open")
    } finally {
      await admin.end()
      await first.cleanup()
    }
  }, 30_000)
})
