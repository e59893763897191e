/**
 * Hostile requests for every operation of the served OpenAPI document (fast-check, fixed seeds),
 * sent as raw HTTP to a real server: one part of an otherwise well-formed request is attacked at a
 * time (a value deep in the body, the body's text, a path parameter, the query string, the
 * content type, the Idempotency-Key or Authorization header). Every answer is below 500; a 4xx is
 * `{ error, message, details }` with a catalogued code at the catalogue's status that the document
 * lists for the operation; and a refused request writes nothing (every table compared, row by row).
 * The well-formed requests aim at records in a state where even they are refused (`targets.ts`);
 * the few whose well-formed request would succeed are only sent bodies their Schema refuses.
 */
import { ErrorCatalogue } from "@clawbounties/domain"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import * as fc from "fast-check"
import * as http from "node:http"
import { routes } from "../src/Routes.js"
import * as H from "./helpers.js"
import { targets } from "./targets.js"

const SEED = 20261204
const RUNS = 60

interface Operation {
  readonly operationId: string
  readonly method: string
  readonly template: string
  readonly query: ReadonlyArray<string>
  readonly idempotent: boolean
  readonly roles: ReadonlyArray<string>
  readonly hasBody: boolean
  /** Documented error codes by status. */
  readonly codes: ReadonlyMap<number, ReadonlyArray<string>>
}

/** A well-formed request: who sends it, its path parameters, its query, its body. */
interface Base {
  readonly token: string | undefined
  readonly params: Readonly<Record<string, string>>
  readonly query: Readonly<Record<string, string>>
  readonly body?: Record<string, unknown>
}

/** Operations that write nothing even when they succeed. */
const readOnly = new Set(["simulateFees", "verifyEnvelope", "verifyProofBundle", "verifyCommitProof"])
/** Writing operations whose well-formed target succeeds: only bodies their Schema refuses are sent to them. */
const targetSucceeds = new Set(["createChallenge", "rotateToken", "updateWorkerSelf", "runSweep", "manualCredit", "manualDebit"])

const reads = (f: H.Fixture): Record<string, Base> => {
  const op = H.OPERATOR_TOKEN
  return {
    health: { token: undefined, params: {}, query: {} },
    ready: { token: undefined, params: {}, query: {} },
    listTokens: { token: f.requesterA.token, params: {}, query: {} },
    listWorkers: { token: f.requesterA.token, params: {}, query: { job_type: "code", limit: "5" } },
    getWorkerSelf: { token: f.worker1.token, params: {}, query: {} },
    getWorker: { token: f.requesterA.token, params: { worker_id: f.worker1.workerId }, query: {} },
    listBounties: { token: f.worker1.token, params: {}, query: { status: "open", limit: "5" } },
    getBounty: { token: f.requesterA.token, params: { bounty_id: f.review.bountyId }, query: {} },
    listSubmissions: { token: f.requesterA.token, params: { bounty_id: f.review.bountyId }, query: {} },
    getSubmission: { token: f.worker1.token, params: { submission_id: f.review.submissionId }, query: {} },
    getEscrow: { token: f.requesterA.token, params: { escrow_id: f.review.escrowId }, query: {} },
    getBalances: { token: f.requesterA.token, params: {}, query: { did: f.requesterA.did, currency: "USD" } },
    getAccountHistory: { token: f.requesterA.token, params: {}, query: { did: f.requesterA.did, limit: "3" } },
    pullEvents: { token: f.requesterA.token, params: {}, query: { limit: "5" } },
    listWebhooks: { token: f.requesterA.token, params: {}, query: {} },
    listWebhookDeliveries: { token: f.requesterA.token, params: { webhook_id: f.webhookIdOfA }, query: { limit: "5" } },
    // Another principal's endpoint: not found, nothing deleted.
    deleteWebhook: { token: f.requesterB.token, params: { webhook_id: f.webhookIdOfA }, query: {} },
    getDispute: { token: f.requesterA.token, params: { dispute_id: f.disputed.disputeId }, query: {} },
    disputeQueue: { token: op, params: {}, query: { status: "open", limit: "5" } },
    reconcile: { token: op, params: {}, query: {} },
    auditLog: { token: op, params: {}, query: { limit: "5" } },
    sweepStatus: { token: op, params: {}, query: {} }
  }
}

