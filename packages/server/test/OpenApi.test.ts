/**
 * The OpenAPI document is structurally valid OpenAPI 3.1 (checked by a small validator against the
 * 3.1 shape), lists exactly the routes the app serves (compared with Hono's router) and every error
 * code each route can return; `/docs` renders it with no network access. Plus the edge's own
 * answers: 404/405, idempotency header rules, and a defect that never leaks.
 */
import { Bounty, BountyMachine, ErrorCatalogue, EscrowMachine, SubmissionMachine } from "@clawbounties/domain"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { SqlError } from "@effect/sql/SqlError"
import Ajv2020 from "ajv/dist/2020.js"
import { ConfigProvider, Duration, Effect, Either, Exit, JSONSchema, Schema } from "effect"
import { readFileSync } from "node:fs"
import * as App from "../src/App.js"
import * as Config from "../src/Config.js"
import * as OpenApi from "../src/OpenApi.js"
import { errorsOf, route } from "../src/Route.js"
import { routes } from "../src/Routes.js"
import * as Schemas from "../src/Schemas.js"
import * as H from "./helpers.js"

type Json = Record<string, any>
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

/** Problems with `doc` as an OpenAPI 3.1 document (the parts of the 3.1 shape we produce and rely on). */
const validate = (doc: Json): Array<string> => {
  const problems: Array<string> = []
  const check = (ok: boolean, what: string) => { if (!ok) problems.push(what) }
  check(typeof doc.openapi === "string" && /^3\.1\.\d+$/.test(doc.openapi), "openapi must be 3.1.x")
  check(typeof doc.info?.title === "string" && typeof doc.info?.version === "string", "info.title and info.version are required strings")
  check(typeof doc.paths === "object" && doc.paths !== null, "paths must be an object")
  const schemas: Json = doc.components?.schemas ?? {}
  const operationIds = new Set<string>()
  const refs: Array<string> = []
  const collectRefs = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(collectRefs)
    else if (typeof value === "object" && value !== null) {
      for (const [k, v] of Object.entries(value)) {
        if (k === "$ref") refs.push(String(v))
        else collectRefs(v)
      }
    }
  }
  for (const [path, item] of Object.entries<Json>(doc.paths ?? {})) {
    check(path.startsWith("/"), `path ${path} must start with /`)
    const templated = Array.from(path.matchAll(/\{([^}]+)\}/g), (m) => m[1])
    for (const key of Object.keys(item)) check(METHODS.includes(key) || ["parameters", "summary", "description"].includes(key), `${path}: unknown key ${key}`)
    for (const method of METHODS.filter((m) => m in item)) {
      const op = item[method]
      const at = `${method.toUpperCase()} ${path}`
      check(typeof op.operationId === "string" && !operationIds.has(op.operationId), `${at}: operationId missing or duplicated`)
      operationIds.add(op.operationId)
      check(typeof op.responses === "object" && Object.keys(op.responses).length > 0, `${at}: responses required`)
      for (const [status, response] of Object.entries<Json>(op.responses ?? {})) {
        check(/^[1-5](\d\d|XX)$/.test(status) || status === "default", `${at}: bad status ${status}`)
        check(typeof response.description === "string", `${at} ${status}: description required`)
        for (const [media, content] of Object.entries<Json>(response.content ?? {})) check(typeof content.schema === "object", `${at} ${status} ${media}: schema`)
      }
      const params: Array<Json> = op.parameters ?? []
      for (const p of params) {
        check(typeof p.name === "string" && ["path", "query", "header", "cookie"].includes(p.in), `${at}: bad parameter ${JSON.stringify(p)}`)
        check(typeof p.schema === "object", `${at}: parameter ${p.name} needs a schema`)
        if (p.in === "path") check(p.required === true && templated.includes(p.name), `${at}: path parameter ${p.name} must be required and templated`)
      }
      for (const name of templated) check(params.some((p) => p.in === "path" && p.name === name), `${at}: {${name}} is not declared`)
      if (op.requestBody !== undefined) check(typeof op.requestBody.content?.["application/json"]?.schema === "object", `${at}: requestBody needs application/json content`)
      for (const requirement of op.security ?? []) {
        for (const scheme of Object.keys(requirement)) check(scheme in (doc.components?.securitySchemes ?? {}), `${at}: unknown security scheme ${scheme}`)
      }
      collectRefs(op)
    }
  }
  collectRefs(schemas)
  for (const ref of refs) {
    const name = ref.replace(/^#\/components\/schemas\//, "")
    check(ref.startsWith("#/components/schemas/") && name in schemas, `unresolved $ref ${ref}`)
  }
  return problems
}

