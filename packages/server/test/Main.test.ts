/**
 * `npm start` as a process: it prints the URL, the docs URL and where the operator token is (never
 * the token), keeps the token file at mode 0600, serves, and exits 0 on SIGTERM; a bad setting
 * stops it with a message naming the setting.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

const root = resolve(import.meta.dirname, "../../..")

const launch = (env: Record<string, string>) => {
  const child = spawn(process.execPath, ["--import", "tsx", "packages/server/src/main.ts"], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  let err = ""
  child.stdout.on("data", (chunk) => (out += chunk))
  child.stderr.on("data", (chunk) => (err += chunk))
  const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)))
  return { child, exited, output: () => out, errors: () => err }
}

describe("npm start", () => {
  it("serves, hides the token, and shuts down on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cbt-main-"))
    const env: Record<string, string> = { DATA_DIR: dir, PORT: "0", HOST: "127.0.0.1" }
    delete process.env.OPERATOR_TOKEN
    const run = launch(env)
    try {
      const deadline = Date.now() + 30_000
      while (!/operator token/.test(run.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
      const url = /listening on (http:\/\/\S+)/.exec(run.output())?.[1]
      assert.isDefined(url, run.output() + run.errors())
      assert.include(run.output(), `${url}/docs`)
      const tokenFile = join(dir, "operator-token")
      assert.include(run.output(), tokenFile)
      const token = readFileSync(tokenFile, "utf8").trim()
      assert.notInclude(run.output() + run.errors(), token)
      assert.strictEqual(statSync(tokenFile).mode & 0o777, 0o600)
      const status = await fetch(`${url}/v1/operator/sweep`, { headers: { authorization: `Bearer ${token}` } })
      assert.strictEqual(status.status, 200)
      assert.isTrue(((await status.json()) as { running: boolean }).running)
      run.child.kill("SIGTERM")
      assert.strictEqual(await run.exited, 0, run.errors())
    } finally {
      run.child.kill("SIGKILL")
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("stops on a bad setting, naming it", async () => {
    const run = launch({ PORT: "eighty", DATA_DIR: join(tmpdir(), "cbt-main-unused") })
    assert.strictEqual(await run.exited, 1)
    assert.match(run.errors(), /PORT/)
  })
})
