/**
 * Against a real server on loopback (started here on a SQLite file): the gate pack is green and
 * cleans up after itself, names its blockers when it cannot do its job, rides out a transient
 * failure and settles what a failed check left open, and a batch over HTTP
 * survives a server restart in the middle with every invariant intact. On PostgreSQL, a batch runs
 * from an empty database, as on a fresh deployment.
 */
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Gate, Http, Keys, LocalServer, Runner, Simulate, Simulation } from "../src/index.js"

// Short per-bounty deadlines, so silent and abandoned jobs resolve in seconds over real time.
process.env.BOUNTY_MIN_DEADLINE = "1 second"

const dir = mkdtempSync(join(tmpdir(), "testkit-http-"))
let server: LocalServer.LocalServer

beforeAll(async () => {
  server = await LocalServer.start({ file: join(dir, "engine.db"), operatorToken: "cbt_operator_testkit-http-test-operator-token-0001" })
})
afterAll(async () => {
  await server?.close()
  rmSync(dir, { recursive: true, force: true })
})

/**
 * A proxy in front of the server that answers 503 to the requests `refuse` picks, and passes the
 * server's answers through `rewrite` (a server whose money is off, as the gate would see it). The
 * requests `lose` picks reach the server but their answer is a 502 (a gateway that lost it); those
 * `stall` picks are never answered.
 */
const refusingProxy = (
  refuse: (path: string, body: string) => boolean,
  rewrite: (path: string, body: string) => string = (_, body) => body,
  { lose = () => false, stall = () => false }: { readonly lose?: (path: string, body: string) => boolean; readonly stall?: (path: string, body: string) => boolean } = {}
) =>
  Effect.acquireRelease(
    Effect.promise(() => new Promise<{ url: string; close: () => void }>((resolve) => {
      const proxy = createServer(async (req, res) => {
        const chunks: Array<Buffer> = []
        for await (const chunk of req) chunks.push(chunk as Buffer)
        const body = Buffer.concat(chunks).toString("utf8")
        if (stall(req.url ?? "", body)) return
        if (refuse(req.url ?? "", body)) {
          res.writeHead(503, { "content-type": "application/json" })
          res.end(JSON.stringify({ error: "SERVICE_UNAVAILABLE", message: "refused by the test proxy", details: {} }))
          return
        }
        const headers: Record<string, string> = {}
        for (const name of ["authorization", "content-type", "idempotency-key"]) {
          const value = req.headers[name]
          if (typeof value === "string") headers[name] = value
        }
        const upstream = await fetch(`${server.url}${req.url}`, { method: req.method!, headers, ...(req.method === "GET" ? {} : { body }) })
        if (lose(req.url ?? "", body)) {
          res.writeHead(502, { "content-type": "text/html" })
          res.end("<html>502 Bad Gateway</html>")
          return
        }
        res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" })
        res.end(rewrite(req.url ?? "", await upstream.text()))
      })
      proxy.listen(0, "127.0.0.1", () =>
        resolve({ url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, close: () => proxy.close() }))
    })),
    (proxy) => Effect.sync(proxy.close)
  )

