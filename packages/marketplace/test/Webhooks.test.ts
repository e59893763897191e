/**
 * Webhooks on SQLite and PostgreSQL, delivering to a real HTTP server on 127.0.0.1: registration and
 * its URL rules (SSRF, fail-closed), signed deliveries, retries with backoff under `TestClock`,
 * giving up, the delivery log, replay, deletion, and (PostgreSQL) two loops claiming at once.
 */
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { Ids } from "@clawbounties/domain"
import { Limits } from "@clawbounties/fees"
import { SqlClient } from "@effect/sql"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Ref, TestClock } from "effect"
import { createHmac, timingSafeEqual } from "node:crypto"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"
import type { Actor } from "../src/Actor.js"
import { transaction } from "../src/Command.js"
import * as Engine from "../src/Engine.js"
import { Entropy } from "../src/Entropy.js"
import * as Identities from "../src/Identities.js"
import { MarketplaceConfig } from "../src/MarketplaceConfig.js"
import * as Outbox from "../src/Outbox.js"
import * as Tokens from "../src/Tokens.js"
import * as Webhooks from "../src/Webhooks.js"
import * as WebhookTransport from "../src/WebhookTransport.js"
import { migrationSets } from "./helpers/engine.js"

// -------------------------------------------------------------------------------------------------
// A real HTTP server: each path answers with the statuses queued for it (then 200), or never.

interface Received {
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

const received: Array<Received> = []
const plans = new Map<string, Array<number | "hang" | { redirect: string }>>()
const receiver = createServer((request, response) => {
  let body = ""
  request.setEncoding("utf8")
  request.on("data", (chunk) => (body += chunk))
  request.on("end", () => {
    received.push({ path: request.url!, headers: request.headers, body })
    const next = plans.get(request.url!)?.shift() ?? 200
    if (next === "hang") return
    if (typeof next === "object") {
      response.writeHead(302, { location: next.redirect }).end()
      return
    }
    response.writeHead(next, { "content-type": "text/plain" }).end("ok")
  })
})
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`
afterAll(() => new Promise<void>((resolve) => {
  receiver.closeAllConnections()
  receiver.close(() => resolve())
}))

let paths = 0
/** A path of its own on the receiver, with the answers it gives. */
const endpoint = (...answers: Array<number | "hang" | { redirect: string }>) => {
  const path = `/hook/${++paths}`
  plans.set(path, [...answers])
  return { url: `${base}${path}`, path, calls: () => received.filter((r) => r.path === path) }
}

/** The verification a receiver does, as docs/webhooks.md gives it. */
const verify = (secret: string, headers: IncomingHttpHeaders, rawBody: string): boolean => {
  const expected = `v1=${createHmac("sha256", secret).update(`${headers["webhook-timestamp"]}.${rawBody}`).digest("hex")}`
  const given = String(headers["webhook-signature"])
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected))
}

// -------------------------------------------------------------------------------------------------
// The engine

const pg = await PgTestDatabase.probe()
const stores = [
  { name: "sqlite", postgres: false, store: () => Sqlite.layerMemory(migrationSets).pipe(Layer.orDie) },
  { name: `postgres ${pg.reason}`, postgres: true, store: () => PgTestDatabase.layer({ prefix: "mkt_webhooks", migrations: migrationSets }).pipe(Layer.orDie) }
]

const engine = <E, R>(store: Layer.Layer<SqlClient.SqlClient, E, R>, webhooks: Layer.Layer<Webhooks.Services>) =>
  Engine.layer(store, {
    ids: Ids.IdGen.layerCounter,
    entropy: Entropy.layerSeeded,
    settings: MarketplaceConfig.layer(),
    limits: Limits.Limits.layer,
    identities: Identities.layerWith(),
    operatorToken: Tokens.layerNoOperator,
    webhooks
  })

const alice: Actor = { did: "did:key:zAlice", role: "requester" }
const bob: Actor = { did: "did:key:zBob", role: "worker" }

/** An event addressed to `did`, appended in a transaction of its own: dispute `dsp_<n>` escalated. */
const eventFor = (did: string, n: number) =>
  transaction(Outbox.append({ type: "dispute.escalated", subjectType: "dispute", subjectId: `dsp_${n}`, recipients: [did], payload: { dispute_id: `dsp_${n}`, bounty_id: "bty_test" } }))

const count = (table: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM ${sql(table)}`).pipe(Effect.map((rows) => Number(rows[0]!.n)))

