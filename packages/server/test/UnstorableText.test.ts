/**
 * Text a store cannot keep as sent: U+0000 (PostgreSQL refuses it in a text value, SQLite keeps it)
 * and a lone UTF-16 surrogate (both stores would silently replace it). Sent in every string of every
 * route's body, in every path parameter and in every query parameter, on SQLite and on PostgreSQL:
 * each answer is a catalogued 4xx and nothing is written. So is a JSON number past the double range,
 * which JSON.parse reads as Infinity and JSON.stringify writes as null.
 */
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { ErrorCatalogue } from "@clawbounties/domain"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, JSONSchema, Scope } from "effect"
import { pathParams, type Role, type Route } from "../src/Route.js"
import { routes } from "../src/Routes.js"
import * as H from "./helpers.js"
import { targets } from "./targets.js"

const unstorable = ["nul\u0000inside", "lone\ud800surrogate"]

type Path = ReadonlyArray<string | number>

/** The path of every string in a JSON value, keys included (a key is marked by a trailing "#key"). */
const stringPaths = (value: unknown, path: Path = []): Array<Path> => {
  if (typeof value === "string") return [path]
  if (Array.isArray(value)) return value.flatMap((item, i) => stringPaths(item, [...path, i]))
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => [[...path, k, "#key"], ...stringPaths(v, [...path, k])])
  }
  return []
}

/** `value` with the string at `path` replaced by `text` (or, for a key, the key renamed to it). */
const replaceAt = (value: unknown, path: Path, text: string): unknown => {
  const [head, ...rest] = path
  if (head === undefined) return text
  if (Array.isArray(value)) return value.map((item, i) => (i === head ? replaceAt(item, rest, text) : item))
  const record = value as Record<string, unknown>
  if (rest.length === 1 && rest[0] === "#key") {
    return Object.fromEntries(Object.entries(record).map(([k, v]) => (k === head ? [`${k}${text}`, v] : [k, v])))
  }
  return { ...record, [head]: replaceAt(record[head as string], rest, text) }
}

/** The path of every object in a JSON value, the value itself included. */
const objectPaths = (value: unknown, path: Path = []): Array<Path> => {
  if (Array.isArray(value)) return value.flatMap((item, i) => objectPaths(item, [...path, i]))
  if (typeof value === "object" && value !== null) return [path, ...Object.entries(value).flatMap(([k, v]) => objectPaths(v, [...path, k]))]
  return []
}

/** `value` with a `__proto__` key (an own property, as JSON.parse makes it) added to the object at `path`. */
const withProtoKeyAt = (value: unknown, path: Path): unknown => {
  const [head, ...rest] = path
  if (head === undefined) return Object.assign(JSON.parse('{"__proto__":{"injected":"yes"}}') as object, value)
  if (Array.isArray(value)) return value.map((item, i) => (i === head ? withProtoKeyAt(item, rest) : item))
  const record = value as Record<string, unknown>
  return { ...record, [head]: withProtoKeyAt(record[head as string], rest) }
}

const queryFields = (route: Route): ReadonlyArray<string> => {
  if (route.query === undefined) return []
  const schema = JSONSchema.fromAST(route.query.ast, { definitions: {}, topLevelReferenceStrategy: "skip" }) as { properties?: object }
  return Object.keys(schema.properties ?? {})
}