describe("Gate", () => {
  it.live("a healthy server passes every required check, the gate cleans up, and the report is written", () =>
    Effect.gen(function* () {
      const report = yield* Gate.run({ url: server.url, operatorToken: server.operatorToken })
      assert.strictEqual(report.recommendation, "READY_FOR_PROD_GOVERNANCE_REVIEW", JSON.stringify(report.blockers))
      assert.deepStrictEqual(report.blockers, [])
      const status = Object.fromEntries(report.checks.map((c) => [c.id, c.status]))
      assert.deepStrictEqual(status, {
        "routes.health": "pass", "routes.ready": "pass", "routes.openapi": "pass",
        "auth.missing_token": "pass", "auth.malformed_token": "pass", "auth.register": "pass",
        "auth.wrong_role": "pass", "auth.operator_route": "pass", "auth.operator_token": "pass",
        "job.requester_closure": "pass", "events.feed": "pass", "verify.invalid_submission": "pass",
        "lane.test": "skip", "cleanup": "pass", "ledger.reconcile": "pass"
      })
      assert.isTrue(report.cleanup.ok)
      assert.strictEqual(report.cleanup.requester_held_minor, "0")
      assert.isNotNull(report.cleanup.returned_minor)
      assert.isTrue(report.cleanup.bounties.length >= 2 && report.cleanup.bounties.every((b) => b.status === "approved"))
      const out = Gate.write(report, join(dir, "artifacts"))
      assert.strictEqual(JSON.parse(readFileSync(join(out, "gate-report.json"), "utf8")).recommendation, "READY_FOR_PROD_GOVERNANCE_REVIEW")
      assert.match(readFileSync(join(out, "gate-report.md"), "utf8"), /No blockers/)
    }))

  it.live("the gate gives back what it credited: its parties end with nothing, the manual world account is down by the fees alone", () =>
    Effect.gen(function* () {
      const direct = Http.make({ url: server.url, operatorToken: server.operatorToken })
      const operator = yield* direct.operator
      const worldBefore = (yield* direct.balances(operator, "world:manual")).A
      const feesBefore = (yield* direct.balances(operator, "platform:fees")).F
      const report = yield* Gate.run({ url: server.url, operatorToken: server.operatorToken, namespace: "gate-gives-back" })
      assert.strictEqual(report.recommendation, "READY_FOR_PROD_GOVERNANCE_REVIEW", JSON.stringify(report.blockers))
      for (const role of ["requester", "worker"] as const) {
        const balance = yield* direct.balances(operator, Keys.derive("gate-gives-back", role).did)
        assert.deepStrictEqual([balance.A, balance.H], [0n, 0n], `the gate's ${role} kept money no one can spend`)
      }
      const fees = (yield* direct.balances(operator, "platform:fees")).F - feesBefore
      assert.isTrue(fees > 0n)
      assert.strictEqual((yield* direct.balances(operator, "world:manual")).A - worldBefore, -fees)
      const returned = report.cleanup.returned_minor
      assert.isTrue(returned !== null && BigInt(returned.requester) > 0n && BigInt(returned.worker) > 0n, JSON.stringify(returned))
    }))

  it.live("a refused operator token is one blocker that says so, not a cascade of failed checks", () =>
    Effect.gen(function* () {
      const report = yield* Gate.run({ url: server.url, operatorToken: `cbt_operator_${"w".repeat(40)}` })
      assert.strictEqual(report.recommendation, "BLOCKED")
      assert.deepStrictEqual(report.blockers.map((b) => b.id), ["auth.operator_token", "job.requester_closure"])
      assert.match(report.blockers[0]!.detail, /operator token was refused: 401 UNAUTHORIZED/)
      assert.match(report.blockers[1]!.detail, /operator token/)
      // Nothing was funded, so nothing was opened or left behind.
      assert.isTrue(report.cleanup.ok, JSON.stringify(report.cleanup))
      assert.deepStrictEqual(report.cleanup.bounties, [])
    }))

  it.live("the gate's principals cannot be taken over from its report: their keys are not derivable from it", () =>
    Effect.gen(function* () {
      const report = yield* Gate.run({ url: server.url, operatorToken: server.operatorToken })
      assert.strictEqual(report.recommendation, "READY_FOR_PROD_GOVERNANCE_REVIEW", JSON.stringify(report.blockers))
      // What anyone reading the report (or the gate's public bounty descriptions) could derive.
      const target = Http.make({ url: server.url, operatorToken: server.operatorToken })
      const operator = yield* target.operator
      for (const role of ["requester", "worker"] as const) {
        const guessed = Keys.derive(`gate-${report.started_at}`, role)
        const balance = yield* target.balances(operator, guessed.did)
        assert.strictEqual(balance.A, 0n, `the gate's ${role} and its money are one derivation away`)
      }
    }))

  it.live("a transient 503 is retried with the same key and the gate stays green", () =>
    Effect.scoped(Effect.gen(function* () {
      let refused = 0
      const proxy = yield* refusingProxy((path) => path.endsWith("/approve") && refused++ === 0)
      const report = yield* Gate.run({ url: proxy.url, operatorToken: server.operatorToken })
      assert.strictEqual(refused > 1, true)
      assert.strictEqual(report.recommendation, "READY_FOR_PROD_GOVERNANCE_REVIEW", JSON.stringify(report.blockers))
    })))

  it.live("a check that fails part-way is a blocker, and the gate still settles the job it opened", () =>
    Effect.scoped(Effect.gen(function* () {
      // Every approval of the end-to-end job fails, so that check stops with its bounty under review.
      const proxy = yield* refusingProxy((path, body) => path.endsWith("/approve") && body.includes(":job:approve"))
      const report = yield* Gate.run({ url: proxy.url, operatorToken: server.operatorToken })
      assert.strictEqual(report.recommendation, "BLOCKED")
      assert.deepStrictEqual(report.blockers.map((b) => b.id), ["job.requester_closure"])
      assert.isTrue(report.cleanup.ok, JSON.stringify(report.cleanup))
      assert.strictEqual(report.cleanup.requester_held_minor, "0")
      assert.isTrue(report.cleanup.bounties.every((b) => b.status === "approved"), JSON.stringify(report.cleanup.bounties))
      assert.deepStrictEqual(report.cleanup.settled.map((s) => s.from), ["pending_review"])
    })))

  it.live("money that is off anywhere in the job blocks it: here the fee pool did not grow", () =>
    Effect.scoped(Effect.gen(function* () {
      // The fee pool's balance reads the same before and after: as if the fee had gone elsewhere.
      let frozen: string | undefined
      const proxy = yield* refusingProxy(() => false, (path, body) => {
        if (!path.startsWith("/v1/balances?") || !path.includes("platform")) return body
        frozen ??= body
        return frozen
      })
      const report = yield* Gate.run({ url: proxy.url, operatorToken: server.operatorToken })
      assert.strictEqual(report.recommendation, "BLOCKED")
      const job = report.checks.find((c) => c.id === "job.requester_closure")!
      assert.strictEqual(job.status, "fail")
      assert.match(job.detail, /fee pool grew by 0/)
    })))

  it.live("a deployment whose feed loses the job's events is blocked on them", () =>
    Effect.scoped(Effect.gen(function* () {
      const proxy = yield* refusingProxy(() => false, (path, body) =>
        path.startsWith("/v1/events?") ? JSON.stringify({ events: [], next_cursor: null }) : body)
      const report = yield* Gate.run({ url: proxy.url, operatorToken: server.operatorToken })
      assert.strictEqual(report.recommendation, "BLOCKED")
      assert.deepStrictEqual(report.blockers.map((b) => b.id), ["events.feed"])
      assert.match(report.blockers[0]!.detail, /the requester's feed lacks bounty\.posted/)
      assert.isTrue(report.cleanup.ok, JSON.stringify(report.cleanup))
    })))

  it.live("an answer the gate cannot read fails its check, and the gate still reports and settles the job", () =>
    Effect.scoped(Effect.gen(function* () {
      // The post's answer lacks its cost breakdown: the end-to-end job cannot check its money.
      const proxy = yield* refusingProxy(() => false, (path, body) => {
        if (path !== "/v1/bounties") return body
        const { all_in_cost: _, ...rest } = JSON.parse(body) as Record<string, unknown>
        return JSON.stringify(rest)
      })
      const report = yield* Gate.run({ url: proxy.url, operatorToken: server.operatorToken })
      assert.strictEqual(report.recommendation, "BLOCKED")
      assert.deepStrictEqual(report.blockers.map((b) => b.id), ["job.requester_closure"])
      assert.isTrue(report.cleanup.ok, JSON.stringify(report.cleanup))
      assert.deepStrictEqual(report.cleanup.settled.map((s) => s.from), ["open"])
      assert.strictEqual(report.cleanup.requester_held_minor, "0")
    })))

  it.live("a balance the gate cannot read is a blocker in the cleanup too, and the gate still reports", () =>
    Effect.scoped(Effect.gen(function* () {
      const did = encodeURIComponent(Keys.derive("gate-unreadable-balance", "requester").did)
      const proxy = yield* refusingProxy(() => false, (path, body) =>
        path.startsWith(`/v1/balances?did=${did}`) ? JSON.stringify({ buckets: { A: "n/a", H: "n/a" } }) : body)
      const report = yield* Gate.run({ url: proxy.url, operatorToken: server.operatorToken, namespace: "gate-unreadable-balance" })
      assert.strictEqual(report.recommendation, "BLOCKED")
      assert.deepStrictEqual(report.blockers.map((b) => b.id), ["job.requester_closure", "cleanup"])
      assert.strictEqual(report.cleanup.requester_held_minor, null)
      assert.isTrue(report.cleanup.bounties.every((b) => b.status === "approved"), JSON.stringify(report.cleanup.bounties))
    })))

  it.live("a gate interrupted part-way still settles the bounty it opened and releases its hold", () =>
    Effect.scoped(Effect.gen(function* () {
      // The end-to-end job's accept is never answered: the gate is interrupted (Ctrl-C) while it waits.
      const stalled = yield* Deferred.make<void>()
      const posted: Array<string> = []
      const proxy = yield* refusingProxy(() => false, (path, body) => {
        const id = path === "/v1/bounties" ? (JSON.parse(body) as { bounty_id?: string }).bounty_id : undefined
        if (id !== undefined) posted.push(id)
        return body
      }, {
        stall: (path, body) => {
          if (!(path.endsWith("/accept") && body.includes(":job:accept"))) return false
          Deferred.unsafeDone(stalled, Exit.void)
          return true
        }
      })
      const gate = yield* Effect.fork(Gate.run({ url: proxy.url, operatorToken: server.operatorToken, namespace: "gate-interrupted" }))
      yield* Deferred.await(stalled)
      yield* Fiber.interrupt(gate)
      const direct = Http.make({ url: server.url, operatorToken: server.operatorToken })
      const operator = yield* direct.operator
      assert.strictEqual(posted.length, 1)
      assert.strictEqual((yield* direct.getBounty(operator, posted[0]!)).status, "cancelled")
      assert.strictEqual((yield* direct.balances(operator, Keys.derive("gate-interrupted", "requester").did)).H, 0n)
    })))

  it.live("a bounty whose post answer was lost is still found and settled by the cleanup", () =>
    Effect.scoped(Effect.gen(function* () {
      // The server makes the invalid-submission check's bounty, but the gate never learns its id.
      const proxy = yield* refusingProxy(() => false, undefined, { lose: (path, body) => path === "/v1/bounties" && body.includes(":invalid:post") })
      const report = yield* Gate.run({ url: proxy.url, operatorToken: server.operatorToken })
      assert.deepStrictEqual(report.blockers.map((b) => b.id), ["verify.invalid_submission"], JSON.stringify(report.blockers))
      assert.isTrue(report.cleanup.ok, JSON.stringify(report.cleanup))
      assert.strictEqual(report.cleanup.requester_held_minor, "0")
      assert.deepStrictEqual(report.cleanup.settled.map((s) => s.from), ["open"])
      assert.deepStrictEqual(report.cleanup.bounties.map((b) => b.status), ["approved", "cancelled"])
    })))

  it.live("a transient 503 on the test-lane post or the forged submission is retried, not a blocker", () =>
    Effect.scoped(Effect.gen(function* () {
      const refused = new Set<string>()
      const once = (key: string) => !refused.has(key) && refused.add(key) !== undefined
      const proxy = yield* refusingProxy((path, body) =>
        (path === "/v1/bounties" && body.includes(":test-lane:post") && once("lane")) ||
        (path.endsWith("/submit") && body.includes(":invalid:forged") && once("forged")))
      const report = yield* Gate.run({ url: proxy.url, operatorToken: server.operatorToken })
      assert.deepStrictEqual([...refused].sort(), ["forged", "lane"])
      assert.strictEqual(report.recommendation, "READY_FOR_PROD_GOVERNANCE_REVIEW", JSON.stringify(report.blockers))
    })))

  it.live("without an operator token the gate is blocked and says why", () =>
    Effect.gen(function* () {
      const report = yield* Gate.run({ url: server.url })
      assert.strictEqual(report.recommendation, "BLOCKED")
      assert.deepStrictEqual(report.blockers.map((b) => b.id), ["job.requester_closure"])
      assert.match(report.blockers[0]!.detail, /operator token/)
    }))

  it.live("a gateway's multi-line error page keeps the markdown report one row per check", () =>
    Effect.scoped(Effect.gen(function* () {
      const page = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
      const gateway = yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<{ url: string; close: () => void }>((resolve) => {
          const s = createServer((_, res) => res.writeHead(502, { "content-type": "text/html" }).end(page))
          s.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, close: () => s.close() }))
        })),
        (g) => Effect.sync(g.close)
      )
      const report = yield* Gate.run({ url: gateway.url, operatorToken: server.operatorToken })
      assert.strictEqual(report.recommendation, "BLOCKED")
      const lines = Gate.markdown(report).split("\n")
      const table = lines.slice(lines.indexOf("|---|---|---|---|---|") + 1)
      const rows = table.slice(0, table.indexOf(""))
      assert.strictEqual(rows.length, report.checks.length, rows.join("\n"))
      assert.isTrue(rows.every((r) => r.startsWith("| ") && r.endsWith(" |")), rows.join("\n"))
      const blockers = lines.filter((l) => l.startsWith("- **"))
      assert.strictEqual(blockers.length, report.blockers.length)
    })))

  it.live("an unreachable target is blocked on its routes", () =>
    Effect.gen(function* () {
      const report = yield* Gate.run({ url: "http://127.0.0.1:9", operatorToken: "x".repeat(40), timeoutMs: 2000 })
      assert.strictEqual(report.recommendation, "BLOCKED")
      assert.includeMembers(report.blockers.map((b) => b.id), ["routes.health", "routes.ready", "auth.register"])
    }))
})

