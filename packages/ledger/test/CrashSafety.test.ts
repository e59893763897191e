/**
 * Crash safety on SQLite: a child process writing transfers in a loop is killed with SIGKILL at a
 * random point. After reopening the file, `PRAGMA integrity_check` is ok, reconcile finds nothing,
 * everything acknowledged survived, and resuming with the same keys applies each transfer once.
 * The same holds with four concurrent callers, whose transactions share COMMITs.
 */
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { Ids } from "@clawbounties/domain"
import { Ledger } from "@clawbounties/ledger"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { balanceOfAAfter, crashTransfer } from "./fixtures/crash-plan.js"

const root = resolve(import.meta.dirname, "../../..")
const writer = resolve(import.meta.dirname, "fixtures/crash-writer.ts")

/** Runs the writer until it has acknowledged `killAfter` commits, then SIGKILLs it; the indexes acknowledged. */
const writeThenKill = (filename: string, killAfter: number, callers: number) =>
  Effect.async<Set<number>, Error>((resume) => {
    const args = ["--conditions=@clawbounties/source", "--import", "tsx", writer, filename, "1000000", String(callers)]
    const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
    const acknowledged = new Set<number>()
    let buffer = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString()
      const lines = buffer.split("\n")
      buffer = lines.pop()!
      for (const line of lines) {
        const match = /^ok (\d+)$/.exec(line)
        if (match !== null) acknowledged.add(Number(match[1]))
      }
      if (acknowledged.size >= killAfter && child.exitCode === null && !child.killed) child.kill("SIGKILL")
    })
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("exit", (_code, signal) => {
      if (signal === "SIGKILL") resume(Effect.succeed(acknowledged))
      else resume(Effect.fail(new Error(`writer exited without being killed: ${stderr}`)))
    })
  })

const crashAndResume = (callers: number) =>
  Effect.gen(function* () {
    const dir = mkdtempSync(join(tmpdir(), "ledger-crash-"))
    yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
    const filename = join(dir, "ledger.db")
    const killAfter = 20 + Math.floor(Math.random() * 300)
    const acknowledged = yield* writeThenKill(filename, killAfter, callers)
    console.log(`crash test, ${callers} caller(s): killed after ${acknowledged.size} acknowledged transfers (target ${killAfter})`)

    const layer = Ledger.layer.pipe(Layer.provideMerge(Sqlite.layer({ filename })), Layer.provide(Ids.IdGen.layer))
    yield* Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const ledger = yield* Ledger.Ledger
      assert.deepStrictEqual(yield* sql.unsafe("PRAGMA integrity_check"), [{ integrity_check: "ok" }])
      assert.deepStrictEqual((yield* ledger.reconcile).discrepancies, [])
      const keys = yield* sql<{ key: string }>`SELECT idempotency_key AS key FROM ledger_entries WHERE idempotency_key LIKE 't-%'`
      const present = new Set(keys.map((row) => Number(row.key.slice(2))))
      // Every acknowledged commit survived; at most the one in flight per caller committed unacknowledged.
      const lost = [...acknowledged].filter((i) => !present.has(i))
      assert.deepStrictEqual(lost, [], "acknowledged transfers lost")
      assert.isAtMost(present.size, acknowledged.size + callers, `${present.size} entries after ${acknowledged.size} acks`)

      // Resume the same plan with the same keys, past where it stopped.
      const total = Math.max(...present, ...acknowledged) + 1 + 50
      for (let start = 0; start < total; start += 100) {
        const ops = Array.from({ length: Math.min(100, total - start) }, (_, k) => ({ op: "transfer" as const, ...crashTransfer(start + k) }))
        const items = yield* ledger.batch(ops)
        assert.isTrue(items.every((item) => item._tag === "Right"))
      }
      const perKey = yield* sql<{ n: number }>`
        SELECT COUNT(*) AS n FROM ledger_entries WHERE idempotency_key LIKE 't-%' GROUP BY idempotency_key HAVING COUNT(*) > 1`
      assert.strictEqual(perKey.length, 0, "no transfer applied twice")
      const entries = Number((yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM ledger_entries WHERE idempotency_key LIKE 't-%'`)[0]!.n)
      assert.strictEqual(entries, total)
      assert.strictEqual((yield* ledger.balances("did:key:zcrashA")).USD!.A, balanceOfAAfter(total))
      assert.strictEqual((yield* ledger.balances("did:key:zcrashB")).USD!.A, 2_000_000n - balanceOfAAfter(total))
      assert.isTrue((yield* ledger.reconcile).ok)
    }).pipe(Effect.provide(layer))
  }).pipe(Effect.scoped)

describe("crash safety on SQLite", () => {
  it.live("SIGKILL mid-loop: integrity ok, reconcile clean, resume applies each transfer exactly once", () =>
    crashAndResume(1), { timeout: 60_000 })

  it.live("the same with four concurrent callers sharing COMMITs", () => crashAndResume(4), { timeout: 60_000 })
})