/** The path parameters of `template` as they appear in `path`. */
const paramsOf = (template: string, path: string): Record<string, string> => {
  const names = Array.from(template.matchAll(/\{([a-z_]+)\}/g), (m) => m[1]!)
  const pattern = new RegExp(`^${template.replace(/\{[a-z_]+\}/g, "([^/]+)")}$`)
  const match = pattern.exec(path)
  if (match === null) throw new Error(`${path} does not match ${template}`)
  return Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(match[i + 1]!)]))
}

// -------------------------------------------------------------------------------------------------
// Raw HTTP: no URL normalisation, headers as given, the body as bytes.

interface Sent {
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string | Array<string>>
  readonly body?: string | Buffer
  /** The code the request must be refused with, where one part alone is wrong and known to be. */
  readonly refusedWith?: string
}

interface Answer {
  readonly status: number
  readonly text: string
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })

const send = (base: string, request: Sent): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const url = new URL(base)
    const req = http.request(
      { host: url.hostname, port: url.port, method: request.method, path: request.path, headers: request.headers, agent },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.on("end", () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString("utf8") }))
        res.on("error", reject)
      }
    )
    req.on("error", reject)
    if (request.body !== undefined) req.write(request.body)
    req.end()
  })

// -------------------------------------------------------------------------------------------------
// Hostile values

type Json = unknown

const nest = (depth: number): Json => {
  let value: Json = 1
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { a: value }
  return value
}

/** Values that JSON.stringify writes as given (lone surrogates as `\udXXX` escapes). */
const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
    null, true, false, 0, -0, -1, 1.5, 1e308, -1e308, 2 ** 53, 2 ** 63, -(2 ** 63), Number.MIN_VALUE,
    "", " ", "\u0000", "a\u0000b", "\ud800", "\udfff", "x\udc00y", "\u202e", "\ufeff", "\u2028", "\u200b", "é", "e\u0301",
    "😀", "-5", "0", "-0", "1e3", "1.5", " 5", "05", "0x10", "9223372036854775808", "18446744073709551616",
    "100000000000000000000000000000", "NaN", "Infinity", "null", "true", "[]", "{}", "__proto__", "constructor",
    "toString", "USD ", "usd", "EUR", "did:key:", "bty_", "'; DROP TABLE bounties; --",
    [], [1], [null], {}, { a: 1 }, ["x"], { __proto__: null }
  ),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.integer({ min: 1000, max: 120_000 }).chain((n) => fc.constantFrom("x", "é", "😀", "\u0000").map((c) => c.repeat(n))),
  fc.integer({ min: 65, max: 400 }).map(nest),
  fc.jsonValue({ maxDepth: 2 })
)

/** Every path to an object, an array or a leaf in `value`. */
const pathsIn = (value: Json, at: ReadonlyArray<string | number> = []): Array<ReadonlyArray<string | number>> => {
  const out: Array<ReadonlyArray<string | number>> = [at]
  if (Array.isArray(value)) value.forEach((item, i) => out.push(...pathsIn(item, [...at, i])))
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) out.push(...pathsIn(v, [...at, k]))
  }
  return out
}

/** `value` with `edit` applied to what sits at `path` (copying along the way). */
const editAt = (value: Json, path: ReadonlyArray<string | number>, edit: (old: Json) => Json): Json => {
  if (path.length === 0) return edit(value)
  const [head, ...rest] = path
  if (Array.isArray(value)) return value.map((item, i) => (i === head ? editAt(item, rest, edit) : item))
  const copy: Record<string, Json> = { ...(value as Record<string, Json>) }
  copy[head as string] = editAt(copy[head as string], rest, edit)
  return copy
}

type Edit = (old: Json) => Json

const edits: fc.Arbitrary<Edit> = fc.oneof(
  hostileValue.map((v): Edit => () => v),
  fc.constant<Edit>((old) => [old]),
  fc.constant<Edit>((old) => ({ value: old })),
  fc.constant<Edit>((old) => (typeof old === "object" && old !== null && !Array.isArray(old) ? Object.values(old) : old)),
  fc.tuple(fc.constantFrom("extra", "__proto__", "constructor", "prototype", "toString", "", " ", "idempotency_key", "\u0000k", "k\ud800"), hostileValue)
    .map(([key, v]): Edit => (old) => (typeof old === "object" && old !== null && !Array.isArray(old) ? withOwnKey(old as Record<string, Json>, key, v) : old)),
  // Drops one field of an object.
  fc.nat().map((n): Edit => (old) => {
    if (typeof old !== "object" || old === null || Array.isArray(old)) return old
    const keys = Object.keys(old)
    if (keys.length === 0) return old
    const { [keys[n % keys.length]!]: _dropped, ...rest } = old as Record<string, Json>
    return rest
  })
)