describe("Runner over HTTP", () => {
  it.live("the command line's principals cannot be taken over: their keys are not derivable from the public namespace", () =>
    Effect.gen(function* () {
      const { jobs, summary } = yield* Simulate.overHttp({
        config: { ...Simulation.defaults, total: 4, seed: 12, requesters: 1, workers: 1, decisions: { approve: 1, reject: 0, silent: 0 }, invalidShare: 0, abandonShare: 0 },
        url: server.url,
        operatorToken: server.operatorToken
      })
      assert.strictEqual(summary.totals.succeeded, 4)
      // The namespace is in the summary and in every bounty's public description.
      const used = new Set(jobs.flatMap((job) => [job.requester_did, job.worker_did]))
      assert.strictEqual(used.size, 2)
      for (const label of ["requester/0", "worker/0"]) {
        assert.isFalse(used.has(Keys.derive(summary.run.namespace, label).did), `${label}'s key is one derivation away from the namespace`)
      }
    }))

  it.live("a batch with a server restart in the middle: retried with the same keys, nothing lost or doubled", () =>
    Effect.gen(function* () {
      const target = Http.make({ url: server.url, operatorToken: server.operatorToken, restart: server.restart })
      const { summary, jobs } = yield* Runner.run({
        config: { ...Simulation.defaults, total: 40, seed: 11, maxConcurrency: 8, deadlineSeconds: 2, faults: { share: 0, kinds: ["server_restart"] } },
        target,
        namespace: "http-restart"
      })
      assert.strictEqual(summary.totals.succeeded, 40, JSON.stringify(jobs.filter((j) => j.outcome.status !== "succeeded").slice(0, 2)))
      assert.strictEqual(summary.faults.restarts.length, 1)
      assert.isTrue((summary.faults.restarts[0] as { ok: boolean }).ok)
      // Requests in flight or sent during the restart failed at the transport and were resent.
      assert.isTrue((summary.retries.by_code.NETWORK_ERROR ?? 0) > 0, JSON.stringify(summary.retries))
      assert.isTrue(summary.invariants.ok, JSON.stringify(summary.invariants.results.filter((r) => !r.ok)))
      assert.deepStrictEqual(summary.invariants.results.map((r) => r.name), ["ledger_reconcile_via_target", "balances_match_outcomes", "no_stuck_jobs_or_escrows"])
      assert.strictEqual(summary.stuck.jobs + summary.stuck.escrows, 0)
      assert.isTrue(summary.decisions.silent > 0 && summary.decisions.abandon > 0, "the deadline phase ran over real time")
      assert.strictEqual(summary.terminal_states.cancelled, summary.decisions.abandon)
    }))
})

