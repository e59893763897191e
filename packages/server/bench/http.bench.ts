/**
 * `npm run bench:http`: the whole job loop over loopback HTTP against the real server on a SQLite
 * file (post -> accept -> submit a signed proof bundle -> approve), `CLIENTS` concurrent clients for
 * `SECONDS`, printing jobs/s and per-step latency percentiles, beside a baseline measured in the same
 * run: a bare Hono route returning a constant on @hono/node-server.
 *
 * The server runs as its own process (`npm start`'s entry point), as in production, so the load
 * generator does not take its event loop; `BENCH_SERVER=in-process` runs both in one process.
 *
 * Env: BENCH_SECONDS (10), BENCH_CLIENTS (8), BENCH_SERVER (`process` | `in-process`),
 * BENCH_SQLITE_SYNCHRONOUS (in-process only; unset: the adapter's FULL; NORMAL shows what the
 * per-commit fsync costs), BENCH_SERVER_NODE_ARGS (extra node flags for the server process, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
import { serve } from "@hono/node-server"
import { spawn } from "node:child_process"
import { createServer } from "node:net"
import { Hono } from "hono"
import { mkdtempSync, rmSync } from "node:fs"
import type { Server as HttpServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import * as H from "../test/helpers.js"

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8)

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
const fmt = (ms: number) => `${ms.toFixed(1).padStart(7)} ms`
const row = (name: string, samples: Array<number>) => {
  const sorted = [...samples].sort((a, b) => a - b)
  return `  ${name.padEnd(10)} n=${String(sorted.length).padStart(6)}  p50 ${fmt(percentile(sorted, 50))}  p95 ${fmt(percentile(sorted, 95))}  p99 ${fmt(percentile(sorted, 99))}`
}

const baseline = async () => {
  const app = new Hono()
  app.get("/constant", (c) => c.json({ ok: true }))
  const server = await new Promise<HttpServer>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s as HttpServer)) as HttpServer
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/constant`
  const latencies: Array<number> = []
  const until = performance.now() + Math.min(SECONDS, 5) * 1000
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (performance.now() < until) {
      const t0 = performance.now()
      const response = await fetch(url)
      await response.arrayBuffer()
      latencies.push(performance.now() - t0)
    }
  }))
  await new Promise((resolve) => server.close(resolve))
  return { latencies, seconds: Math.min(SECONDS, 5) }
}

interface BenchServer {
  readonly url: string
  readonly mode: string
  readonly close: () => Promise<void>
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })

/** `npm start`'s entry point in a child process, on a SQLite file in `dir`. */
const startProcess = async (dir: string): Promise<BenchServer> => {
  const port = await freePort()
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter((arg) => arg !== "")
  const child = spawn(process.execPath, [...nodeArgs, "--conditions=@clawbounties/source", "--import", "tsx", "packages/server/src/main.ts"], {
    // Rate limits off: eight clients sending as fast as they can are the load, not abuse (README).
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      DATA_DIR: dir,
      OPERATOR_TOKEN: H.OPERATOR_TOKEN,
      SWEEP_INTERVAL: "1 hour",
      RATE_LIMIT_EXPENSIVE_PER_MINUTE: "0",
      RATE_LIMIT_ANONYMOUS_PER_MINUTE: "0",
      RATE_LIMIT_WRITE_PER_MINUTE: "0"
    },
    stdio: ["ignore", "pipe", "inherit"]
  })
  await new Promise<void>((resolve, reject) => {
    let output = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("listening on")) resolve()
    })
    child.once("exit", (code) => reject(new Error(`server exited with ${code} before listening`)))
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  return {
    url: `http://127.0.0.1:${port}`,
    mode: "server in its own process",
    close: async () => {
      child.kill("SIGTERM")
      await exited
    }
  }
}