/** An object with `key` as an own data property, `__proto__` included. */
const withOwnKey = (object: Record<string, Json>, key: string, value: Json): Record<string, Json> => {
  const copy: Record<string, Json> = { ...object }
  Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true })
  return copy
}

/** Body text: the template with one edit deep inside, or text no edit of a value produces. */
const hostileBodyText = (template: Record<string, unknown>): fc.Arbitrary<string> => {
  const json = JSON.stringify(template)
  const paths = pathsIn(template)
  const keys = Object.keys(template)
  return fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...paths), edits).map(([path, edit]) => JSON.stringify(editAt(template, path, edit)) ?? "null") },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...paths), edits, edits).map(([path, a, b]) => JSON.stringify(editAt(editAt(template, path, a), path, b)) ?? "null") },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        "", " ", "null", "[]", "\"x\"", "0", "-0", "1e400", "[" + json + "]", json + "x", json + json, "\ufeff" + json,
        json.slice(0, -1), "{", "}", "{\"a\":}", "{'a':1}", "{\"a\":1,}", "NaN", "\u0000", json.replace("{", "{\"__proto__\":{\"polluted\":1},"),
        json.replace("{", "{\"constructor\":{\"prototype\":{\"polluted\":1}},"),
        // Duplicate keys: JSON.parse keeps the last.
        keys.length === 0 ? "{\"a\":1,\"a\":2}" : json.replace("{", `{${JSON.stringify(keys[0])}:{},`),
        keys.length === 0 ? "{}" : json.slice(0, -1) + `,${JSON.stringify(keys[0])}:[-1]}`,
        json.replace(/"(\d+)"/, "$1"), json.replace(/"(\d+)"/, "-$1"), json.replace(/"(\d+)"/, "\"$1.0\""), json.replace(/"(\d+)"/, "1e999"),
        json.replace(/"/, "\"\\ud800"), json.replace(/:"/, ":\"\\u0000"), json.replace(/:"/, ":\"\\udfff")
      )
    }
  )
}

/**
 * Whether a body text is one the operation's Schema accepts as is: an empty body reads as `{}`, and
 * a leading byte order mark is dropped (RFC 8259 lets a parser ignore it).
 */
const schemaAccepts = (op: { readonly operationId: string }, text: string): boolean => {
  const schema = routes.find((r) => r.operationId === op.operationId)!.body!
  let value: unknown
  try {
    value = text === "" ? {} : JSON.parse(text.replace(/^\ufeff/, ""))
  } catch {
    return false
  }
  return Either.isRight(Schema.decodeUnknownEither(schema, { onExcessProperty: "error" })(value))
}

/** Hostile body texts the operation's Schema refuses. */
const refusedBodyText = (op: { readonly operationId: string }, template: Record<string, unknown>) =>
  hostileBodyText(template).filter((text) => !schemaAccepts(op, text))

/** A path segment as it is written in the URL (already percent-encoded where it needs to be). */
const hostileSegment = (valid: string): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom(
      "x".repeat(200), "%2F", "a%2Fb", "%00", `${valid}%00`, "%ED%A0%80", "%ED%B0%80",
      "%E0%A4%A", "%", "%25", "%C0%AF", "%FF", "%F0%9F%98%80", "%E2%80%AE", "%EF%BB%BF", "%20", "+", ";", "'", "%27%20OR%201=1--",
      "*", "%5C", "%0A", "%0D%0A", valid.toUpperCase(), `${valid}%20`, `%20${valid}`, `${valid}x`, valid.slice(0, -1), "null", "undefined",
      "__proto__", "constructor", "0", "-1", "1e308", encodeURIComponent("é".repeat(200))
    ),
    // Dot segments are resolved by URL parsing before routing: they name another route.
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 30 }).map(encodeURIComponent).filter((s) => s !== "." && s !== "..")
  )

/** A query value as written in the URL. */
const hostileQueryValue = fc.oneof(
  fc.constantFrom(
    "", "%00", "%ED%A0%80", "%E0%A4%A", "%", "x".repeat(600), "-0", "1e308", "9223372036854775808", "-1", "0", "1.5", "true%20",
    "TRUE", "null", "[]", "%7B%7D", "+", "%2B1", "a&b", "=", "%3D", "open%00", "%F0%9F%98%80", "0x10", "05"
  ),
  fc.string({ unit: "grapheme", maxLength: 20 }).map(encodeURIComponent)
)

