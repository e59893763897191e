/**
 * The OpenAPI document is structurally valid OpenAPI 3.1 (checked by a small validator against the
 * 3.1 shape), lists exactly the routes the app serves (compared with Hono's router) and every error
 * code each route can return; `/docs` renders it with no network access. Plus the edge's own
 * answers: 404/405, idempotency header rules, and a defect that never leaks.
 */
import { Bounty, BountyMachine, ErrorCatalogue, EscrowMachine, Submission, SubmissionMachine } from "@clawbounties/domain"
import { Ledger } from "@clawbounties/ledger"
import { Events, Tokens } from "@clawbounties/marketplace"
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

/** The response a `#/components/responses/...` reference names. */
const responseAt = (doc: Json, ref: string): Json | undefined =>
  ref.startsWith("#/components/responses/") ? H.documentedResponse(doc, { $ref: ref }) : undefined

/** A response object, or the one its `$ref` names. */
const resolved = (doc: Json, response: Json): Json => H.documentedResponse(doc, response) ?? {}

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
      for (const [status, declared] of Object.entries<Json>(op.responses ?? {})) {
        const response: Json = typeof declared.$ref === "string" ? responseAt(doc, declared.$ref) ?? {} : declared
        if (typeof declared.$ref === "string") check(responseAt(doc, declared.$ref) !== undefined, `${at} ${status}: unresolved $ref ${declared.$ref}`)
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
  collectRefs(doc.components?.responses ?? {})
  for (const ref of refs) {
    const name = ref.replace(/^#\/components\/(schemas|responses)\//, "")
    check(ref.startsWith("#/components/schemas/") ? name in schemas : responseAt(doc, ref) !== undefined, `unresolved $ref ${ref}`)
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
      const listed = Object.values<Json>(op.responses).flatMap((response) => resolved(doc, response)["x-error-codes"] ?? [])
      const expected = errorsOf(r).map((tag) => ErrorCatalogue.entries[tag].code)
      assert.deepStrictEqual([...new Set(listed)].sort(), [...new Set(expected)].sort(), r.operationId)
      for (const [status, declared] of Object.entries<Json>(op.responses)) {
        const response = resolved(doc, declared)
        for (const code of response["x-error-codes"] ?? []) {
          assert.strictEqual(String(ErrorCatalogue.table.find((row) => row.code === code)!.status), status, `${r.operationId} ${code}`)
        }
      }
    }
  })

  it("sends what the document says: every response of a whole job's life validates against its documented schema", async () => {
    const doc = (await call("GET", OpenApi.DOCUMENT_PATH)).body as Json
    const ajv = new Ajv2020.default({ strict: false, validateFormats: false, allErrors: true })
    ajv.addSchema(doc, "openapi")
    const pointer = (...steps: Array<string>) => steps.map((step) => step.replace(/~/g, "~0").replace(/\//g, "~1")).join("/")
    const conforms = (method: string, path: string, reply: H.Reply) => {
      const declared: Json = doc.paths[path][method].responses[String(reply.status)]
      assert.isDefined(declared, `${method} ${path} ${reply.status} is documented`)
      const at = typeof declared.$ref === "string"
        ? `${declared.$ref.slice(1)}/content/application~1json/schema`
        : `/${pointer("paths", path, method, "responses", String(reply.status), "content", "application/json", "schema")}`
      const validate = ajv.compile({ $ref: `openapi#${at}` })
      assert.isTrue(validate(reply.body), `${method} ${path} ${reply.status}: ${ajv.errorsText(validate.errors)}`)
    }
    const fixture = await H.buildFixture(call, 150)
    const types = new Set<string>()
    for (const who of [fixture.requesterA, fixture.worker1]) {
      const feed = await call("GET", "/v1/events?limit=200&include_acked=true", { token: who.token })
      conforms("get", "/v1/events", feed)
      for (const event of feed.body.events) types.add(event.type)
    }
    // The feed showed many types, each validated against its own schema.
    assert.isAtLeast(types.size, 15)
    conforms("get", "/v1/bounties/{bounty_id}", await call("GET", `/v1/bounties/${fixture.approved.bountyId}`, { token: fixture.requesterA.token }))
    conforms("get", "/v1/disputes/{dispute_id}", await call("GET", `/v1/disputes/${fixture.resolved.disputeId}`, { token: H.OPERATOR_TOKEN }))
    conforms("get", "/v1/submissions/{submission_id}", await call("GET", `/v1/submissions/${fixture.approved.submissionId}`, { token: fixture.requesterA.token }))
    conforms("get", "/v1/auth/tokens", await call("GET", "/v1/auth/tokens", { token: fixture.requesterA.token }))
    conforms("get", "/v1/balances/history", await call("GET", `/v1/balances/history?did=${encodeURIComponent(fixture.requesterA.did)}`, { token: fixture.requesterA.token }))
    conforms("get", "/v1/operator/reconcile", await call("GET", "/v1/operator/reconcile", { token: H.OPERATOR_TOKEN }))
    conforms("get", "/v1/bounties/{bounty_id}", await call("GET", "/v1/bounties/bty_missing", { token: fixture.requesterA.token }))
    // A body with a field the document does not name is refused, as the document's closed request objects say.
    const refused = await call("POST", "/v1/events/ack", { token: fixture.requesterA.token, body: { event_ids: [fixture.eventIdOfA], extra: 1 } })
    assert.deepStrictEqual([refused.status, refused.body.error], [400, "INVALID_REQUEST"])
    conforms("post", "/v1/events/ack", refused)
  })

  it("documents no money error for accept: accepting moves no money", async () => {
    const doc = (await call("GET", OpenApi.DOCUMENT_PATH)).body as Json
    const op = doc.paths["/v1/bounties/{bounty_id}/accept"].post
    const listed = Object.values<Json>(op.responses).flatMap((response) => resolved(doc, response)["x-error-codes"] ?? [])
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

/** Every subschema of `roots` and of every component they reach through `$ref`, each component once. */
const reachable = (doc: Json, roots: ReadonlyArray<[string, unknown]>): Array<[string, Json]> => {
  const seen = new Set<string>()
  const found: Array<[string, Json]> = []
  const visit = (at: string, value: unknown) => {
    for (const [where, schema] of subschemas(value, at)) {
      found.push([where, schema])
      const ref = schema.$ref
      if (typeof ref === "string" && ref.startsWith("#/components/schemas/") && !seen.has(ref)) {
        seen.add(ref)
        visit(ref, doc.components.schemas[ref.slice("#/components/schemas/".length)])
      }
    }
  }
  for (const [at, root] of roots) visit(at, root)
  return found
}

/** Each operation's responses, success and error, and request bodies, where they are. */
const operationsOf = (doc: Json) =>
  Object.entries<Json>(doc.paths).flatMap(([path, item]) => Object.entries<Json>(item).map(([method, op]) => ({ at: `${method.toUpperCase()} ${path}`, op })))
const responseSchemas = (doc: Json): Array<[string, unknown]> =>
  operationsOf(doc).flatMap(({ at, op }) => Object.entries<Json>(op.responses).map(([status, response]) => [`${at} ${status}`, resolved(doc, response).content?.["application/json"]?.schema] as [string, unknown]))
const requestSchemas = (doc: Json): Array<[string, unknown]> =>
  operationsOf(doc).filter(({ op }) => op.requestBody !== undefined).map(({ at, op }) => [`${at} body`, op.requestBody.content["application/json"].schema])

/** Effect's own descriptions of its filters, which only restate a keyword beside them (`maxLength: 200`). */
const RESTATED = /^an? (string|number|integer|array|positive number|negative number|non-negative|non-positive|non empty|finite number)\b/

describe("the OpenAPI document, as client generators read it", () => {
  const doc = OpenApi.document(routes) as Json

  it("loads into a JSON Schema validator as it is, with no identifier declared twice, every schema compiling", () => {
    const ajv = new Ajv2020.default({ strict: false, validateFormats: false })
    ajv.addSchema(doc, "openapi")
    for (const name of Object.keys(doc.components.schemas)) assert.isFunction(ajv.getSchema(`openapi#/components/schemas/${name}`), name)
  })

  it("lets a response gain a field: no response object forbids additional properties, and every request body object does, as the server refuses unknown fields", () => {
    // A client generated in a strict language rejects a response with a field its schema forbids:
    // adding one, which the API must stay free to do, would break every deployed client.
    const closed = reachable(doc, responseSchemas(doc)).filter(([, s]) => s.additionalProperties === false)
    assert.deepStrictEqual(closed.map(([at]) => at), [])
    // The server decodes every body with unknown fields refused (`Http.decoder`); the document says so.
    // (An object of free-form entries, as a bounty's `metadata`, says so with a schema for them.)
    const open = reachable(doc, requestSchemas(doc)).filter(([, s]) => s.type === "object" && "properties" in s && (s.additionalProperties === undefined || s.additionalProperties === true))
    assert.deepStrictEqual(open.map(([at]) => at), [])
  })

  it("documents each event type with its payload, as a union told apart by `type`, one schema per type of the catalogue", () => {
    const event = doc.components.schemas.Event
    assert.strictEqual(event.discriminator?.propertyName, "type")
    const mapping: Record<string, string> = event.discriminator.mapping
    assert.deepStrictEqual(Object.keys(mapping).sort(), Events.catalogue.map((entry) => entry.type).sort())
    assert.deepStrictEqual(event.oneOf.map((member: Json) => member.$ref).sort(), Object.values(mapping).sort())
    for (const [type, ref] of Object.entries(mapping)) {
      const member = doc.components.schemas[ref.slice("#/components/schemas/".length)]
      const entry = Events.catalogue.find((candidate) => candidate.type === type)!
      assert.deepStrictEqual([member.properties.type.enum, member.properties.subject_type.enum], [[type], [entry.subject]], type)
      assert.includeMembers(member.required, ["type", "subject_type", "payload"], type)
      const payload = member.properties.payload.$ref === undefined ? member.properties.payload : doc.components.schemas[String(member.properties.payload.$ref).split("/").pop()!]
      assert.isNotEmpty(Object.keys(payload.properties ?? {}), `${type} names its payload's fields`)
    }
  })

  it("lists the values of every field that takes a closed set of them, so a generated client can switch on them", () => {
    const schemaOf = (value: Json): Json => (typeof value.$ref === "string" ? schemaOf(doc.components.schemas[value.$ref.split("/").pop()!]) : value)
    const valuesOf = (record: string, ...path: Array<string>): unknown => {
      let at = schemaOf(doc.components.schemas[record])
      for (const step of path) at = schemaOf(step === "[]" ? at.items : at.properties[step])
      return (at.anyOf?.find((member: Json) => member.type !== "null") ?? at).enum
    }
    assert.deepStrictEqual(valuesOf("Error", "error"), ErrorCatalogue.table.map((row) => row.code))
    assert.deepStrictEqual(valuesOf("AccountHistory", "items", "[]", "kind"), [...Ledger.EntryKind.literals])
    assert.deepStrictEqual(valuesOf("AccountHistory", "items", "[]", "bucket"), [...Ledger.Bucket.literals])
    assert.deepStrictEqual(valuesOf("TokenInfo", "role"), [...Tokens.Role.literals])
    assert.deepStrictEqual(valuesOf("Dispute", "outcome"), ["worker_award", "requester_refund", "split"])
    assert.deepStrictEqual(valuesOf("Submission", "proof_tier"), [...Submission.ProofTier.literals])
    assert.deepStrictEqual(valuesOf("Bounty", "min_proof_tier"), [...Bounty.MinProofTier.literals])
    assert.deepStrictEqual(valuesOf("CancelBountyResponse", "status"), ["cancelled"])
    assert.deepStrictEqual(valuesOf("CancelBountyResponse", "escrow_status"), ["cancelled"])
    assert.deepStrictEqual(valuesOf("ReconcileReport", "discrepancies", "[]", "kind"), [...Ledger.DiscrepancyKind.literals])
    assert.deepStrictEqual(valuesOf("Ready", "database"), ["ok"])
    assert.deepStrictEqual(valuesOf("BountyPostedEvent", "subject_type"), ["bounty"])
    const resolve = doc.paths["/v1/operator/disputes/{dispute_id}/resolve"].post.responses["200"].content["application/json"].schema
    assert.deepStrictEqual(schemaOf(schemaOf(resolve).properties.bounty_status).enum, [...BountyMachine.states])
  })

  it("carries no titles or descriptions that only restate a schema's keywords (generators make type names of titles)", () => {
    const schemas = reachable(doc, [...responseSchemas(doc), ...requestSchemas(doc), ["#/components/schemas", doc.components.schemas]])
    assert.deepStrictEqual(schemas.filter(([, s]) => typeof s.title === "string").map(([at, s]) => `${at}: ${s.title}`), [])
    assert.deepStrictEqual(schemas.filter(([, s]) => typeof s.description === "string" && RESTATED.test(s.description)).map(([at, s]) => `${at}: ${s.description}`), [])
    // What is said for a reader stays.
    assert.strictEqual(doc.components.schemas.Error.properties.message.type, "string")
    assert.match(JSON.stringify(doc.components.schemas.Bounty), /an RFC 3339 timestamp/)
  })

  it("describes each error response once, and every operation refers to it", () => {
    for (const { at, op } of operationsOf(doc)) {
      for (const [status, response] of Object.entries<Json>(op.responses)) {
        if (Number(status) >= 400) assert.match(String(response.$ref), /^#\/components\/responses\//, `${at} ${status}`)
      }
    }
    // Each is used, and named after its codes.
    const used = new Set(operationsOf(doc).flatMap(({ op }) => Object.values<Json>(op.responses).map((response) => response.$ref)))
    for (const [name, response] of Object.entries<Json>(doc.components.responses)) {
      assert.isTrue(used.has(`#/components/responses/${name}`), name)
      assert.strictEqual(name, (response["x-error-codes"] as Array<string>).map((code) => code.toLowerCase().replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase())).join("Or"))
    }
  })

  it("repeats no object schema: one used in two places is one component, referred to by each", () => {
    // Copies made most of the document once, and a generator makes one type of each copy.
    const seen = new Map<string, Array<string>>()
    for (const [at, schema] of [...subschemas(doc.paths, "#/paths"), ...subschemas(doc.components, "#/components")]) {
      const text = JSON.stringify(schema)
      if (schema.type === "object" && text.length > 300) seen.set(text, [...(seen.get(text) ?? []), at])
    }
    assert.deepStrictEqual([...seen.values()].filter((places) => places.length > 1), [])
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
