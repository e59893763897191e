/**
 * The simulator's command line refuses flags a run cannot honour, each with a line naming the flag,
 * and exits 1 without a stack trace.
 */
import { CliConfig, Command, HelpDoc } from "@effect/cli"
import { assert, describe, it } from "@effect/vitest"
import { execFile, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import * as Cli from "../src/Cli.js"

const good = {
  total: 200, maxConcurrency: 10, requesters: 10, workers: 20, approve: 0.7, reject: 0.15, silent: 0.15,
  invalid: 0.1, abandon: 0.1, faultShare: 0.2, fundingFactor: 1, deadlineSeconds: 60, latencyTarget: 250, rateLimitWait: 300,
  faults: [] as ReadonlyArray<string>, target: undefined as string | undefined, sqliteFile: undefined as string | undefined,
  hasOperatorToken: true
}

describe("clawbounties-sim flags", () => {
  it("accepts the defaults and the documented examples", () => {
    assert.deepStrictEqual(Cli.simProblems(good), [])
    assert.deepStrictEqual(Cli.simProblems({ ...good, faults: ["db_before_commit", "db_after_commit"] }), [])
    assert.deepStrictEqual(Cli.simProblems({ ...good, target: "http://127.0.0.1:8787" }), [])
    assert.deepStrictEqual(Cli.simProblems({ ...good, hasOperatorToken: false }), [], "in-process runs need no token")
  })

  it("names each flag out of range", () => {
    const cases: ReadonlyArray<[Partial<typeof good>, string]> = [
      [{ total: 0 }, "--total"], [{ total: -5 }, "--total"], [{ total: Cli.MAX_TOTAL + 1 }, "--total"],
      [{ maxConcurrency: 0 }, "--max-concurrency"], [{ requesters: 0 }, "--requesters"], [{ workers: -1 }, "--workers"],
      [{ approve: -1 }, "--approve-share"], [{ approve: 0, reject: 0, silent: 0 }, "cannot all be 0"],
      [{ invalid: 1.5 }, "--invalid-share"], [{ faultShare: 2 }, "--fault-share"], [{ abandon: Number.NaN }, "--abandon-share"],
      [{ fundingFactor: -1 }, "--funding-factor"], [{ deadlineSeconds: 0 }, "--deadline-seconds"],
      [{ deadlineSeconds: 100_000_000 }, "--deadline-seconds"], [{ latencyTarget: 0 }, "--backpressure-latency-ms"],
      [{ rateLimitWait: -1 }, "--rate-limit-wait-seconds"], [{ rateLimitWait: 3601 }, "--rate-limit-wait-seconds"],
      [{ faults: ["db_before_comit"] }, "unknown fault kinds"], [{ faults: ["server_restart"] }, "server_restart"],
      [{ faults: ["db_after_commit"], target: "http://x" }, "in-process only"], [{ target: "http://x", sqliteFile: "/tmp/x.db" }, "--sqlite-file"],
      [{ target: "http://x", hasOperatorToken: false }, "operator token"]
    ]
    for (const [flags, named] of cases) {
      const problems = Cli.simProblems({ ...good, ...flags })
      assert.strictEqual(problems.length, 1, JSON.stringify(flags))
      assert.include(problems[0], named)
    }
  })

  it("--help says what every flag does, and its default when it has one", () => {
    // The help shows each option's type and whether it is optional, never its default value.
    const help = HelpDoc.toAnsiText(Command.getHelp(Cli.sim, CliConfig.defaultConfig)).replace(/\u001b\[[0-9;]*m/g, "")
    const blocks = help.split(/\n(?=--)/).filter((block) => block.startsWith("--"))
    const generic = /^(An? |One of the following|This setting is optional|This option can be set)/
    const ours = blocks.filter((block) => !/^--(completions|log-level|wizard|version)\b/.test(block))
    assert.isAtLeast(ours.length, 20)
    for (const block of ours) {
      const [heading, ...lines] = block.split("\n").map((line) => line.trim()).filter((line) => line.length > 0)
      const said = lines.filter((line) => !generic.test(line))
      assert.isNotEmpty(said, `${heading} has no description`)
      if (lines.includes("This setting is optional.") && !/^--(target|sqlite-file|operator-token|no-)/.test(heading!)) {
        assert.match(said.join(" "), /\(default [^)]+\)/, `${heading} does not name its default`)
      }
    }
  })

  it("refuses an existing --sqlite-file: a run needs an empty database", () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-"))
    try {
      const file = join(dir, "sim.db")
      assert.deepStrictEqual(Cli.simProblems({ ...good, sqliteFile: file }), [])
      writeFileSync(file, "")
      assert.include(Cli.simProblems({ ...good, sqliteFile: file })[0], "already exists")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("exits 1 with the problems on stderr and no stack trace", async () => {
    const bin = join(import.meta.dirname, "../bin/clawbounties-sim.mjs")
    const error = await promisify(execFile)(process.execPath, [bin, "--total", "0", "--workers", "0"])
      .then(() => undefined, (e: { code: number; stderr: string }) => e)
    assert.isDefined(error)
    assert.strictEqual(error!.code, 1)
    assert.include(error!.stderr, "--total must be from 1")
    assert.include(error!.stderr, "--workers must be from 1")
    assert.notInclude(error!.stderr, "    at ")
  }, 30_000)
})

describe("clawbounties-gate", () => {
  it("a gate stopped part-way (Ctrl-C, a CI timeout) exits non-zero: a wrapper must not read it as passed", async () => {
    // A target that never answers: the gate is stopped while it waits for GET /health.
    let asked: () => void = () => undefined
    const waiting = new Promise<void>((resolve) => (asked = resolve))
    const target = createServer(() => asked())
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve))
    const dir = mkdtempSync(join(tmpdir(), "cli-gate-"))
    try {
      const bin = join(import.meta.dirname, "../bin/clawbounties-gate.mjs")
      const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}`
      const child = spawn(process.execPath, [bin, "--target", url, "--out", dir], { stdio: ["ignore", "pipe", "pipe"] })
      let stderr = ""
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
      const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
      await waiting
      child.kill("SIGTERM")
      assert.strictEqual(await exited, 130)
      assert.include(stderr, "interrupted")
    } finally {
      target.closeAllConnections()
      target.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)
})
