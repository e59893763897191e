/**
 * The batch runner on the in-process engine: its summary agrees with the engine's own records,
 * every fault kind ends in exactly one effect per command, funding shortfalls get their own bucket,
 * and one seed gives one outcome.
 */
import { assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { Artifacts, Faults, InProcess, Invariants, Runner, Simulate, Simulation } from "../src/index.js"

const config = (overrides: Partial<Simulation.Config>): Simulation.Config => ({ ...Simulation.defaults, ...overrides })

/** A run on a fresh in-process engine, and a look at its database afterwards. */
const runAndInspect = <A>(cfg: Simulation.Config, inspect: (result: Runner.Result) => Effect.Effect<A, unknown, SqlClient.SqlClient>) =>
  Effect.scoped(Effect.gen(function* () {
    const faults = cfg.faults.share > 0
    const engine = yield* InProcess.make({ seed: cfg.seed, faults })
    const engineChecks = Invariants.check({ afterSweep: true }).pipe(Effect.provide(engine.context), Effect.withClock(engine.clock), Effect.orDie)
    const result = yield* Runner.run({ config: cfg, target: engine.target, engineChecks })
    const inspected = yield* Effect.provide(inspect(result), engine.context)
    return { result, inspected }
  }))

const rows = <T extends object>(statement: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<T>(statement)).pipe(Effect.provideService(SqlClient.SafeIntegers, true))

const byStatus = (table: string) =>
  Effect.map(rows<{ status: string; n: bigint }>(`SELECT status, COUNT(*) AS n FROM ${table} GROUP BY status ORDER BY status`), (r) =>
    Object.fromEntries(r.map((x) => [x.status, Number(x.n)])))

const sumWorkerPayouts = (dids: ReadonlyArray<string>) =>
  Effect.map(rows<{ account: string; bucket: string; amount: bigint }>("SELECT account, bucket, amount FROM ledger_balances"), (r) =>
    r.filter((x) => dids.includes(x.account) && x.bucket === "A").reduce((a, x) => a + BigInt(x.amount), 0n))

/**
 * Every row of every table of the engine's database: in insertion order (rowid), or for a table
 * without one in the order of all its columns. The migrations tables are left out: @effect/sql's
 * migrator stamps them with the database's wall clock, and they say nothing about a run.
 */
const everyTable = Effect.gen(function* () {
  const tables = yield* rows<{ name: string; sql: string }>("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%_migrations' ORDER BY name")
  const dump: Record<string, ReadonlyArray<unknown>> = {}
  for (const { name, sql } of tables) {
    const columns = yield* rows<{ name: string }>(`SELECT name FROM pragma_table_info('${name}')`)
    const order = /WITHOUT ROWID/i.test(sql) ? columns.map((c) => `"${c.name}"`).join(", ") : "rowid"
    dump[name] = yield* rows<object>(`SELECT * FROM "${name}" ORDER BY ${order}`)
  }
  return dump
})

describe("Runner (in-process)", () => {
  it.live("200 jobs: the summary's figures are the engine's own records", () =>
    Effect.gen(function* () {
      const { result, inspected } = yield* runAndInspect(config({ total: 200, seed: 42 }), (r) =>
        Effect.all({
          bounties: byStatus("bounties"),
          escrows: byStatus("escrows"),
          submissions: byStatus("submissions"),
          openHolds: Effect.map(rows<{ n: bigint }>("SELECT COUNT(*) AS n FROM ledger_holds WHERE status = 'open'"), (x) => Number(x[0]!.n)),
          fees: Effect.map(rows<{ amount: bigint }>("SELECT amount FROM ledger_balances WHERE account = 'platform:fees' AND bucket = 'F'"), (x) => BigInt(x[0]?.amount ?? 0)),
          paid: sumWorkerPayouts([...new Set(r.jobs.map((j) => j.worker_did))])
        }))
      const s = result.summary
      assert.strictEqual(s.totals.jobs, 200)
      assert.strictEqual(s.totals.succeeded, 200, JSON.stringify(s.error_buckets))
      assert.isTrue(s.invariants.ok, JSON.stringify(s.invariants.results.filter((r) => !r.ok)))
      assert.deepStrictEqual(s.terminal_states, inspected.bounties)
      assert.deepStrictEqual(s.escrow_states, inspected.escrows)
      assert.strictEqual(s.stuck.jobs + s.stuck.escrows, 0)
      assert.strictEqual(inspected.openHolds, 0)
      assert.strictEqual(BigInt(s.money.platform_fees_minor), inspected.fees)
      assert.strictEqual(BigInt(s.money.worker_paid_minor), inspected.paid)
      // Every planned story happened: invalid first submissions are stored as invalid, one each.
      assert.strictEqual(inspected.submissions.invalid, s.decisions.invalid_first)
      assert.strictEqual(s.steps.submit_invalid?.expected_refusals, s.decisions.invalid_first)
      assert.strictEqual(inspected.bounties.cancelled, s.decisions.abandon)
      assert.deepStrictEqual(s.closure_types, { requester: { jobs: 200, succeeded: 200, failed: 0, skipped: 0 } })
      for (const step of ["post", "accept", "submit", "approve", "reject", "resolve_dispute", "cancel"]) {
        const latency = s.steps[step]!.latency_ms
        assert.isTrue(latency.count > 0 && latency.p50 <= latency.p95 && latency.p95 <= latency.p99 && latency.p99 <= latency.max, step)
      }
      assert.isTrue(s.throughput.jobs_per_second > 0)
      assert.strictEqual(s.run.seed, 42)
      assert.strictEqual(Artifacts.ndjson(result.jobs).trim().split("\n").length, 200)
    }))

  it.live("every database fault kind: retried with the same key, exactly one effect each", () =>
    Effect.gen(function* () {
      const { result, inspected } = yield* runAndInspect(
        config({ total: 80, seed: 7, faults: { share: 0.6, kinds: ["db_before_commit", "db_after_commit"] } }),
        () => Effect.all({
          duplicates: rows<{ title: string }>("SELECT title FROM bounties GROUP BY title HAVING COUNT(*) > 1"),
          bounties: Effect.map(rows<{ n: bigint }>("SELECT COUNT(*) AS n FROM bounties"), (x) => Number(x[0]!.n)),
          entriesPerHold: rows<{ hold_id: string }>("SELECT hold_id FROM ledger_entries WHERE hold_id IS NOT NULL GROUP BY hold_id HAVING COUNT(*) > 2")
        }))
      const s = result.summary
      assert.strictEqual(s.totals.succeeded, 80, JSON.stringify(result.jobs.filter((j) => j.outcome.status !== "succeeded").slice(0, 2)))
      assert.isTrue((s.faults.by_kind.db_before_commit ?? 0) > 0 && (s.faults.by_kind.db_after_commit ?? 0) > 0, JSON.stringify(s.faults))
      assert.strictEqual(s.faults.fired, s.faults.planned)
      // A failed statement is a SqlError (DB_ERROR); a failure after the COMMIT, as a lost COMMIT
      // reply, is the engine's typed COMMIT_OUTCOME_UNKNOWN.
      assert.deepStrictEqual(
        [s.retries.by_code.DB_ERROR, s.retries.by_code.COMMIT_OUTCOME_UNKNOWN],
        [s.faults.by_kind.db_before_commit, s.faults.by_kind.db_after_commit]
      )
      assert.deepStrictEqual(inspected.duplicates, [])
      assert.strictEqual(inspected.bounties, 80)
      // A hold is created once and resolved once: never released twice.
      assert.deepStrictEqual(inspected.entriesPerHold, [])
      assert.isTrue(s.invariants.ok, JSON.stringify(s.invariants.results.filter((r) => !r.ok)))
      assert.strictEqual(s.stuck.jobs + s.stuck.escrows, 0)
    }))

  it.live("a per-bounty deadline shorter than the engine's default minimum works in-process, where time only jumps", () =>
    Effect.gen(function* () {
      // --deadline-seconds 5 is what a fast HTTP run uses; in-process it must mean the same jobs.
      const { summary } = yield* Simulate.inProcess({ config: config({ total: 20, seed: 5, deadlineSeconds: 5 }) })
      assert.isTrue(summary.decisions.silent + summary.decisions.abandon > 0)
      assert.strictEqual(summary.totals.succeeded, 20, JSON.stringify(summary.error_buckets))
      assert.isTrue(summary.invariants.ok, JSON.stringify(summary.invariants.results.filter((r) => !r.ok)))
    }))

  it.live("a server restart that outlasts the job it lands on is still waited for and recorded", () =>
    Effect.scoped(Effect.gen(function* () {
      const engine = yield* InProcess.make({ seed: 9 })
      let restarted = 0
      // A restart slower than an in-process job (a server reopening its database, say).
      const restart = Effect.promise(() => new Promise<void>((resolve) => setTimeout(() => (restarted++, resolve()), 300)))
      const target = { ...engine.target, capabilities: { ...engine.target.capabilities, faults: ["server_restart" as const] }, restart }
      const { summary } = yield* Runner.run({ config: config({ total: 8, seed: 9, faults: { share: 0, kinds: ["server_restart"] } }), target })
      assert.strictEqual(restarted, 1)
      assert.deepStrictEqual(summary.faults.restarts.map((r) => (r as { ok: boolean }).ok), [true])
      assert.strictEqual(summary.totals.succeeded, 8)
    })))

  it.live("fault kinds the target cannot inject are dropped and said so, even when it supports as many others", () =>
    Effect.scoped(Effect.gen(function* () {
      const engine = yield* InProcess.make({ seed: 4 })
      // A target that can restart but not fail its database (a server the runner started).
      const target = { ...engine.target, capabilities: { ...engine.target.capabilities, faults: ["server_restart" as const] }, restart: Effect.void }
      const { summary } = yield* Runner.run({ config: config({ total: 10, seed: 4, faults: { share: 1, kinds: ["db_after_commit"] } }), target })
      assert.deepStrictEqual(summary.run.adjustments, ["fault kinds not supported by this target were dropped: db_after_commit"])
      assert.strictEqual(summary.faults.planned, 0)
    })))

  it("settlement properties catch a wrong rule that a copy of the rule would share", () => {
    // The rule before the fee followed the payout: 1 bp of a 5000 net paid 0 and charged a fee of 1.
    assert.deepStrictEqual(Runner.settlementProperties("job-1", 5000n, 375n, { paid: 0n, fee: 1n }), ["job-1: paid 0/fee 1 of net 5000/fee 375: a fee on nothing paid"])
    assert.include(Runner.settlementProperties("job-2", 5000n, 375n, { paid: 5000n, fee: 374n })[0], "the whole net without the whole fee")
    assert.include(Runner.settlementProperties("job-3", 5000n, 375n, { paid: 100n, fee: 300n })[0], "a larger share")
    assert.deepStrictEqual(Runner.settlementProperties("job-4", 5000n, 375n, { paid: 2000n, fee: 150n }), [])
    assert.deepStrictEqual(Runner.settlementProperties("job-5", 5000n, 375n, { paid: 1666n, fee: 125n }), [])
  })

  it.live("underfunded requesters: the preflight aborts, or the run continues with INSUFFICIENT_FUNDS in its own bucket", () =>
    Effect.gen(function* () {
      const underfunded = { enabled: true, factor: 0.5, policy: "abort" as const }
      const aborted = yield* runAndInspect(config({ total: 30, seed: 3, funding: underfunded }), () =>
        Effect.map(rows<{ n: bigint }>("SELECT COUNT(*) AS n FROM bounties"), (x) => Number(x[0]!.n)))
      const a = aborted.result.summary
      assert.strictEqual(a.totals.skipped, 30)
      assert.strictEqual((a.funding_preflight as { decision: string }).decision, "aborted")
      assert.strictEqual(aborted.inspected, 0)
      assert.strictEqual(a.error_buckets.jobs_by_first_error.FUNDING_PREFLIGHT_FAILED, 30)

      const continued = yield* runAndInspect(config({ total: 30, seed: 3, funding: { ...underfunded, policy: "continue" } }), () =>
        Effect.map(rows<{ n: bigint }>("SELECT COUNT(*) AS n FROM ledger_holds WHERE status = 'open'"), (x) => Number(x[0]!.n)))
      const c = continued.result.summary
      assert.strictEqual((c.funding_preflight as { decision: string }).decision, "continued")
      assert.isTrue(c.error_buckets.insufficient_funds > 0)
      assert.strictEqual(c.error_buckets.by_class.INSUFFICIENT_FUNDS, c.error_buckets.insufficient_funds)
      // The code alone does not say why: the summary carries the engine's message for it.
      assert.deepStrictEqual(Object.keys(c.error_buckets.examples), ["INSUFFICIENT_FUNDS"])
      assert.match(c.error_buckets.examples.INSUFFICIENT_FUNDS!, /less than the amount/)
      assert.include(Artifacts.markdown(c), `| INSUFFICIENT_FUNDS | INSUFFICIENT_FUNDS | ${c.error_buckets.insufficient_funds} | ${c.error_buckets.examples.INSUFFICIENT_FUNDS} |`)
      assert.strictEqual(c.totals.failed, c.error_buckets.insufficient_funds)
      assert.strictEqual(c.totals.succeeded + c.totals.failed, 30)
      // Throughput and latency are of the jobs that succeeded: the quick refusals would flatter both.
      const succeededPerSecond = c.totals.succeeded / (c.throughput.wall_ms / 1000)
      assert.closeTo(c.throughput.jobs_per_second, succeededPerSecond, succeededPerSecond * 0.01 + 0.01)
      assert.strictEqual(c.job_latency_ms.count, c.totals.succeeded)
      // Jobs that could not be posted leave nothing behind; the others complete.
      assert.strictEqual(continued.inspected, 0)
      assert.isTrue(c.invariants.ok, JSON.stringify(c.invariants.results.filter((r) => !r.ok)))
    }))

  it.live("a job's ids do not depend on the jobs beside it: one seed gives one jobs.ndjson whatever the concurrency limit did", () =>
    Effect.gen(function* () {
      const lines = (cfg: Simulation.Config) =>
        Effect.map(runAndInspect(cfg, () => Effect.void), ({ result }) => ({
          lines: result.jobs.map((job) => Artifacts.json({ ...job, timings: undefined })),
          decreases: (result.summary.backpressure as { decreases: number }).decreases
        }))
      const base = config({ total: 40, seed: 77 })
      // One job at a time; eight at once with the latency signal off; eight at once with a latency
      // target every step misses, so the limit falls while jobs run.
      const alone = yield* lines({ ...base, maxConcurrency: 1 })
      const eight = yield* lines({ ...base, maxConcurrency: 8, backpressure: { ...base.backpressure, latencyTargetMs: Number.POSITIVE_INFINITY } })
      const squeezed = yield* lines({ ...base, maxConcurrency: 8, backpressure: { ...base.backpressure, latencyTargetMs: 0 } })
      assert.isTrue(squeezed.decreases > 0, "the latency signal moved the limit")
      assert.deepStrictEqual(eight.lines, alone.lines)
      assert.deepStrictEqual(squeezed.lines, alone.lines)
      // Engine-assigned ids are numbered within their job: job 4's bounty is `bty_j00004n001`.
      let checked = 0
      for (const [i, line] of alone.lines.entries()) {
        const refs = (JSON.parse(line) as { refs: Record<string, string | ReadonlyArray<string> | null> }).refs
        for (const id of Object.values(refs).flat()) {
          if (id === null) continue
          assert.match(id, new RegExp(`^[a-z_]+_j${String(i + 1).padStart(5, "0")}n\\d{3}$`), `job ${i + 1}`)
          checked++
        }
      }
      assert.isAbove(checked, 3 * 40)
    }))

  it.live("one seed, one outcome: identical jobs.ndjson apart from timings, identical database", () =>
    Effect.gen(function* () {
      // The latency signal of the backpressure depends on the machine, so it is off here; retryable
      // errors (faults, by seed) still move the limit, deterministically. Every closure type (those
      // not supported yet fail the same way each time); every fault kind (the in-process target drops
      // server_restart, and says so), and no faults.
      const base = config({
        total: 60,
        seed: 1234,
        closureMix: { requester: 4, test: 1, quorum: 1 },
        backpressure: { ...Simulation.defaults.backpressure, latencyTargetMs: Number.POSITIVE_INFINITY }
      })
      for (const faults of [{ share: 0.3, kinds: Faults.kinds }, { share: 0, kinds: [] }]) {
        const cfg = { ...base, faults }
        const once = () => Effect.map(runAndInspect(cfg, () => everyTable), ({ result, inspected }) => ({
          lines: result.jobs.map((job) => Artifacts.json({ ...job, timings: undefined })),
          tables: inspected
        }))
        const first = yield* once()
        const second = yield* once()
        assert.deepStrictEqual(second.lines, first.lines)
        // Balances, journal entries and postings, holds, outbox events and their payloads, audit
        // rows, tokens, idempotency records: every row of every table, in insertion order.
        assert.deepStrictEqual(Object.keys(second.tables), Object.keys(first.tables))
        for (const table of Object.keys(first.tables)) assert.deepStrictEqual(second.tables[table], first.tables[table], table)
        for (const table of ["ledger_balances", "ledger_entries", "ledger_postings", "outbox", "audit_log"]) {
          assert.isTrue((first.tables[table]?.length ?? 0) > 0, `${table} has rows`)
        }
        assert.strictEqual(first.lines.some((l) => l.includes(`"fired":true`)), faults.share > 0)
        const closures = new Set(first.lines.map((l) => JSON.parse(l).plan.closure_type))
        assert.deepStrictEqual([...closures].sort(), ["quorum", "requester", "test"])
        const plans = yield* Simulation.plan({ ...cfg, seed: 1235 })
        assert.notDeepEqual(plans.map((p) => p.decision), first.lines.map((l) => JSON.parse(l).plan.decision))
      }
    }))
})