const encodeQuery = (query: Readonly<Record<string, string>>) =>
  Object.entries(query).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)

const contentTypes = [
  "", "text/plain", "application/jsonx", "text/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
  "application/json; charset=utf-16", "application/json; charset=latin1", "application/json;;", "application/json, text/plain", "*/*",
  "APPLICATION/JSON", " application/json ", "application/vnd.api+json", "application/json; charset=\"UTF-8\"", "application/json; charset=",
  "application/json; charset=utf-8; charset=utf-16", "json", "application/", "\tapplication/json"
]

// -------------------------------------------------------------------------------------------------

describe("hostile requests to every documented operation", () => {
  let server: H.TestServer
  let f: H.Fixture
  let operations: ReadonlyArray<Operation>
  let bases: Record<string, Base>
  const catalogue = new Map(ErrorCatalogue.table.map((row) => [row.code, row.status]))

  beforeAll(async () => {
    server = await H.startSqlite()
    const call = H.client(server.url)
    f = await H.buildFixture(call, 90)
    const document = (await call("GET", "/openapi.json")).body as {
      paths: Record<string, Record<string, {
        operationId: string
        parameters?: Array<{ name: string; in: string }>
        requestBody?: unknown
        "x-roles": Array<string>
        responses: Record<string, { "x-error-codes"?: Array<string> }>
      }>>
    }
    operations = Object.entries(document.paths).flatMap(([template, methods]) =>
      Object.entries(methods).map(([method, op]) => ({
        operationId: op.operationId,
        method: method.toUpperCase(),
        template,
        query: (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name),
        idempotent: (op.parameters ?? []).some((p) => p.in === "header" && p.name === "Idempotency-Key"),
        roles: op["x-roles"],
        hasBody: op.requestBody !== undefined,
        codes: new Map(Object.entries(op.responses).map(([status, r]) => [Number(status), H.documentedResponse(document, r)["x-error-codes"]] as const)
          .flatMap(([status, codes]) => (codes === undefined ? [] : [[status, codes]])))
      }))
    )
    const written = Object.fromEntries(Object.entries(targets).map(([id, t]) => {
      const op = operations.find((o) => o.operationId === id)!
      return [id, { token: t.token(f), params: paramsOf(op.template, t.path(f)), query: {}, body: t.template(f) }]
    }))
    bases = { ...reads(f), ...written }
  })
  afterAll(async () => {
    agent.destroy()
    await server?.cleanup()
  })

  const pathOf = (op: Operation, params: Readonly<Record<string, string>>, rawQuery: ReadonlyArray<string>) => {
    const path = op.template.replace(/\{([a-z_]+)\}/g, (_, name: string) => params[name]!)
    return rawQuery.length === 0 ? path : `${path}?${rawQuery.join("&")}`
  }
  const encodedParams = (base: Base) => Object.fromEntries(Object.entries(base.params).map(([k, v]) => [k, encodeURIComponent(v)]))

  const headersOf = (base: Base, body: string | undefined): Record<string, string> => ({
    ...(base.token === undefined ? {} : { authorization: `Bearer ${base.token}` }),
    ...(body === undefined ? {} : { "content-type": "application/json" })
  })

  /** A hostile request for `op`: the well-formed base with one part attacked. */
  const hostileRequest = (op: Operation, base: Base): fc.Arbitrary<Sent> => {
    const baseBody = base.body === undefined ? undefined : JSON.stringify(base.body)
    const baseQuery = encodeQuery(base.query)
    const request = (parts: { params?: Record<string, string>; query?: ReadonlyArray<string>; headers?: Record<string, string | Array<string>>; body?: string }): Sent => {
      const body = "body" in parts ? parts.body : baseBody
      return {
        method: op.method,
        path: pathOf(op, parts.params ?? encodedParams(base), parts.query ?? baseQuery),
        headers: parts.headers ?? headersOf(base, body),
        ...(body === undefined ? {} : { body })
      }
    }
    // A writing operation whose base succeeds is only ever sent a body its Schema refuses.
    const bodies = op.hasBody
      ? (targetSucceeds.has(op.operationId) ? refusedBodyText(op, base.body!) : fc.oneof(fc.constant(baseBody!), hostileBodyText(base.body!)))
      : fc.constant(undefined)
    const attacks: Array<fc.Arbitrary<Sent>> = []
    if (op.hasBody) attacks.push(refusedBodyText(op, base.body!).map((body) => request({ body })))
    const paramNames = Object.keys(base.params)
    if (paramNames.length > 0) {
      attacks.push(fc.tuple(fc.constantFrom(...paramNames), bodies).chain(([name, body]) =>
        hostileSegment(base.params[name]!).map((segment) => request({ params: { ...encodedParams(base), [name]: segment }, body }))))
      // Longer than the document allows (200 characters).
      attacks.push(fc.tuple(fc.constantFrom(...paramNames), fc.constantFrom("x".repeat(201), "x".repeat(4000), encodeURIComponent("é".repeat(201))), bodies)
        .map(([name, segment, body]) => ({ ...request({ params: { ...encodedParams(base), [name]: segment }, body }), refusedWith: "INVALID_REQUEST" })))
    }
    const knownQuery = op.query.length > 0 ? op.query : ["limit"]
    attacks.push(fc.tuple(
      fc.oneof(
        fc.tuple(fc.constantFrom(...knownQuery), hostileQueryValue).map(([k, v]) => [...baseQuery.filter((p) => !p.startsWith(`${k}=`)), `${k}=${v}`]),
        fc.constantFrom(...knownQuery).map((k) => [...baseQuery, `${k}=${encodeURIComponent(base.query[k] ?? "1")}`, `${k}=2`]),
        fc.constantFrom(["&&&"], ["="], ["=x"], ["limit"], ["%"], ["a=%", "b"], ["did"], ["status=open=closed"]).map((extra) => [...baseQuery, ...extra])
      ),
      bodies
    ).map(([query, body]) => request({ query, body })))
    // A parameter the query's Schema does not name is refused like any unknown field.
    attacks.push(fc.tuple(
      fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "extra", "%00", "%ED%A0%80", "a%5B%5D", "limit%5B%5D", "LIMIT", "limit%20"),
      hostileQueryValue,
      bodies
    ).map(([k, v, body]) => ({ ...request({ query: [...baseQuery, `${k}=${v}`], body }), ...(op.query.length > 0 ? { refusedWith: "INVALID_REQUEST" } : {}) })))
    if (op.hasBody) {
      attacks.push(fc.tuple(fc.constantFrom(...contentTypes), fc.constantFrom<string | undefined>(undefined, "gzip", "identity", "", "br, identity", "GZIP"), bodies)
        .map(([contentType, encoding, body]) => {
          const headers: Record<string, string> = { ...headersOf(base, body) }
          if (contentType === "") delete headers["content-type"]
          else headers["content-type"] = contentType
          if (encoding !== undefined) headers["content-encoding"] = encoding
          return request({ headers, body })
        }))
    }
    // The header fills a body's missing key: a body refused only for lacking one would be accepted.
    if (op.idempotent && !targetSucceeds.has(op.operationId)) {
      const key = fc.oneof(
        fc.constantFrom("", " ", "\t", "x".repeat(129), "x".repeat(8000), "fuzz-other", "\u00e9\u00ff", "%00", "key with spaces", "a,b"),
        fc.string({ unit: "grapheme-ascii", maxLength: 200 })
      )
      attacks.push(fc.tuple(fc.oneof(key.map((k) => [k]), fc.tuple(key, key).map(([a, b]) => [a, b])), bodies).map(([keys, body]) => {
        const headers: Record<string, string | Array<string>> = { ...headersOf(base, body), "idempotency-key": keys.length === 1 ? keys[0]! : keys }
        return request({ headers, body })
      }))
    }
    // The presented token in other forms, or a token of a role the operation does not allow.
    const roleTokens = { requester: f.requesterPoor.token, worker: f.worker1.token, operator: H.OPERATOR_TOKEN }
    const tokens = [base.token ?? "", ...Object.entries(roleTokens).filter(([role]) => !op.roles.includes(role)).map(([, token]) => token)]
    attacks.push(fc.tuple(
      fc.oneof(
        fc.constantFrom<string | undefined>(undefined, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer null", "Bearer undefined", `Bearer ${"a".repeat(8000)}`, "Bearer \u00e9", "Token x"),
        fc.tuple(fc.constantFrom(...tokens), fc.constantFrom(
          (t: string) => `bearer ${t}`, (t: string) => `BEARER ${t}`, (t: string) => `Bearer  ${t}`, (t: string) => `Bearer ${t} extra`,
          (t: string) => `Bearer ${t}\t`, (t: string) => `Bearer ${t}x`, (t: string) => `Bearer ${t.slice(0, -1)}`, (t: string) => `Bearer ${t.toUpperCase()}`,
          (t: string) => `Bearer ${t},Bearer ${t}`, (t: string) => t, (t: string) => `Bearer\t${t}`, (t: string) => `Bearer ${t}%00`
        )).map(([t, form]) => form(t))
      ),
      bodies
    ).map(([authorization, body]) => {
      const headers: Record<string, string> = { ...headersOf(base, body) }
      if (authorization === undefined) delete headers.authorization
      else headers.authorization = authorization
      return request({ headers, body })
    }))
    return fc.oneof(...attacks)
  }

  it("covers every documented operation", () => {
    assert.deepStrictEqual(operations.map((op) => op.operationId).sort(), Object.keys(bases).sort())
  })

  it("the well-formed request of every writing operation is refused and writes nothing", async () => {
    for (const op of operations) {
      if (op.method === "GET" || readOnly.has(op.operationId) || targetSucceeds.has(op.operationId)) continue
      const base = bases[op.operationId]!
      const before = await H.snapshot(server)
      const body = JSON.stringify(base.body)
      const answer = await send(server.url, { method: op.method, path: pathOf(op, encodedParams(base), []), headers: headersOf(base, body), body })
      assert.isAtLeast(answer.status, 400, `${op.operationId}: ${answer.text}`)
      assert.strictEqual(await H.snapshot(server), before, `${op.operationId} wrote something`)
    }
  })

  /** The tables whose rows differ between two snapshots. */
  const changedTables = (before: string, after: string) => {
    const lines = new Set(before.split("\n"))
    return after.split("\n").filter((line) => !lines.has(line)).map((line) => line.split(":")[0]!)
  }
  const describeRequest = (request: Sent) =>
    JSON.stringify({ ...request, body: typeof request.body === "string" ? request.body.slice(0, 300) : request.body }).slice(0, 1500)

  // The document is built from the route table; the test above holds them to each other.
  for (const [index, name] of routes.map((route) => route.operationId).entries()) {
    it(`${name}: a catalogued, documented 4xx or a harmless success, and nothing written when refused`, async () => {
      const op = operations.find((o) => o.operationId === name)
      assert.isDefined(op, `${name} is not in the document`)
      const base = bases[name]!
      const writes = op!.method !== "GET" && !readOnly.has(name)
      let before = await H.snapshot(server)
      const seed = SEED + index
      await fc.assert(
        fc.asyncProperty(hostileRequest(op!, base), async (request) => {
          const answer = await send(server.url, request)
          const label = `${name} (seed ${seed}) ${answer.status} ${answer.text.slice(0, 300)}\n  for ${describeRequest(request)}`
          assert.isBelow(answer.status, 500, label)
          const after = await H.snapshot(server)
          if (answer.status < 300) {
            assert.isUndefined(request.refusedWith, `accepted: ${label}`)
            // A writing operation is only sent requests its Schema or its record's state refuses.
            assert.isFalse(writes, `accepted: ${label}`)
            assert.strictEqual(after, before, `a read wrote something: ${label}`)
            return
          }
          assert.isAtLeast(answer.status, 400, label)
          let body: { error: unknown; message: unknown; details: unknown }
          try {
            body = JSON.parse(answer.text)
          } catch {
            return assert.fail(`not a JSON error body: ${label}`)
          }
          if (request.refusedWith !== undefined) assert.strictEqual(body.error, request.refusedWith, label)
          assert.strictEqual(catalogue.get(body.error as string), answer.status, `not catalogued at this status: ${label}`)
          assert.include(op!.codes.get(answer.status) ?? [], body.error as string, `not documented for the operation: ${label}`)
          assert.isString(body.message, label)
          assert.isTrue(typeof body.details === "object" && body.details !== null && !Array.isArray(body.details), label)
          if (after !== before) {
            const changed = changedTables(before, after)
            before = after
            assert.fail(`a refused request wrote to ${changed.join(", ")}: ${label}`)
          }
        }),
        { numRuns: RUNS, seed }
      )
    })
  }
})