const startInProcess = async (dir: string): Promise<BenchServer> => {
  const server = await H.start({ _tag: "sqlite", filename: join(dir, "bench.db") })
  const synchronous = process.env.BENCH_SQLITE_SYNCHRONOUS
  if (synchronous !== undefined && /^(FULL|NORMAL|OFF)$/.test(synchronous)) {
    // The SQLite client has one connection, so this applies to every command that follows.
    await server.runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`PRAGMA synchronous = ${synchronous}`)))
  }
  return { url: server.url, mode: `server in the load generator's process, synchronous=${synchronous ?? "FULL"}`, close: server.close }
}

const main = async () => {
  const base = await baseline()
  console.log(`baseline: bare Hono constant route, ${CLIENTS} clients, ${base.seconds}s`)
  console.log(`  ${(base.latencies.length / base.seconds).toFixed(0)} requests/s`)
  console.log(row("GET", base.latencies))

  const dir = mkdtempSync(join(tmpdir(), "cbt-bench-"))
  const server = process.env.BENCH_SERVER === "in-process" ? await startInProcess(dir) : await startProcess(dir)
  const call = H.client(server.url)
  try {
    // One requester (funded for every job), one worker per client (a worker holds one job at a time here).
    const requester = H.signer(201)
    const requesterToken = await H.registerRequester(call, requester)
    await H.fund(call, requester.did, "100000000000", "bench-funding")
    const workers = await Promise.all(Array.from({ length: CLIENTS }, async (_, i) => {
      const signer = H.signer(210 + i)
      const { token } = await H.registerWorker(call, signer, i)
      return { signer, token }
    }))

    const steps: Record<"post" | "accept" | "submit" | "approve" | "job", Array<number>> = { post: [], accept: [], submit: [], approve: [], job: [] }
    let jobs = 0
    let failures = 0
    const expect = (reply: H.Reply, status: number, step: string) => {
      if (reply.status !== status) throw new Error(`${step}: ${reply.status} ${JSON.stringify(reply.body)}`)
      return reply.body
    }
    const timed = async <A>(step: keyof typeof steps, f: () => Promise<A>) => {
      const t0 = performance.now()
      const out = await f()
      steps[step].push(performance.now() - t0)
      return out
    }
    let sequence = 0
    const started = performance.now()
    const until = started + SECONDS * 1000
    await Promise.all(workers.map(async (worker) => {
      while (performance.now() < until) {
        const t0 = performance.now()
        try {
          const posted = await timed("post", async () =>
            expect(await call("POST", "/v1/bounties", { token: requesterToken, body: { ...H.researchBounty("5000"), idempotency_key: `bench-${++sequence}` } }), 201, "post"))
          await timed("accept", async () =>
            expect(await call("POST", `/v1/bounties/${posted.bounty_id}/accept`, { token: worker.token, body: {} }), 200, "accept"))
          const bundle = H.proofBundle(worker.signer)
          const submitted = await timed("submit", async () =>
            expect(await call("POST", `/v1/bounties/${posted.bounty_id}/submit`, { token: worker.token, body: { proof_bundle_envelope: bundle } }), 201, "submit"))
          await timed("approve", async () =>
            expect(await call("POST", `/v1/bounties/${posted.bounty_id}/approve`, { token: requesterToken, body: { submission_id: submitted.submission_id } }), 200, "approve"))
          steps.job.push(performance.now() - t0)
          jobs++
        } catch (error) {
          failures++
          if (failures <= 3) console.error(String(error))
        }
      }
    }))
    const elapsed = (performance.now() - started) / 1000

    console.log(`\njob loop: post -> accept -> submit -> approve over HTTP on a SQLite file (${server.mode}), ${CLIENTS} clients, ${elapsed.toFixed(1)}s`)
    console.log(`  ${(jobs / elapsed).toFixed(1)} jobs/s (${jobs} jobs, ${failures} failures)  target >= 150 jobs/s, p95 job < 100 ms`)
    for (const step of ["post", "accept", "submit", "approve", "job"] as const) console.log(row(step, steps[step]))

    const reconciled = await call("GET", "/v1/operator/reconcile", { token: H.OPERATOR_TOKEN })
    console.log(`  ledger reconciles: ${reconciled.body.ok} (${reconciled.body.entries} entries)`)
  } finally {
    await server.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
