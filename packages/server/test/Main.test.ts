/**
 * `npm start` as a process: it prints the URL, the docs URL and where the operator token is (never
 * the token), keeps the token file at mode 0600, serves, and exits 0 on SIGTERM; a bad setting
 * stops it with a message naming the setting.
 */
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import pg from "pg"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

const root = resolve(import.meta.dirname, "../../..")

const postgres = await PgTestDatabase.probe()

const launch = (env: Record<string, string>) => {
  const child = spawn(process.execPath, ["--conditions=@clawbounties/source", "--import", "tsx", "packages/server/src/main.ts"], {
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

  it("stops on a bad engine setting or an unusable data directory with one line naming it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cbt-main-"))
    writeFileSync(join(dir, "a-file"), "")
    writeFileSync(join(dir, "not-a-db"), "this is not a database, but it is long enough to look like one".repeat(100))
    const unused = join(dir, "unused")
    const kept = join(dir, "kept")
    mkdirSync(kept)
    writeFileSync(join(kept, "operator-token"), "correct horse battery staple, forty chars\n", { mode: 0o600 })
    const token = { OPERATOR_TOKEN: "cbt_operator_main-test-token-0123456789abcdef" }
    const cases: ReadonlyArray<readonly [Record<string, string>, RegExp]> = [
      [{ ...token, DATA_DIR: unused, BOUNTY_OPEN_TTL: "-1 hours" }, /^clawbounties: bad setting BOUNTY_OPEN_TTL: must be longer than 0$/m],
      [{ ...token, DATA_DIR: unused, BOUNTY_WORK_DEADLINE: "0 seconds" }, /bad setting BOUNTY_WORK_DEADLINE/],
      [{ ...token, DATA_DIR: unused, BOUNTY_MIN_DEADLINE: "2 days", BOUNTY_MAX_DEADLINE: "1 day" }, /bad setting BOUNTY_MIN_DEADLINE must not be longer than BOUNTY_MAX_DEADLINE/],
      [{ DATA_DIR: unused, OPERATOR_TOKEN: "short" }, /^clawbounties: bad setting OPERATOR_TOKEN must be at least 32 characters$/m],
      // No Authorization header can carry a token with a space: the operator could never sign in.
      [{ DATA_DIR: unused, OPERATOR_TOKEN: "correct horse battery staple, forty chars" }, /^clawbounties: bad setting OPERATOR_TOKEN must be visible ASCII only/m],
      [{ DATA_DIR: kept }, /operator-token: the operator token must be visible ASCII only/],
      [{ ...token, DATA_DIR: unused, GATEWAY_SIGNER_DIDS: "notadid" }, /bad setting GATEWAY_SIGNER_DIDS: must be did:key DIDs/],
      [{ DATA_DIR: join(dir, "a-file", "sub") }, /bad setting DATA_DIR: cannot keep the operator token .*ENOTDIR/],
      [{ ...token, DATA_DIR: dir, SQLITE_FILE: join(dir, "not-a-db") }, /not-a-db is not a usable SQLite database/],
      // A database that cannot be reached or refuses the user: the reason, never the password.
      [{ ...token, DATA_DIR: unused, DATABASE_URL: "postgres://someone:sekrit-password@127.0.0.1:1/nowhere" }, /^clawbounties: could not start: Failed to connect to PostgreSQL: connect ECONNREFUSED 127\.0\.0\.1:1$/m],
      [{ ...token, DATA_DIR: unused, DATABASE_URL: "postgres://no_such_role_cbt:sekrit-password@127.0.0.1:5432/postgres" }, /^clawbounties: could not start: Failed to connect to PostgreSQL: /m]
    ]
    try {
      const runs = cases.map(([env]) => launch({ PORT: "0", ...env }))
      const codes = await Promise.all(runs.map((run) => run.exited))
      cases.forEach(([, expected], i) => {
        assert.strictEqual(codes[i], 1, runs[i]!.errors())
        assert.match(runs[i]!.errors(), expected)
        assert.notMatch(runs[i]!.errors(), /\n\s+at /, "no stack trace")
        assert.notInclude(runs[i]!.output() + runs[i]!.errors(), "sekrit")
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it.scopedLive.skipIf(!postgres.available)(`stops on a database that refuses the migrations with the database's reason in one line ${postgres.reason}`, () =>
    Effect.gen(function* () {
      // As a read replica does: the URL reaches a database that refuses every write.
      const db = yield* PgTestDatabase.database("main_readonly")
      const url = new URL(db.url)
      url.password = "sekrit-password"
      const client = new pg.Client({ connectionString: PgTestDatabase.adminUrl() })
      yield* Effect.promise(async () => {
        await client.connect()
        await client.query(`ALTER DATABASE ${db.name} SET default_transaction_read_only = on`).finally(() => client.end())
      })
      const run = launch({ PORT: "0", DATA_DIR: join(tmpdir(), "cbt-main-unused"), OPERATOR_TOKEN: "cbt_operator_main-test-token-0123456789abcdef", DATABASE_URL: url.toString() })
      assert.strictEqual(yield* Effect.promise(() => run.exited), 1, run.errors())
      assert.match(run.errors(), /^clawbounties: could not start: .*read-only transaction\n$/)
      assert.notInclude(run.output() + run.errors(), "sekrit")
    }), 60_000)
})