describe("a rate-limited server", () => {
  /** A server that answers every request 429 with `retryAfter`, counting them. */
  const alwaysLimited = (retryAfter: string) =>
    Effect.acquireRelease(
      Effect.promise(() => new Promise<{ url: string; requests: () => number; close: () => void }>((resolve) => {
        let requests = 0
        const stub = createServer((_req, res) => {
          requests++
          res.writeHead(429, { "content-type": "application/json", "retry-after": retryAfter })
          res.end(JSON.stringify({ error: "RATE_LIMITED", message: "slow down", details: {} }))
        })
        stub.listen(0, "127.0.0.1", () =>
          resolve({ url: `http://127.0.0.1:${(stub.address() as AddressInfo).port}/`, requests: () => requests, close: () => stub.close() }))
      })),
      (stub) => Effect.sync(stub.close)
    )

  it("Retry-After is read as seconds or as an HTTP date, and nothing else", () => {
    const at = Date.parse("Wed, 21 Oct 2026 07:28:00 GMT")
    assert.strictEqual(Http.retryAfterMs("120", at), 120_000)
    assert.strictEqual(Http.retryAfterMs(" 0 ", at), 0)
    assert.strictEqual(Http.retryAfterMs("Wed, 21 Oct 2026 07:28:05 GMT", at), 5000)
    assert.strictEqual(Http.retryAfterMs("Wed, 21 Oct 2026 07:27:00 GMT", at), 0, "a date in the past: at once")
    for (const unreadable of ["", "soon", "-5", "1.5", "12abc"]) assert.isUndefined(Http.retryAfterMs(unreadable, at), unreadable)
    assert.isUndefined(Http.retryAfterMs(null, at))
  })

  it.live("a request waits each Retry-After within its budget, then fails as a RATE_LIMITED that is not retried", () =>
    Effect.gen(function* () {
      const stub = yield* alwaysLimited("1")
      const waits: Array<number> = []
      const reply = yield* Http.request(stub.url, "POST", "v1/bounties", { body: {}, rateLimit: { maxWaitMs: 2500, onWait: (ms) => waits.push(ms) } })
      assert.deepStrictEqual(waits, [1000, 1000], "a third wait would pass the budget")
      assert.strictEqual(stub.requests(), 3)
      const error = yield* Effect.flip(Http.expectOk(reply))
      assert.strictEqual(error.code, "RATE_LIMITED")
      assert.isFalse(error.retryable, "sending it again would only wait again")
      assert.strictEqual(error.retryAfterMs, 1000)

      // A wait longer than the whole budget is not begun.
      const far = yield* alwaysLimited("3600")
      const refused = yield* Http.request(far.url, "GET", "health", { rateLimit: { maxWaitMs: 60_000 } })
      assert.strictEqual(refused.status, 429)
      assert.strictEqual(far.requests(), 1)
    }).pipe(Effect.scoped), 20_000)

  /** A server of its own with tight limits per caller (each Retry-After it sends is a whole second). */
  const limitedServer = (file: string, limits: { readonly perMinute: number; readonly burst: number }) =>
    Effect.acquireRelease(
      Effect.promise(() => LocalServer.start({
        file: join(dir, file),
        operatorToken: server.operatorToken,
        rateLimits: { expensive: limits, anonymous: limits, write: limits, maxCallers: 1000, trustedProxies: 0 }
      })),
      (started) => Effect.promise(() => started.close())
    )

  it.live("a batch against tight limits: every request waits its turn, every job completes, nothing is stuck, and the waits are counted", () =>
    Effect.gen(function* () {
      // 10 a second once a burst of 3 is spent: registering three principals alone is 6 requests.
      const limited = yield* limitedServer("limited-batch.db", { perMinute: 600, burst: 3 })
      const { summary, jobs } = yield* Simulate.overHttp({
        config: {
          ...Simulation.defaults,
          total: 6,
          seed: 14,
          maxConcurrency: 4,
          requesters: 1,
          workers: 2,
          decisions: { approve: 1, reject: 0, silent: 0 },
          invalidShare: 0,
          abandonShare: 0
        },
        url: limited.url,
        operatorToken: limited.operatorToken
      })
      assert.strictEqual(summary.totals.succeeded, 6, JSON.stringify(jobs.filter((j) => j.outcome.status !== "succeeded").slice(0, 2)))
      assert.strictEqual(summary.stuck.jobs + summary.stuck.escrows, 0)
      assert.isTrue(summary.invariants.ok, JSON.stringify(summary.invariants.results.filter((r) => !r.ok)))
      // Registration (anonymous: 6 requests against a burst of 3) and the posts (write) were held back.
      assert.isAbove(summary.retries.rate_limited.waits, 1)
      assert.strictEqual(summary.retries.rate_limited.waited_ms, summary.retries.rate_limited.waits * 1000)
      assert.isUndefined(summary.retries.by_code.RATE_LIMITED, "no step had to be retried: each request waited instead")
    }).pipe(Effect.scoped), 60_000)

  it.live("the gate against tight limits waits its turns and stays green", () =>
    Effect.gen(function* () {
      // One a second after a burst of 2: slower than the gate's own retries of a 429 (after 200 and 400 ms).
      const limited = yield* limitedServer("limited-gate.db", { perMinute: 60, burst: 2 })
      const report = yield* Gate.run({ url: limited.url, operatorToken: limited.operatorToken })
      assert.strictEqual(report.recommendation, "READY_FOR_PROD_GOVERNANCE_REVIEW", JSON.stringify(report.blockers))
      assert.isTrue(report.cleanup.ok)
    }).pipe(Effect.scoped), 60_000)
})

