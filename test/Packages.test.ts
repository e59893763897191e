/**
 * The packages as an embedder gets them: `npm pack` each workspace, unpack the tarballs into a
 * fresh project's node_modules (third-party dependencies linked from this checkout's, so no
 * download), and use them there with plain `node` and a plain `tsc`, with none of the source
 * condition the repository itself resolves through.
 */
import { assert, describe, it } from "@effect/vitest"
import { execFile, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll } from "vitest"

const root = join(import.meta.dirname, "..")
const run = promisify(execFile)

interface Packed {
  readonly name: string
  readonly filename: string
  readonly files: ReadonlyArray<{ readonly path: string }>
}

const names = [
  "domain", "fees", "verify", "ledger", "marketplace", "adapter-sqlite", "adapter-postgres", "server", "testkit"
].map((name) => `@clawbounties/${name}`)

let dir: string
let app: string
let packed: ReadonlyArray<Packed>

/** Runs `file` in the app with plain node: no tsx, no conditions. */
const node = (...args: ReadonlyArray<string>) => run(process.execPath, [...args], { cwd: app, env: { ...process.env, NODE_OPTIONS: "" } })

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "clawbounties-packages-"))
  app = join(dir, "app")
  // The compiled output is what `tsc -b` (the type check) emits; up to date, it takes a second or two.
  await run(join(root, "node_modules/.bin/tsc"), ["-b"], { cwd: root })
  const { stdout } = await run("npm", ["pack", "--workspaces", "--json", "--pack-destination", dir], { cwd: root, maxBuffer: 64 * 1024 * 1024 })
  packed = JSON.parse(stdout)

  const modules = join(app, "node_modules")
  mkdirSync(join(modules, "@clawbounties"), { recursive: true })
  for (const tarball of packed) {
    const target = join(modules, tarball.name)
    mkdirSync(target)
    await run("tar", ["-xzf", join(dir, tarball.filename), "-C", target, "--strip-components=1"])
  }
  // Not tsx: an installed package must run without it (the bins load it only in a checkout).
  for (const entry of readdirSync(join(root, "node_modules"))) {
    if (entry === "@clawbounties" || entry === "tsx" || entry.startsWith(".")) continue
    symlinkSync(join(root, "node_modules", entry), join(modules, entry))
  }
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
}, 240_000)

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

