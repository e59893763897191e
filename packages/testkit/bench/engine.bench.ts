/**
 * `npm run bench:engine`: the job loop with the engine embedded, its commands called directly in
 * this process as a platform embedding it calls them (post -> accept -> submit a signed proof
 * bundle -> approve), `BENCH_CALLERS` jobs at a time for `BENCH_SECONDS`, with the production
 * parts (time-ordered ids, OS entropy, settings from the environment).
 *
 * The baseline runs first: SQLite in memory, the engine's own CPU with no disk. Then a SQLite file
 * (WAL, `synchronous=FULL`: what `npm start` runs), and PostgreSQL when it is reachable. The file
 * against memory is what durability costs; this against `npm run bench:http` is what serving over
 * HTTP costs.
 *
 * Env: BENCH_SECONDS (10), BENCH_CALLERS (8), BENCH_SQLITE and BENCH_PG (`0` skips that store).
 */
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { Ledger } from "@clawbounties/ledger"
import { Engine } from "@clawbounties/marketplace"
import type { SqlClient } from "@effect/sql"
import { Effect, type Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Actors from "../src/Actors.js"
import * as Keys from "../src/Keys.js"
import * as Stats from "../src/Stats.js"

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const CALLERS = Number(process.env.BENCH_CALLERS ?? 8)
const steps = ["post", "accept", "submit", "approve", "job"] as const
type Step = typeof steps[number]

/** The job loop on the engine this effect is provided with; prints its figures. */
const jobLoop = (store: string) =>
  Effect.gen(function* () {
    // Each caller is a requester and a worker of its own: a worker holds one job at a time, and on
    // PostgreSQL one requester for every caller would measure the lock on its balance rows instead.
    const callers = yield* Effect.forEach(Array.from({ length: CALLERS }, (_, i) => i), (i) =>
      Effect.all({
        requester: Actors.requester(Keys.key(100 + i), { fund: 100_000_000_000n }),
        worker: Actors.worker(Keys.key(200 + i))
      }))
    const samples: Record<Step, Array<number>> = { post: [], accept: [], submit: [], approve: [], job: [] }
    const timed = <A, E, R>(step: Step, effect: Effect.Effect<A, E, R>) =>
      Effect.gen(function* () {
        const start = performance.now()
        const result = yield* effect
        samples[step].push(performance.now() - start)
        return result
      })

    const started = performance.now()
    const until = started + SECONDS * 1000
    yield* Effect.forEach(callers, ({ requester, worker }) =>
      Effect.gen(function* () {
        while (performance.now() < until) {
          yield* timed("job", Effect.gen(function* () {
            const posted = yield* timed("post", requester.post())
            yield* timed("accept", worker.accept(posted.bounty_id))
            const submitted = yield* timed("submit", worker.submit(posted.bounty_id))
            yield* timed("approve", requester.approve(posted.bounty_id, submitted.submission_id))
          }))
        }
      }), { concurrency: "unbounded", discard: true })
    const seconds = (performance.now() - started) / 1000

    const jobs = samples.job.length
    console.log(`\n${store}: ${(jobs / seconds).toFixed(1)} jobs/s (${jobs} jobs, ${CALLERS} callers, ${seconds.toFixed(1)} s)`)
    for (const step of steps) {
      const { p50, p95, p99 } = Stats.latency(samples[step])
      console.log(`  ${step.padEnd(8)} p50 ${p50.toFixed(2).padStart(7)} ms  p95 ${p95.toFixed(2).padStart(7)} ms  p99 ${p99.toFixed(2).padStart(7)} ms`)
    }
    const report = yield* (yield* Ledger.Ledger).reconcile
    console.log(`  ledger reconciles: ${report.ok} (${report.entries} entries)`)
    if (!report.ok) return yield* Effect.dieMessage(`${store}: reconcile found ${report.discrepancies.length} discrepancies`)
  })

const on = <E>(store: string, sql: Layer.Layer<SqlClient.SqlClient, E>) =>
  jobLoop(store).pipe(Effect.provide(Engine.layer(sql, Engine.liveParts)), Effect.orDie)

const main = Effect.gen(function* () {
  console.log(`the job loop, engine embedded: post -> accept -> submit -> approve, ${CALLERS} callers, ${SECONDS} s per store`)
  if (process.env.BENCH_SQLITE !== "0") {
    yield* on("baseline: SQLite in memory (no disk)", Sqlite.layerMemory(Engine.migrations))
    const dir = mkdtempSync(join(tmpdir(), "cbt-bench-engine-"))
    yield* on("SQLite file (WAL, synchronous=FULL)", Sqlite.layer({ filename: join(dir, "engine.db"), migrations: Engine.migrations })).pipe(
      Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
    )
  }

  if (process.env.BENCH_PG !== "0") {
    const probe = yield* Effect.promise(() => PgTestDatabase.probe())
    if (!probe.available) console.log(`\nPostgreSQL ${probe.reason}`)
    else yield* on("PostgreSQL", PgTestDatabase.layer({ prefix: "bench_engine", migrations: Engine.migrations, maxConnections: 10 }))
  }
})

Effect.runPromise(main).catch((error) => {
  console.error(error)
  process.exit(1)
})