const suite = (name: string, startServer: () => Promise<H.TestServer>) =>
  describe(name, () => {
    let server: H.TestServer
    let call: H.Call
    let f: H.Fixture
    beforeAll(async () => {
      server = await startServer()
      call = H.client(server.url)
      f = await H.buildFixture(call, 90)
    })
    afterAll(async () => {
      await server?.cleanup()
    })

    const codes = new Map(ErrorCatalogue.table.map((row) => [row.code, row.status]))
    const refused = (label: string, reply: H.Reply) => {
      const shown = `${label}: ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`
      assert.isAtLeast(reply.status, 400, shown)
      assert.isBelow(reply.status, 500, shown)
      assert.strictEqual(codes.get(reply.body.error), reply.status, shown)
    }
    const tokenFor = (route: Route): string | undefined => {
      if (route.auth === "public") return undefined
      const preferred: ReadonlyArray<Role> = ["requester", "worker", "operator"]
      const role = preferred.find((r) => (route.auth as ReadonlyArray<Role>).includes(r))!
      return role === "operator" ? H.OPERATOR_TOKEN : role === "requester" ? f.requesterA.token : f.worker1.token
    }

    it("in any string of a body", async () => {
      const before = await H.snapshot(server)
      for (const route of routes.filter((r) => r.body !== undefined)) {
        const target = targets[route.operationId]!
        const template = target.template(f)
        for (const path of stringPaths(template)) {
          for (const text of unstorable) {
            const body = replaceAt(template, path, text)
            refused(`${route.operationId} ${path.join(".")}`, await call(route.method, target.path(f), { token: target.token(f), body }))
          }
        }
      }
      assert.strictEqual(await H.snapshot(server), before)
    })

    it("a __proto__ key anywhere in a body never gives a 500", async () => {
      for (const route of routes.filter((r) => r.body !== undefined)) {
        const target = targets[route.operationId]!
        const template = target.template(f)
        for (const path of objectPaths(template)) {
          const body = withProtoKeyAt(template, path)
          assert.include(JSON.stringify(body), '"__proto__"')
          const reply = await call(route.method, target.path(f), { token: target.token(f), body })
          assert.isBelow(reply.status, 500, `${route.operationId} ${path.join(".")}.__proto__: ${JSON.stringify(reply.body).slice(0, 200)}`)
        }
      }
    })

    it("a __proto__ key is refused where decoding would drop it, and kept as data where a field is kept as sent", async () => {
      const post = targets.postBounty!
      const before = await H.snapshot(server)
      // `metadata` is decoded into an object of its own: the key would vanish, and with it from the hash.
      const inMetadata = withProtoKeyAt({ ...post.template(f), idempotency_key: "proto-metadata" }, ["metadata"])
      const refusedReply = await call("POST", post.path(f), { token: f.requesterA.token, body: inMetadata })
      assert.deepStrictEqual([refusedReply.status, refusedReply.body.error, refusedReply.body.details.issues[0].path], [400, "INVALID_REQUEST", "metadata.__proto__"])
      assert.strictEqual(await H.snapshot(server), before)
      // `task_spec` is kept as sent: the key is data, stored and shown, and part of the request's hash.
      const spec = (text: string) => JSON.parse(`{"vector":{"__proto__":{"isAdmin":"${text}"}}}`) as Record<string, unknown>
      const posted = await call("POST", post.path(f), { token: f.requesterA.token, body: { ...post.template(f), idempotency_key: "proto-spec", task_spec: spec("yes") } })
      assert.strictEqual(posted.status, 201, JSON.stringify(posted.body))
      const shown = await call("GET", `/v1/bounties/${posted.body.bounty_id}`, { token: f.requesterA.token })
      assert.strictEqual(JSON.stringify(shown.body.task_spec), '{"vector":{"__proto__":{"isAdmin":"yes"}}}')
      const changed = await call("POST", post.path(f), { token: f.requesterA.token, body: { ...post.template(f), idempotency_key: "proto-spec", task_spec: spec("no") } })
      assert.deepStrictEqual([changed.status, changed.body.error], [409, "IDEMPOTENCY_CONFLICT"])
    })

    it("a number past the double range, which would be kept as null, is refused", async () => {
      const post = targets.postBounty!
      const before = await H.snapshot(server)
      const sent = (extra: string) => JSON.stringify({ ...post.template(f), idempotency_key: "huge-number" }).replace(/}$/, `,${extra}}`)
      for (const [extra, path] of [['"task_spec":{"limits":[1,1e400]}', "task_spec.limits.1"], ['"task_spec":{"floor":-1e999}', "task_spec.floor"]] as const) {
        const reply = await call("POST", post.path(f), { token: f.requesterA.token, raw: sent(extra) })
        refused(extra, reply)
        assert.deepStrictEqual([reply.body.error, reply.body.details.issues[0].path], ["INVALID_REQUEST", path], extra)
      }
      assert.strictEqual(await H.snapshot(server), before)
    })

    it("in any path or query parameter", async () => {
      const before = await H.snapshot(server)
      for (const route of routes) {
        const token = tokenFor(route)
        const body = route.body === undefined ? undefined : targets[route.operationId]!.template(f)
        for (const param of pathParams(route.path)) {
          const path = route.path.replace(/\{([a-z_]+)\}/g, (_, p: string) => (p === param ? "x%00y" : "x"))
          refused(`${route.operationId} {${param}}`, await call(route.method, path, { token, body }))
        }
        for (const field of queryFields(route)) {
          const path = `${route.path.replace(/\{([a-z_]+)\}/g, "x")}?${field}=x%00y`
          refused(`${route.operationId} ?${field}`, await call(route.method, path, { token, body }))
        }
      }
      assert.strictEqual(await H.snapshot(server), before)
    })
  })

suite("unstorable text on SQLite", H.startSqlite)

const pg = await PgTestDatabase.probe()
describe.skipIf(!pg.available)(`unstorable text on PostgreSQL ${pg.reason}`, () => {
  const scope = Effect.runSync(Scope.make())
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  suite("over a database of its own", async () => {
    const db = await Effect.runPromise(Scope.extend(PgTestDatabase.database("text"), scope))
    return H.start({ _tag: "postgres", url: db.url })
  })
})