describe("published packages", () => {
  it("each tarball holds the compiled JavaScript, its declarations and sources, and nothing of the tests", () => {
    assert.deepStrictEqual(packed.map((p) => p.name).sort(), [...names].sort())
    for (const p of packed) {
      const paths = new Set(p.files.map((file) => file.path))
      for (const needed of ["package.json", "dist/src/index.js", "dist/src/index.d.ts", "dist/src/index.js.map", "src/index.ts"]) {
        assert.isTrue(paths.has(needed), `${p.name} lacks ${needed}`)
      }
      const stray = [...paths].filter((path) => /^(test|bench|scripts|dist\/test)\/|tsbuildinfo$|tsconfig/.test(path))
      assert.deepStrictEqual(stray, [], `${p.name} ships ${stray.join(", ")}`)
      const manifest = JSON.parse(readFileSync(join(app, "node_modules", p.name, "package.json"), "utf8"))
      assert.strictEqual(manifest.type, "module", p.name)
      assert.strictEqual(manifest.engines?.node, ">=20.19", `${p.name} names the Node it needs`)
    }
  })

  it("run under plain node: a transfer on SQLite, reconciled", async () => {
    writeFileSync(join(app, "ledger.mjs"), `
      import { Sqlite } from "@clawbounties/adapter-sqlite"
      import { Ids } from "@clawbounties/domain"
      import { Ledger } from "@clawbounties/ledger"
      import { Engine } from "@clawbounties/marketplace"
      import * as Server from "@clawbounties/server"
      import { TestEngine } from "@clawbounties/testkit"
      import { Effect, Layer } from "effect"
      const alice = "did:key:z6MkneMkZqwqRiU5mJzSG3kDwzt9P8C59N4NGTfBLfSGE7c7"
      const bob = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
      const program = Effect.gen(function* () {
        const ledger = yield* Ledger.Ledger
        for (const account of ["world:stripe", alice, bob]) yield* ledger.openAccount({ account, currency: "USD" })
        yield* ledger.mint({ idempotencyKey: "m1", world: "world:stripe", account: alice, currency: "USD", amount: 500n })
        yield* ledger.transfer({ idempotencyKey: "t1", from: { account: alice, bucket: "A" }, to: { account: bob, bucket: "A" }, currency: "USD", amount: 200n })
        const report = yield* ledger.reconcile
        return { bob: String((yield* ledger.balances(bob)).USD.A), reconciled: report.ok }
      })
      const result = await Effect.runPromise(program.pipe(
        Effect.provide(Ledger.layer.pipe(Layer.provideMerge(Sqlite.layer({ filename: ":memory:" })), Layer.provide(Ids.IdGen.layer)))
      ))
      console.log(JSON.stringify({ ...result, migrations: Engine.migrations.length, server: typeof Server, testkit: typeof TestEngine.layer }))
    `)
    const { stdout } = await node("ledger.mjs")
    assert.deepStrictEqual(JSON.parse(stdout), { bob: "200", reconciled: true, migrations: 2, server: "object", testkit: "function" })
  }, 60_000)

  it("exports only their public modules", async () => {
    writeFileSync(join(app, "internal.mjs"), `
      const outcomes = []
      for (const path of ["@clawbounties/ledger/internal/engine", "@clawbounties/ledger/Ledger"]) {
        outcomes.push(await import(path).then(() => "ok", (error) => error.code))
      }
      console.log(JSON.stringify(outcomes))
    `)
    const { stdout } = await node("internal.mjs")
    assert.deepStrictEqual(JSON.parse(stdout), ["ERR_PACKAGE_PATH_NOT_EXPORTED", "ok"])
  }, 60_000)

  it("the installed simulator runs its compiled code", async () => {
    const out = join(dir, "simulations")
    const bin = join(app, "node_modules/@clawbounties/testkit/bin/clawbounties-sim.mjs")
    await node(bin, "--total", "5", "--seed", "7", "--out", out)
    const [run] = readdirSync(out)
    const summary = JSON.parse(readFileSync(join(out, run!, "summary.json"), "utf8"))
    assert.strictEqual(summary.totals.succeeded, 5)
  }, 120_000)

  it("the installed server starts, serves and stops on SIGTERM", async () => {
    const bin = join(app, "node_modules/@clawbounties/server/bin/clawbounties-server.mjs")
    const data = join(dir, "server-data")
    const child = spawn(process.execPath, [bin], {
      cwd: app,
      env: { ...process.env, NODE_OPTIONS: "", DATA_DIR: data, SQLITE_FILE: join(data, "server.db"), PORT: "0", HOST: "127.0.0.1" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)))
    try {
      const started = Date.now()
      while (!/listening on http/.test(output) && child.exitCode === null && Date.now() - started < 30_000) {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1]
      assert.isDefined(url, output)
      const health = await fetch(`${url}/health`)
      assert.strictEqual(health.status, 200)
      child.kill("SIGTERM")
      assert.strictEqual(await exited, 0, output)
    } finally {
      child.kill("SIGKILL")
    }
  }, 60_000)

  it("each ships a README whose example compiles against the published declarations", async () => {
    const readmes = join(app, "readmes")
    mkdirSync(readmes)
    writeFileSync(join(readmes, "tsconfig.json"), JSON.stringify({
      compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", strict: true, noEmit: true, skipLibCheck: true, types: ["node"] }
    }))
    const examples: Array<string> = []
    for (const name of names) {
      const readme = readFileSync(join(app, "node_modules", name, "README.md"), "utf8")
      const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
      if (example === undefined) continue
      const file = `${name.replace("@clawbounties/", "")}.ts`
      writeFileSync(join(readmes, file), example)
      examples.push(file)
    }
    assert.isAtLeast(examples.length, 8, examples.join(", "))
    const result = await run(join(root, "node_modules/.bin/tsc"), ["-p", "."], { cwd: readmes }).then(() => "", (error: { stdout: string }) => error.stdout)
    assert.strictEqual(result, "")
  }, 120_000)

  it("type-check a TypeScript consumer against their declarations", async () => {
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify({
      compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", strict: true, noEmit: true, skipLibCheck: true, types: ["node"] }
    }))
    const transfer = (amount: string) => `
      import { Ledger } from "@clawbounties/ledger"
      import { Bounties } from "@clawbounties/marketplace"
      export const input: Ledger.TransferInput = { idempotencyKey: "t1", from: { account: "a", bucket: "A" }, to: { account: "b", bucket: "A" }, currency: "USD", amount: ${amount} }
      export const post: typeof Bounties.post = Bounties.post
    `
    const tsc = join(root, "node_modules/.bin/tsc")
    writeFileSync(join(app, "consumer.ts"), transfer("200n"))
    await run(tsc, ["-p", "."], { cwd: app })
    // The declarations carry real types: a string where a bigint belongs does not compile.
    writeFileSync(join(app, "consumer.ts"), transfer(`"200"`))
    const failure = await run(tsc, ["-p", "."], { cwd: app }).then(() => undefined, (error: { stdout: string }) => error.stdout)
    assert.include(failure, "TS2322")
  }, 120_000)
})