const tableCounts = Effect.all({
  endpoints: count("webhook_endpoints"),
  deliveries: count("webhook_deliveries"),
  attempts: count("webhook_attempts")
})

const codeOf = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.map(Effect.flip(effect), (error) => (error as { readonly _tag: string })._tag)

const log = (actor: Actor, webhookId: string) => Effect.map(Webhooks.deliveries(actor, webhookId), (page) => page.attempts.map((a) => [a.attempt, a.outcome, a.status_code, a.error]))

for (const { name, postgres, store } of stores) {
  const available = !postgres || pg.available
  describe.skipIf(!available)(`webhooks (${name})`, () => {
    const Local = (settings: Partial<Webhooks.Settings> = {}) => engine(store(), Webhooks.layerWith({ allowPrivate: true, ...settings }))

    it.effect("returns the secret once, lists without it, and signs each delivery so the documented check verifies it", () =>
      Effect.gen(function* () {
        const target = endpoint()
        const created = yield* Webhooks.create(alice, { url: target.url })
        assert.match(created.secret, /^whsec_[A-Za-z0-9_-]{43}$/)
        const listed = yield* Webhooks.list(alice)
        assert.deepStrictEqual(listed.webhooks, [{ webhook_id: created.webhook_id, url: target.url, event_types: null, created_at: created.created_at }])
        assert.notInclude(JSON.stringify(listed), created.secret)
        assert.deepStrictEqual((yield* Webhooks.list(bob)).webhooks, [])

        const [eventId] = yield* eventFor(alice.did, 1)
        const report = yield* Webhooks.deliverDue()
        assert.deepStrictEqual(report, { delivered: 1, retrying: 0, failed: 0, skipped: 0 })
        const [call] = target.calls()
        assert.strictEqual(call!.headers["webhook-id"], eventId)
        assert.strictEqual(call!.headers["content-type"], "application/json")
        assert.match(String(call!.headers["webhook-timestamp"]), /^\d+$/)
        const body = JSON.parse(call!.body)
        assert.deepStrictEqual([body.event_id, body.type, body.payload], [eventId, "dispute.escalated", { bounty_id: "bty_test", dispute_id: "dsp_1" }])
        assert.isTrue(verify(created.secret, call!.headers, call!.body))
        // Tampered body, timestamp or secret: the check fails.
        assert.isFalse(verify(created.secret, call!.headers, call!.body.replace("dsp_1", "dsp_2")))
        assert.isFalse(verify(created.secret, { ...call!.headers, "webhook-timestamp": "1" }, call!.body))
        assert.isFalse(verify(`${created.secret}x`, call!.headers, call!.body))
        assert.deepStrictEqual(yield* log(alice, created.webhook_id), [[1, "delivered", 200, null]])
        // Delivered: nothing is due any more.
        assert.deepStrictEqual(yield* Webhooks.deliverDue(), { delivered: 0, retrying: 0, failed: 0, skipped: 0 })
      }).pipe(Effect.provide(Local())))

    it.effect("retries a failing endpoint with growing waits under the clock, then delivers", () =>
      Effect.gen(function* () {
        const target = endpoint(500, 503)
        const created = yield* Webhooks.create(alice, { url: target.url })
        yield* eventFor(alice.did, 1)
        assert.strictEqual((yield* Webhooks.deliverDue()).retrying, 1)
        // The first wait is 5 to 10 seconds (10 s jittered down by up to half): not due after 4.
        yield* TestClock.adjust("4 seconds")
        assert.strictEqual((yield* Webhooks.deliverDue()).retrying, 0)
        yield* TestClock.adjust("6 seconds")
        assert.strictEqual((yield* Webhooks.deliverDue()).retrying, 1)
        // The second wait is 10 to 20 seconds.
        yield* TestClock.adjust("9 seconds")
        assert.strictEqual((yield* Webhooks.deliverDue()).delivered, 0)
        yield* TestClock.adjust("11 seconds")
        assert.strictEqual((yield* Webhooks.deliverDue()).delivered, 1)
        assert.strictEqual(target.calls().length, 3)
        // Newest first.
        assert.deepStrictEqual(yield* log(alice, created.webhook_id), [[3, "delivered", 200, null], [2, "retrying", 503, null], [1, "retrying", 500, null]])
      }).pipe(Effect.provide(Local())))

    it.effect("gives up after the attempt limit, and a timeout counts as a failed attempt", () =>
      Effect.gen(function* () {
        const target = endpoint(500, "hang", 500, 500)
        const created = yield* Webhooks.create(alice, { url: target.url })
        yield* eventFor(alice.did, 1)
        yield* Webhooks.deliverDue()
        yield* TestClock.adjust("10 seconds")
        const hanging = yield* Effect.fork(Webhooks.deliverDue())
        // Let the request reach the server, then pass the timeout.
        while (target.calls().length < 2) yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
        yield* TestClock.adjust(Webhooks.defaults.timeout)
        assert.strictEqual((yield* Fiber.join(hanging)).retrying, 1)
        yield* TestClock.adjust("20 seconds")
        assert.strictEqual((yield* Webhooks.deliverDue()).failed, 1)
        yield* TestClock.adjust("1 hour")
        assert.deepStrictEqual(yield* Webhooks.deliverDue(), { delivered: 0, retrying: 0, failed: 0, skipped: 0 })
        assert.strictEqual(target.calls().length, 3)
        assert.deepStrictEqual(yield* log(alice, created.webhook_id), [[3, "failed", 500, null], [2, "retrying", null, "timeout"], [1, "retrying", 500, null]])
      }).pipe(Effect.provide(Local({ maxAttempts: 3 }))))

    it.effect("gives up once the next attempt would fall after the retry window", () =>
      Effect.gen(function* () {
        const target = endpoint(500, 500)
        const created = yield* Webhooks.create(alice, { url: target.url })
        yield* eventFor(alice.did, 1)
        yield* Webhooks.deliverDue()
        yield* TestClock.adjust("10 seconds")
        yield* Webhooks.deliverDue()
        assert.deepStrictEqual(yield* log(alice, created.webhook_id), [[2, "failed", 500, null], [1, "retrying", 500, null]])
      }).pipe(Effect.provide(Local({ retryFor: Duration.seconds(15) }))))

    it.effect("does not follow a redirect: the attempt fails with its status", () =>
      Effect.gen(function* () {
        const elsewhere = endpoint()
        const target = endpoint({ redirect: elsewhere.url })
        const created = yield* Webhooks.create(alice, { url: target.url })
        yield* eventFor(alice.did, 1)
        assert.strictEqual((yield* Webhooks.deliverDue()).retrying, 1)
        assert.strictEqual(elsewhere.calls().length, 0)
        assert.deepStrictEqual(yield* log(alice, created.webhook_id), [[1, "retrying", 302, "redirect_not_followed"]])
      }).pipe(Effect.provide(Local())))

    it.effect("delivers only the types an endpoint asked for, and only the principal's own events", () =>
      Effect.gen(function* () {
        const target = endpoint()
        yield* Webhooks.create(alice, { url: target.url, event_types: ["bounty.posted"] })
        const all = endpoint()
        yield* Webhooks.create(alice, { url: all.url })
        yield* eventFor(alice.did, 1)
        yield* eventFor(bob.did, 2)
        yield* Webhooks.deliverDue()
        assert.strictEqual(target.calls().length, 0)
        assert.deepStrictEqual(all.calls().map((c) => JSON.parse(c.body).payload.dispute_id), ["dsp_1"])
      }).pipe(Effect.provide(Local())))

    it.effect("a deleted endpoint gets nothing more, and its log is gone with it", () =>
      Effect.gen(function* () {
        const target = endpoint()
        const created = yield* Webhooks.create(alice, { url: target.url })
        yield* eventFor(alice.did, 1)
        assert.deepStrictEqual(yield* Webhooks.remove(alice, created.webhook_id), { webhook_id: created.webhook_id, deleted: true })
        assert.deepStrictEqual(yield* Webhooks.deliverDue(), { delivered: 0, retrying: 0, failed: 0, skipped: 0 })
        yield* eventFor(alice.did, 2)
        yield* Webhooks.deliverDue()
        assert.strictEqual(target.calls().length, 0)
        assert.deepStrictEqual(yield* tableCounts, { endpoints: 0, deliveries: 0, attempts: 0 })
        assert.strictEqual(yield* codeOf(Webhooks.deliveries(alice, created.webhook_id)), "NotFound")
      }).pipe(Effect.provide(Local())))

    it.effect("the delivery log pages newest first with a cursor", () =>
      Effect.gen(function* () {
        const target = endpoint()
        const created = yield* Webhooks.create(alice, { url: target.url })
        const ids = [...yield* eventFor(alice.did, 1), ...yield* eventFor(alice.did, 2), ...yield* eventFor(alice.did, 3)]
        yield* Webhooks.deliverDue()
        const first = yield* Webhooks.deliveries(alice, created.webhook_id, { limit: 2 })
        assert.strictEqual(first.attempts.length, 2)
        assert.isNotNull(first.next_cursor)
        const second = yield* Webhooks.deliveries(alice, created.webhook_id, { limit: 2, cursor: first.next_cursor! })
        assert.strictEqual(second.next_cursor, null)
        assert.sameMembers([...first.attempts, ...second.attempts].map((a) => a.event_id), ids)
        assert.strictEqual(yield* codeOf(Webhooks.deliveries(alice, created.webhook_id, { cursor: "0x1" })), "InvalidRequest")
      }).pipe(Effect.provide(Local())))

    it.effect("replays the principal's events after a cursor, bounded, without doubling one still waiting", () =>
      Effect.gen(function* () {
        const target = endpoint()
        const created = yield* Webhooks.create(alice, { url: target.url })
        yield* eventFor(alice.did, 1)
        yield* eventFor(bob.did, 2)
        yield* eventFor(alice.did, 3)
        yield* eventFor(alice.did, 4)
        yield* Webhooks.deliverDue()
        assert.strictEqual(target.calls().length, 3)
        const page = yield* Webhooks.replay(alice, created.webhook_id, { limit: 2 })
        assert.strictEqual(page.enqueued, 2)
        assert.isNotNull(page.next_cursor)
        // Replaying the same events again adds nothing while they wait.
        assert.strictEqual((yield* Webhooks.replay(alice, created.webhook_id, { limit: 2 })).enqueued, 0)
        const rest = yield* Webhooks.replay(alice, created.webhook_id, { after: page.next_cursor! })
        assert.deepStrictEqual(rest, { enqueued: 1, next_cursor: null })
        yield* Webhooks.deliverDue()
        // Delivered side by side: in any order.
        const delivered = target.calls().map((c) => JSON.parse(c.body).payload.dispute_id as string)
        assert.deepStrictEqual([...delivered.slice(0, 3)].sort(), ["dsp_1", "dsp_3", "dsp_4"])
        assert.deepStrictEqual([...delivered.slice(3)].sort(), ["dsp_1", "dsp_3", "dsp_4"])
      }).pipe(Effect.provide(Local())))

    it.effect("events deleted past their retention take their deliveries and log with them", () =>
      Effect.gen(function* () {
        const created = yield* Webhooks.create(alice, { url: endpoint(500).url })
        yield* eventFor(alice.did, 1)
        yield* eventFor(alice.did, 2)
        yield* Webhooks.deliverDue()
        assert.deepStrictEqual(yield* tableCounts, { endpoints: 1, deliveries: 2, attempts: 2 })
        assert.strictEqual(yield* transaction(Outbox.purgeOlderThan(new Date(1000).toISOString(), 100)), 2)
        assert.deepStrictEqual(yield* tableCounts, { endpoints: 1, deliveries: 0, attempts: 0 })
        assert.deepStrictEqual(yield* log(alice, created.webhook_id), [])
      }).pipe(Effect.provide(Local())))

    it.effect("another principal's endpoint is not found, and nothing of it changes", () =>
      Effect.gen(function* () {
        const created = yield* Webhooks.create(alice, { url: endpoint().url })
        const before = yield* tableCounts
        assert.strictEqual(yield* codeOf(Webhooks.remove(bob, created.webhook_id)), "NotFound")
        assert.strictEqual(yield* codeOf(Webhooks.rotateSecret(bob, created.webhook_id)), "NotFound")
        assert.strictEqual(yield* codeOf(Webhooks.replay(bob, created.webhook_id)), "NotFound")
        assert.strictEqual(yield* codeOf(Webhooks.deliveries(bob, created.webhook_id)), "NotFound")
        assert.deepStrictEqual(yield* tableCounts, before)
        assert.strictEqual((yield* Webhooks.list(alice)).webhooks.length, 1)
      }).pipe(Effect.provide(Local())))

    it.effect("a rotated secret signs the next attempts; the old one no longer verifies", () =>
      Effect.gen(function* () {
        const target = endpoint()
        const created = yield* Webhooks.create(alice, { url: target.url })
        const rotated = yield* Webhooks.rotateSecret(alice, created.webhook_id)
        assert.notStrictEqual(rotated.secret, created.secret)
        yield* eventFor(alice.did, 1)
        yield* Webhooks.deliverDue()
        const [call] = target.calls()
        assert.isTrue(verify(rotated.secret, call!.headers, call!.body))
        assert.isFalse(verify(created.secret, call!.headers, call!.body))
      }).pipe(Effect.provide(Local())))

    it.effect("bounds the endpoints per principal with a typed error, writing nothing", () =>
      Effect.gen(function* () {
        yield* Webhooks.create(alice, { url: endpoint().url })
        yield* Webhooks.create(alice, { url: endpoint().url })
        assert.strictEqual(yield* codeOf(Webhooks.create(alice, { url: endpoint().url })), "WebhookLimitReached")
        assert.strictEqual((yield* tableCounts).endpoints, 2)
        // Another principal has its own allowance.
        yield* Webhooks.create(bob, { url: endpoint().url })
      }).pipe(Effect.provide(Local({ maxEndpoints: 2 }))))

    it.effect("refuses URLs it will not call, with the reason, and writes nothing", () =>
      Effect.gen(function* () {
        const refusal = (url: string) =>
          Effect.map(Effect.flip(Webhooks.create(alice, { url })), (error) => error._tag === "WebhookUrlRefused" ? error.reason : error._tag)
        assert.strictEqual(yield* refusal(`${base}/hook`), "scheme_not_allowed")
        assert.strictEqual(yield* refusal("https://127.0.0.1/hook"), "private_address")
        assert.strictEqual(yield* refusal("https://[::1]/hook"), "private_address")
        assert.strictEqual(yield* refusal("https://10.1.2.3/hook"), "private_address")
        assert.strictEqual(yield* refusal("https://169.254.169.254/latest/meta-data"), "private_address")
        assert.strictEqual(yield* refusal("https://[::ffff:127.0.0.1]/hook"), "private_address")
        assert.strictEqual(yield* refusal("https://[fd00::1]/hook"), "private_address")
        assert.strictEqual(yield* refusal("https://[64:ff9b::a00:1]/hook"), "private_address")
        assert.strictEqual(yield* refusal("https://0x7f000001/hook"), "private_address")
        assert.strictEqual(yield* refusal("https://localhost/hook"), "private_address")
        assert.strictEqual(yield* refusal("https://user:pass@hooks.example/hook"), "credentials_in_url")
        assert.strictEqual(yield* refusal("ftp://hooks.example/hook"), "invalid_url")
        assert.strictEqual(yield* refusal("/hook"), "invalid_url")
        assert.strictEqual(yield* refusal("https://no-such-host.invalid/hook"), "unresolvable")
        assert.strictEqual(yield* codeOf(Webhooks.create(alice, { url: "https://hooks.example", event_types: ["no.such"] as any })), "InvalidRequest")
        assert.strictEqual(yield* codeOf(Webhooks.create(alice, { url: "" })), "InvalidRequest")
        assert.deepStrictEqual(yield* tableCounts, { endpoints: 0, deliveries: 0, attempts: 0 })
      }).pipe(Effect.provide(engine(store(), Webhooks.layerWith()))))

    it.effect("checks the host's addresses again at each delivery: a name that now resolves to a private address is not called", () =>
      Effect.gen(function* () {
        // DNS is the outside world: a resolver that answers a public address, then a loopback one.
        const answers = yield* Ref.make<ReadonlyArray<WebhookTransport.Address>>([{ address: "93.184.215.14", family: 4 }])
        const posted = yield* Ref.make(0)
        const transport = Layer.succeed(WebhookTransport.WebhookTransport, {
          resolve: () => Ref.get(answers),
          post: () => Effect.as(Ref.update(posted, (n) => n + 1), { status: 200 })
        })
        const created = yield* Effect.provide(
          Webhooks.create(alice, { url: "https://hooks.example/in" }),
          Layer.merge(Layer.succeed(Webhooks.WebhookSettings, Webhooks.defaults), transport)
        )
        yield* eventFor(alice.did, 1)
        yield* Ref.set(answers, [{ address: "93.184.215.14", family: 4 }, { address: "127.0.0.1", family: 4 }])
        const report = yield* Effect.provide(Webhooks.deliverDue(), Layer.merge(Layer.succeed(Webhooks.WebhookSettings, Webhooks.defaults), transport))
        assert.strictEqual(report.retrying, 1)
        assert.strictEqual(yield* Ref.get(posted), 0)
        assert.deepStrictEqual(yield* log(alice, created.webhook_id), [[1, "retrying", null, "private_address"]])
      }).pipe(Effect.provide(Local())))

    if (postgres) {
      it.effect("two loops claiming at once never make the same attempt twice", () =>
        Effect.gen(function* () {
          const target = endpoint()
          const created = yield* Webhooks.create(alice, { url: target.url })
          const ids: Array<string> = []
          for (let n = 1; n <= 30; n++) ids.push(...yield* eventFor(alice.did, n))
          const [a, b] = yield* Effect.all([Webhooks.deliverDue(), Webhooks.deliverDue()], { concurrency: 2 })
          assert.strictEqual(a.delivered + b.delivered, 30)
          assert.strictEqual(a.skipped + b.skipped, 0)
          assert.sameMembers(target.calls().map((c) => String(c.headers["webhook-id"])), ids)
          const attempts = (yield* Webhooks.deliveries(alice, created.webhook_id, { limit: 200 })).attempts
          assert.strictEqual(attempts.length, 30)
          assert.isTrue(attempts.every((a) => a.attempt === 1))
        }).pipe(Effect.provide(Local())))
    }
  })
}