describe("OpenAPI and the edge", () => {
  let server: H.TestServer
  let call: H.Call
  beforeAll(async () => {
    server = await H.startSqlite()
    call = H.client(server.url)
  })
  afterAll(async () => {
    await server?.cleanup()
  })

  it("serves a valid OpenAPI 3.1 document", async () => {
    const reply = await call("GET", OpenApi.DOCUMENT_PATH)
    assert.strictEqual(reply.status, 200)
    assert.deepStrictEqual(validate(reply.body), [])
    // The validator catches what it checks.
    assert.isNotEmpty(validate({ ...reply.body, openapi: "3.0.3" }))
    assert.isNotEmpty(validate({ ...reply.body, paths: { "/x/{id}": { get: { operationId: "x", responses: { 200: { description: "ok" } } } } } }))
    assert.isNotEmpty(validate({ ...reply.body, paths: { "/x": { get: { operationId: "x", responses: { 200: { description: "ok", content: { "application/json": { schema: { $ref: "#/components/schemas/Nope" } } } } } } } } }))
  })

  it("lists exactly the routes the router serves, with every error code each can return", async () => {
    const doc = (await call("GET", OpenApi.DOCUMENT_PATH)).body as Json
    const documented = Object.entries<Json>(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).filter((m) => METHODS.includes(m)).map((m) => `${m.toUpperCase()} ${path.replace(/\{([a-z_]+)\}/g, ":$1")}`))
    const app = App.make(server.runtime, { bodyLimitBytes: 1024 })
    const served = app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`)
    const describing = [`GET ${OpenApi.DOCUMENT_PATH}`, `GET ${OpenApi.DOCS_PATH}`]
    assert.deepStrictEqual([...documented, ...describing].sort(), [...new Set(served)].sort())
    for (const r of routes) {
      const op = doc.paths[r.path][r.method.toLowerCase()]
      const listed = Object.values<Json>(op.responses).flatMap((response) => response["x-error-codes"] ?? [])
      const expected = errorsOf(r).map((tag) => ErrorCatalogue.entries[tag].code)
      assert.deepStrictEqual([...new Set(listed)].sort(), [...new Set(expected)].sort(), r.operationId)
      for (const [status, response] of Object.entries<Json>(op.responses)) {
        for (const code of response["x-error-codes"] ?? []) {
          assert.strictEqual(String(ErrorCatalogue.table.find((row) => row.code === code)!.status), status, `${r.operationId} ${code}`)
        }
      }
    }
  })

  it("documents no money error for accept: accepting moves no money", async () => {
    const doc = (await call("GET", OpenApi.DOCUMENT_PATH)).body as Json
    const op = doc.paths["/v1/bounties/{bounty_id}/accept"].post
    const listed = Object.values<Json>(op.responses).flatMap((response) => response["x-error-codes"] ?? [])
    for (const code of ["INSUFFICIENT_FUNDS", "HOLD_NOT_FOUND", "HOLD_OVERSPENT", "UNBALANCED_ENTRY"]) {
      assert.notInclude(listed, code)
    }
  })

  it("documents the idempotency key as the edge reads it: from the body or the header, with the same rules", async () => {
    const doc = (await call("GET", OpenApi.DOCUMENT_PATH)).body as Json
    const idempotent = routes.filter((r) => r.idempotent)
    assert.includeMembers(idempotent.map((r) => r.operationId), ["postBounty", "manualCredit"])
    for (const r of idempotent) {
      const op = doc.paths[r.path][r.method.toLowerCase()]
      const declared = op.requestBody.content["application/json"].schema
      const body = declared.$ref === undefined ? declared : doc.components.schemas[String(declared.$ref).split("/").pop()!]
      assert.notInclude(body.required ?? [], "idempotency_key", `${r.operationId}: the header may carry the key instead`)
      assert.property(body.properties, "idempotency_key", r.operationId)
      const header = op.parameters.find((p: Json) => p.in === "header" && p.name === "Idempotency-Key")
      assert.strictEqual(header.schema.pattern, body.properties.idempotency_key.pattern, r.operationId)
    }
  })

  it("renders /docs from the document without any network reference", async () => {
    const reply = await call("GET", OpenApi.DOCS_PATH)
    assert.strictEqual(reply.status, 200)
    assert.match(reply.headers.get("content-type") ?? "", /text\/html/)
    const html = String(reply.body)
    assert.notMatch(html, /<script|<link|https?:\/\/|@import/i)
    for (const r of routes) assert.include(html, r.path.replace(/&/g, "&amp;"), r.operationId)
    for (const row of ErrorCatalogue.table) assert.include(html, row.code)
  })

  it("answers unknown paths with 404 and known paths with other methods with 405 and Allow", async () => {
    const missing = await call("GET", "/v1/nothing-here")
    assert.deepStrictEqual([missing.status, missing.body.error], [404, "NOT_FOUND"])
    const wrong = await call("DELETE", "/v1/bounties/bty_x")
    assert.deepStrictEqual([wrong.status, wrong.body.error], [405, "METHOD_NOT_ALLOWED"])
    assert.strictEqual(wrong.headers.get("allow"), "GET")
    const health = await call("GET", "/health")
    assert.deepStrictEqual([health.status, health.body], [200, { status: "ok" }])
    const ready = await call("GET", "/ready")
    assert.deepStrictEqual([ready.status, ready.body.status], [200, "ready"])
  })

  it("takes the idempotency key from the header when the body has none, and refuses two different keys", async () => {
    const requester = H.signer(91)
    const token = await H.registerRequester(call, requester)
    const credit = { did: requester.did, amount_minor: "700", currency: "USD", reason: "header key" }
    const first = await call("POST", "/v1/operator/credits", { token: H.OPERATOR_TOKEN, body: credit, headers: { "idempotency-key": "hdr-1" } })
    assert.strictEqual(first.status, 201, JSON.stringify(first.body))
    const replay = await call("POST", "/v1/operator/credits", { token: H.OPERATOR_TOKEN, body: { ...credit, idempotency_key: "hdr-1" } })
    assert.deepStrictEqual([replay.status, replay.body], [201, first.body])
    const both = await call("POST", "/v1/operator/credits", { token: H.OPERATOR_TOKEN, body: { ...credit, idempotency_key: "a" }, headers: { "idempotency-key": "b" } })
    assert.deepStrictEqual([both.status, both.body.error], [400, "INVALID_REQUEST"])
    const balances = await call("GET", `/v1/balances?did=${encodeURIComponent(requester.did)}`, { token })
    assert.strictEqual(balances.body.buckets.A, "700")
  })

  it("reads a page size only as plain digits and a status only as a bounty status, and adjusts only participants' balances by hand", async () => {
    for (const limit of ["0x10", "1e2", "+2", " 5", "2.0", "0", "-1"]) {
      const reply = await call("GET", `/v1/bounties?limit=${encodeURIComponent(limit)}`, { token: H.OPERATOR_TOKEN })
      assert.deepStrictEqual([reply.status, reply.body.error], [400, "INVALID_REQUEST"], limit)
    }
    assert.strictEqual((await call("GET", "/v1/bounties?limit=20", { token: H.OPERATOR_TOKEN })).status, 200)
    // A status no bounty can have is a typo, not an empty page a poller would wait on forever.
    for (const status of ["Open", "opne", "pending-review"]) {
      const reply = await call("GET", `/v1/bounties?status=${status}`, { token: H.OPERATOR_TOKEN })
      assert.deepStrictEqual([reply.status, reply.body.error, reply.body.details?.issues?.[0]?.path], [400, "INVALID_REQUEST", "status"], status)
    }
    assert.strictEqual((await call("GET", "/v1/bounties?status=pending_review", { token: H.OPERATOR_TOKEN })).status, 200)
    // A parameter given twice is ambiguous: reading the first would answer a question not asked.
    const twice = await call("GET", "/v1/bounties?status=open&status=accepted", { token: H.OPERATOR_TOKEN })
    assert.deepStrictEqual([twice.status, twice.body.error, twice.body.details?.issues?.[0]?.path], [400, "INVALID_REQUEST", "status"])
    for (const did of ["platform:fees", "clearing:stripe", "world:manual", "did:key:zzz"]) {
      const reply = await call("POST", "/v1/operator/credits", {
        token: H.OPERATOR_TOKEN,
        body: { did, amount_minor: "100", currency: "USD", reason: "system account", idempotency_key: `sys-${did}` }
      })
      assert.deepStrictEqual([reply.status, reply.body.error, reply.body.details.issues[0].path], [400, "INVALID_REQUEST", "did"], did)
    }
  })

  it("takes a request without a body where the document makes the body optional", async () => {
    const token = await H.registerRequester(call, H.signer(92))
    const doc = (await call("GET", OpenApi.DOCUMENT_PATH)).body as Json
    assert.isFalse(doc.paths["/v1/auth/tokens/rotate"].post.requestBody.required)
    const rotated = await call("POST", "/v1/auth/tokens/rotate", { token })
    assert.strictEqual(rotated.status, 201, JSON.stringify(rotated.body))
  })

  it("answers SERVICE_UNAVAILABLE while the database cannot be reached, and INTERNAL_ERROR for other SQL failures", async () => {
    const failing = (path: string, cause: unknown) => route({
      method: "GET",
      path,
      operationId: path.slice(1),
      tag: "Test",
      summary: "fails in SQL",
      auth: "public",
      status: 200,
      response: Schemas.Health,
      errors: [],
      handler: () => Effect.fail(new SqlError({ cause, message: "failed" }))
    })
    const pgError = (code: string, message: string) => Object.assign(new Error(message), { code })
    const unavailable = [
      failing("/admin-shutdown", pgError("57P01", "terminating connection due to administrator command")),
      failing("/starting-up", pgError("57P03", "the database system is starting up")),
      failing("/refused", Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" })),
      failing("/terminated", new Error("Connection terminated unexpectedly")),
      failing("/busy", pgError("SQLITE_BUSY", "database is locked")),
      failing("/nested", new Error("wrapped", { cause: pgError("08006", "connection failure") })),
      // What reaches the edge once the engine's bounded retries ran out: contention, not a bug.
      failing("/serialization", pgError("40001", "could not serialize access due to concurrent update")),
      failing("/deadlock", pgError("40P01", "deadlock detected"))
    ]
    const broken = failing("/syntax", pgError("42601", "syntax error at or near \"SELEC\""))
    const app = App.make(server.runtime, { bodyLimitBytes: 1024, routes: [...unavailable, broken] })
    for (const r of unavailable) {
      const response = await app.request(r.path)
      assert.strictEqual(response.status, 503, r.path)
      assert.strictEqual(((await response.json()) as { error: string }).error, "SERVICE_UNAVAILABLE")
    }
    const response = await app.request("/syntax")
    assert.strictEqual(response.status, 500)
    assert.notInclude(await response.text(), "SELEC")
  })

  it("answers DATABASE_TIMEOUT for a lock_timeout or statement_timeout outside a command's transaction too", async () => {
    const timingOut = (path: string, code: string) => route({
      method: "GET",
      path,
      operationId: path.slice(1),
      tag: "Test",
      summary: "times out in SQL",
      auth: "public",
      status: 200,
      response: Schemas.Health,
      errors: [],
      handler: () => Effect.fail(new SqlError({ cause: Object.assign(new Error("canceling statement"), { code }), message: "failed" }))
    })
    const app = App.make(server.runtime, { bodyLimitBytes: 1024, routes: [timingOut("/lock", "55P03"), timingOut("/statement", "57014")] })
    for (const [path, limit] of [["/lock", "lock_timeout"], ["/statement", "statement_timeout"]]) {
      const response = await app.request(path)
      const body = (await response.json()) as { error: string; details: unknown }
      assert.deepStrictEqual([response.status, body.error, body.details], [503, "DATABASE_TIMEOUT", { limit }], path)
    }
  })

  it("answers a defect with INTERNAL_ERROR and no internals", async () => {
    const boom = route({
      method: "GET",
      path: "/boom",
      operationId: "boom",
      tag: "Test",
      summary: "dies",
      auth: "public",
      status: 200,
      response: Schemas.Health,
      errors: [],
      handler: () => Effect.dieMessage("secret internal detail")
    })
    const app = App.make(server.runtime, { bodyLimitBytes: 1024, routes: [boom] })
    const response = await app.request("/boom")
    const text = await response.text()
    assert.strictEqual(response.status, 500)
    assert.deepStrictEqual(JSON.parse(text), { error: "INTERNAL_ERROR", message: "An unexpected error occurred; it has been logged.", details: {} })
    assert.notInclude(text, "secret")
  })

  it("stops start-up on a bad setting with a message naming it", async () => {
    const read = (env: Record<string, string>) =>
      Effect.runPromiseExit(Effect.withConfigProvider(Config.config, ConfigProvider.fromMap(new Map(Object.entries(env)))))
    const ok = await read({})
    assert.isTrue(Exit.isSuccess(ok))
    if (Exit.isSuccess(ok)) {
      assert.deepInclude(ok.value, { port: 8787, host: "127.0.0.1", sqliteFile: "./data/clawbounties.db", pgPreparedStatements: 256 })
      assert.deepStrictEqual([Duration.toMillis(ok.value.pgLockTimeout), Duration.toMillis(ok.value.pgStatementTimeout)], [5_000, 30_000])
    }
    const set = await read({ PG_LOCK_TIMEOUT: "0 seconds", PG_STATEMENT_TIMEOUT: "2 minutes" })
    if (Exit.isSuccess(set)) assert.deepStrictEqual([Duration.toMillis(set.value.pgLockTimeout), Duration.toMillis(set.value.pgStatementTimeout)], [0, 120_000])
    else assert.fail(Config.configErrorsOf(set.cause).join("\n"))
    for (const [name, value] of [["PORT", "eighty"], ["PORT", "70000"], ["BODY_LIMIT_BYTES", "12"], ["SWEEP_INTERVAL", "0 seconds"], ["DATABASE_URL", "mysql://x"], ["PG_PREPARED_STATEMENTS", "-1"],
      ["PG_LOCK_TIMEOUT", "5"], ["PG_LOCK_TIMEOUT", "2 days"], ["PG_STATEMENT_TIMEOUT", "500 micros"],
      // Empty (as `SQLITE_FILE=${SQLITE_FILE}` in a compose file leaves it): "" would open a temporary
      // database that vanishes at exit, and an empty DATA_DIR would put the database at /.
      ["SQLITE_FILE", ""], ["SQLITE_FILE", " "], ["DATA_DIR", ""]] as const) {
      const exit = await read({ [name]: value })
      assert.isTrue(Exit.isFailure(exit), name)
      if (Exit.isFailure(exit)) assert.match(Config.configErrorsOf(exit.cause).join("\n"), new RegExp(name), name)
    }
  })
})

/** Every subschema of `value`, at any depth, with where it is. */
const subschemas = (value: unknown, at = "#"): Array<[string, Json]> => {
  if (Array.isArray(value)) return value.flatMap((item, i) => subschemas(item, `${at}/${i}`))
  if (typeof value !== "object" || value === null) return []
  return [[at, value as Json], ...Object.entries(value).flatMap(([key, item]) => subschemas(item, `${at}/${key}`))]
}

describe("the OpenAPI document, as client generators read it", () => {
  const doc = OpenApi.document(routes) as Json

  it("loads into a JSON Schema validator as it is, with no identifier declared twice", () => {
    const ajv = new Ajv2020.default({ strict: false, validateFormats: false })
    ajv.addSchema(doc, "openapi")
    assert.isFunction(ajv.getSchema("openapi#/components/schemas/Event"))
  })

  it("says what properties each object takes, so a generated type is not an empty object", () => {
    // `{ type: "object" }` alone is generated as `Record<string, never>`: no envelope could be sent.
    const silent = subschemas(doc).filter(([, s]) => s.type === "object" && !("properties" in s) && !("additionalProperties" in s))
    assert.deepStrictEqual(silent.map(([at]) => at), [])
    assert.strictEqual(doc.components.schemas.SignedEnvelope.type, "object")
  })

  it("types each query parameter as the value the server reads from it, and the server reads what a client writes", () => {
    for (const r of routes.filter((candidate) => candidate.query !== undefined)) {
      const read = JSONSchema.fromAST(Schema.typeSchema(r.query!).ast, { definitions: {}, topLevelReferenceStrategy: "skip" }) as Json
      const params: Array<Json> = doc.paths[r.path][r.method.toLowerCase()].parameters.filter((p: Json) => p.in === "query")
      // The other required parameters (all plain strings), so that only the one sampled can fail.
      const required = Object.fromEntries(params.filter((p) => p.required).map((p) => [p.name, "x"]))
      for (const p of params) {
        const at = `${r.operationId} ${p.name}`
        assert.strictEqual(p.schema.type, read.properties[p.name].type, at)
        // Every number in a query is read from plain digits: a generator must not offer `1.5`.
        assert.notStrictEqual(p.schema.type, "number", `${at} is an integer`)
        // What a generated client writes for the documented values (a number or boolean's text) is read back as that value.
        const samples: Array<unknown> = p.schema.type === "integer" ? [p.schema.minimum, p.schema.maximum] : p.schema.type === "boolean" ? [true, false] : p.schema.enum ?? []
        if (p.schema.type === "integer") assert.isTrue(Number.isInteger(p.schema.minimum) && Number.isInteger(p.schema.maximum), `${at} states its bounds`)
        for (const sample of samples) {
          const decoded = Schema.decodeUnknownEither(r.query!)({ ...required, [p.name]: String(sample) })
          assert.isTrue(Either.isRight(decoded) && decoded.right[p.name] === sample, `${at}=${String(sample)}`)
        }
      }
    }
  })

  it("makes a request body optional exactly where the server reads a missing body, taken as {}, as a valid one", () => {
    for (const r of routes.filter((candidate) => candidate.body !== undefined)) {
      const op = doc.paths[r.path][r.method.toLowerCase()]
      const emptyIsValid = Either.isRight(Schema.decodeUnknownEither(r.body!)({}))
      assert.strictEqual(op.requestBody.required, !emptyIsValid, r.operationId)
    }
  })

  it("lists the values each record's status can take, so a generated client can switch on them", () => {
    const enumOf = (record: string, field: string) => doc.components.schemas[record].properties[field].enum
    assert.deepStrictEqual(enumOf("Bounty", "status"), [...BountyMachine.states])
    assert.deepStrictEqual(enumOf("Bounty", "closure_type"), [...Bounty.ClosureType.literals])
    assert.deepStrictEqual(enumOf("Escrow", "status"), [...EscrowMachine.states])
    assert.deepStrictEqual(enumOf("Submission", "status"), [...SubmissionMachine.Status.literals])
  })

  it("types every count and basis-point figure a response carries as an integer", () => {
    // The only fractional numbers the server sends: a difficulty (0.1 to 10) and a configured interval.
    const fractional = ["#/components/schemas/Bounty/properties/difficulty_scalar", "#/components/schemas/SweepStatus/properties/interval_ms"]
    const responses = Object.values<Json>(doc.paths).flatMap((item) => Object.values<Json>(item).map((op) => op.responses))
    const numbers = [...subschemas(doc.components.schemas, "#/components/schemas"), ...subschemas(responses, "#/responses")]
      .filter(([at, s]) => s.type === "number" && !fractional.includes(at))
    assert.deepStrictEqual(numbers.map(([at]) => at), [])
  })

  it("describes every tag, which generators turn into the documentation of each client class", () => {
    const undescribed = (doc.tags as Array<Json>).filter((tag) => typeof tag.description !== "string" || tag.description.length === 0)
    assert.deepStrictEqual(undescribed.map((tag) => tag.name), [])
  })

  it("states the license the server package is published under", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { license: string }
    assert.deepStrictEqual(doc.info.license, { name: pkg.license, identifier: pkg.license })
  })
})