const pg = await PgTestDatabase.probe()
describe.skipIf(!pg.available)(`Runner over HTTP on PostgreSQL ${pg.reason}`, () => {
  it.live("a batch from an empty database: every job reaches its plan, and every invariant holds", () =>
    Effect.gen(function* () {
      const db = yield* PgTestDatabase.database("testkit_http")
      const pgServer = yield* Effect.acquireRelease(
        Effect.promise(() => LocalServer.start({ databaseUrl: db.url, operatorToken: server.operatorToken })),
        (started) => Effect.promise(() => started.close())
      )
      const target = Http.make({ url: pgServer.url, operatorToken: pgServer.operatorToken })
      const { summary, jobs } = yield* Runner.run({
        config: { ...Simulation.defaults, total: 40, seed: 13, maxConcurrency: 8, deadlineSeconds: 2 },
        target,
        namespace: "http-pg"
      })
      assert.isTrue((summary.funding_preflight as { readonly ok: boolean }).ok, JSON.stringify(summary.funding_preflight))
      assert.strictEqual(summary.totals.succeeded, 40, JSON.stringify(jobs.filter((j) => j.outcome.status !== "succeeded").slice(0, 2)))
      assert.isTrue(summary.invariants.ok, JSON.stringify(summary.invariants.results.filter((r) => !r.ok)))
      assert.strictEqual(summary.stuck.jobs + summary.stuck.escrows, 0)
    }).pipe(Effect.scoped))
})
