/**
 * Per-caller rate limits through the real server: a limiter made under `TestClock` (so refills
 * happen when the test moves the clock) serving a SQLite server on loopback, with requests from
 * 127.0.0.1 and 127.0.0.2 as two client addresses. The limiter runs before any database work, so
 * one store is enough here.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, TestClock } from "effect"
import * as http from "node:http"
import * as Config from "../src/Config.js"
import * as OpenApi from "../src/OpenApi.js"
import * as RateLimits from "../src/RateLimits.js"
import * as H from "./helpers.js"

interface Sent {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: any
}

/** A raw request, so the test picks the client's address and may send any X-Forwarded-For. */
const send = (
  url: string,
  method: string,
  path: string,
  options: { readonly body?: string; readonly token?: string; readonly from?: string; readonly forwardedFor?: string } = {}
) =>
  Effect.promise(() =>
    new Promise<Sent>((resolve, reject) => {
      const { hostname, port } = new URL(url)
      const headers: Record<string, string> = {}
      if (options.body !== undefined) headers["content-type"] = "application/json"
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
      if (options.forwardedFor !== undefined) headers["x-forwarded-for"] = options.forwardedFor
      const request = http.request({ hostname, port, method, path, headers, localAddress: options.from ?? "127.0.0.1", agent: false }, (response) => {
        const chunks: Array<Buffer> = []
        response.on("data", (chunk: Buffer) => chunks.push(chunk))
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          resolve({ status: response.statusCode!, headers: response.headers, body: text.length === 0 ? undefined : JSON.parse(text) })
        })
      })
      request.on("error", reject)
      request.end(options.body)
    })
  )

const dids = Array.from({ length: 50 }, (_, n) => H.signer(100 + n).did)
let challenges = 0
/** A registration challenge (201 whenever the limit lets it through), for DIDs in turn. */
const challenge = (url: string, options: { readonly from?: string; readonly forwardedFor?: string; readonly body?: string } = {}) =>
  send(url, "POST", "/v1/auth/challenge", { body: JSON.stringify({ did: dids[++challenges % dids.length], purpose: "register" }), ...options })

const verifyBody = JSON.stringify({ envelope: { envelope_version: "1" } })

/** A server whose limiter reads the test's clock; every class off unless `settings` sets it. */
const serve = (settings: Partial<RateLimits.Settings>) =>
  Effect.gen(function* () {
    const limiter = yield* RateLimits.make({ ...RateLimits.off, ...settings })
    const server = yield* Effect.acquireRelease(
      Effect.promise(() => H.startSqlite({ rateLimits: limiter })),
      (running) => Effect.promise(() => running.cleanup())
    )
    return { url: server.url, server, limiter, call: H.client(server.url) }
  })

const statuses = (replies: ReadonlyArray<Sent>) => replies.map((reply) => reply.status)

describe("rate limits", () => {
  it.scoped("the burst passes; the next request is 429 RATE_LIMITED with Retry-After, before its body is read, and writes nothing", () =>
    Effect.gen(function* () {
      const { server, url } = yield* serve({ anonymous: { perMinute: 6, burst: 3 } })
      const burst = yield* Effect.forEach([1, 2, 3], () => challenge(url))
      assert.deepStrictEqual(statuses(burst), [201, 201, 201])

      const before = yield* Effect.promise(() => H.snapshot(server))
      const refused = yield* challenge(url)
      assert.strictEqual(refused.status, 429)
      assert.strictEqual(refused.headers["retry-after"], "10")
      assert.deepStrictEqual(refused.body, {
        error: "RATE_LIMITED",
        message: "too many anonymous requests from this caller; retry after 10 seconds",
        details: { limit_class: "anonymous", retry_after_seconds: 10 }
      })
      // Not JSON at all, and still refused for its pace: the body was never looked at.
      const unread = yield* challenge(url, { body: "{not json" })
      assert.strictEqual(unread.status, 429)
      assert.strictEqual(yield* Effect.promise(() => H.snapshot(server)), before)
      // A large body left unread is discarded, and a keep-alive client's next request is served.
      const call = H.client(url)
      const large = yield* Effect.promise(() => call("POST", "/v1/auth/challenge", { raw: JSON.stringify({ did: dids[0], purpose: "register", pad: "x".repeat(200_000) }) }))
      assert.strictEqual(large.status, 429)
      assert.strictEqual((yield* Effect.promise(() => call("GET", "/health"))).status, 200)
    }))

  it.scoped("a bucket refills with the clock: one request per interval, and Retry-After counts down", () =>
    Effect.gen(function* () {
      const { url } = yield* serve({ anonymous: { perMinute: 6, burst: 1 } })
      assert.strictEqual((yield* challenge(url)).status, 201)
      assert.strictEqual((yield* challenge(url)).headers["retry-after"], "10")
      yield* TestClock.adjust("9 seconds")
      const early = yield* challenge(url)
      assert.strictEqual(early.status, 429)
      assert.strictEqual(early.headers["retry-after"], "1")
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(statuses([yield* challenge(url), yield* challenge(url)]), [201, 429])
      // A long quiet spell refills to the burst, not beyond it.
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(statuses([yield* challenge(url), yield* challenge(url)]), [201, 429])
    }))

  it.scoped("callers are independent: two addresses, and two DIDs from one address", () =>
    Effect.gen(function* () {
      const { url } = yield* serve({ anonymous: { perMinute: 1, burst: 1 } })
      assert.deepStrictEqual(statuses([yield* challenge(url), yield* challenge(url)]), [201, 429])
      assert.deepStrictEqual(statuses([yield* challenge(url, { from: "127.0.0.2" }), yield* challenge(url, { from: "127.0.0.2" })]), [201, 429])

      const { url: url2, call: call2 } = yield* serve({ expensive: { perMinute: 1, burst: 2 } })
      const a = yield* Effect.promise(() => H.registerWorker(call2, H.signer(1), 1))
      const b = yield* Effect.promise(() => H.registerWorker(call2, H.signer(2), 2))
      // A token's first request counts as its address; once it has authenticated, as its DID.
      for (const token of [a.token, b.token]) assert.strictEqual((yield* Effect.promise(() => call2("GET", "/v1/workers/self", { token }))).status, 200)
      const verify = (token: string) => send(url2, "POST", "/v1/verify", { token, body: verifyBody })
      assert.deepStrictEqual(statuses([yield* verify(a.token), yield* verify(a.token), yield* verify(a.token)]), [200, 200, 429])
      assert.deepStrictEqual(statuses([yield* verify(b.token), yield* verify(b.token), yield* verify(b.token)]), [200, 200, 429])
      // The address has spent nothing: a token not seen yet still passes.
      const c = yield* Effect.promise(() => H.registerWorker(call2, H.signer(3), 3))
      assert.strictEqual((yield* verify(c.token)).status, 200)
    }))

  it.scoped("the operator is not limited; a requester posting bounties is", () =>
    Effect.gen(function* () {
      const { url, call } = yield* serve({ expensive: { perMinute: 1, burst: 1 }, write: { perMinute: 1, burst: 1 } })
      const replies = yield* Effect.forEach(Array.from({ length: 10 }), () => send(url, "POST", "/v1/verify", { token: H.OPERATOR_TOKEN, body: verifyBody }))
      assert.deepStrictEqual(statuses(replies), Array(10).fill(200))

      const requester = H.signer(7)
      const token = yield* Effect.promise(() => H.registerRequester(call, requester))
      yield* Effect.promise(() => H.fund(call, requester.did, "100000", "fund-7"))
      assert.strictEqual((yield* Effect.promise(() => call("GET", "/v1/auth/tokens", { token }))).status, 200)
      const posts = yield* Effect.forEach([1, 2], () => Effect.promise(() => call("POST", "/v1/bounties", { token, body: H.researchBounty() })))
      assert.deepStrictEqual(posts.map((reply) => reply.status), [201, 429])
    }))

  it.scoped("a token not seen to authenticate counts as its address: a made-up one gets its 401, then 429", () =>
    Effect.gen(function* () {
      const { url } = yield* serve({ expensive: { perMinute: 1, burst: 1 } })
      const forged = `cbt_worker_${"A".repeat(43)}`
      assert.deepStrictEqual(statuses([yield* send(url, "POST", "/v1/verify", { token: forged, body: verifyBody }), yield* send(url, "POST", "/v1/verify", { token: `${forged.slice(0, -1)}B`, body: verifyBody })]), [401, 429])
    }))

  it.scoped("a full table: a new principal takes the least recently used bucket's place, a new address is refused with 503", () =>
    Effect.gen(function* () {
      const { url, call } = yield* serve({ expensive: { perMinute: 1, burst: 1 }, maxCallers: 1 })
      const a = yield* Effect.promise(() => H.registerWorker(call, H.signer(11), 11))
      const b = yield* Effect.promise(() => H.registerWorker(call, H.signer(12), 12))
      const verify = (token: string) => send(url, "POST", "/v1/verify", { token, body: verifyBody })
      const seen = (token: string) => Effect.promise(() => call("GET", "/v1/workers/self", { token }))
      yield* seen(a.token)
      assert.strictEqual((yield* verify(a.token)).status, 200)
      yield* seen(b.token)
      assert.deepStrictEqual(statuses([yield* verify(b.token), yield* verify(b.token)]), [200, 429])
      const stranger = yield* send(url, "POST", "/v1/verify", { token: `cbt_worker_${"C".repeat(43)}`, body: verifyBody })
      assert.strictEqual(stranger.status, 503)
      assert.strictEqual(stranger.body.error, "SERVICE_UNAVAILABLE")
    }))

  it.scoped("X-Forwarded-For is ignored unless TRUST_PROXY says how many proxies wrote it", () =>
    Effect.gen(function* () {
      const direct = yield* serve({ anonymous: { perMinute: 1, burst: 1 } })
      assert.strictEqual((yield* challenge(direct.url, { forwardedFor: "203.0.113.1" })).status, 201)
      assert.strictEqual((yield* challenge(direct.url, { forwardedFor: "203.0.113.2" })).status, 429)

      const proxied = yield* serve({ anonymous: { perMinute: 1, burst: 1 }, trustedProxies: 1 })
      assert.strictEqual((yield* challenge(proxied.url, { forwardedFor: "203.0.113.1" })).status, 201)
      assert.strictEqual((yield* challenge(proxied.url, { forwardedFor: "203.0.113.2" })).status, 201)
      // What the client wrote left of the proxy's entry changes nothing.
      assert.strictEqual((yield* challenge(proxied.url, { forwardedFor: "198.51.100.7, 203.0.113.1" })).status, 429)
      // IPv6 clients count by their /64.
      assert.strictEqual((yield* challenge(proxied.url, { forwardedFor: "2001:db8:1:2::1" })).status, 201)
      assert.strictEqual((yield* challenge(proxied.url, { forwardedFor: "2001:db8:1:2:ffff::9" })).status, 429)
    }))

  it.scoped("a class at 0 per minute is off, the others still on", () =>
    Effect.gen(function* () {
      const { url, limiter } = yield* serve({ anonymous: { perMinute: 0, burst: 1 }, expensive: { perMinute: 1, burst: 1 } })
      const replies = yield* Effect.forEach(Array.from({ length: 20 }), () => challenge(url))
      assert.deepStrictEqual(statuses(replies), Array(20).fill(201))
      assert.strictEqual(limiter.tracked(), 0)
      const verify = () => send(url, "POST", "/v1/verify", { token: H.OPERATOR_TOKEN.replace(/1$/, "2"), body: verifyBody })
      assert.deepStrictEqual(statuses([yield* verify(), yield* verify()]), [401, 429])
    }))

  it.scoped("memory stays bounded: past the cap a new address is refused with 503 until buckets refill, and refilled ones are dropped", () =>
    Effect.gen(function* () {
      const { url, limiter } = yield* serve({ anonymous: { perMinute: 60, burst: 1 }, trustedProxies: 1, maxCallers: 100 })
      const address = (n: number) => `198.51.${Math.floor(n / 250)}.${n % 250}`
      const first = yield* Effect.forEach(Array.from({ length: 150 }, (_, n) => n), (n) => challenge(url, { forwardedFor: address(n) }))
      assert.deepStrictEqual(statuses(first.slice(0, 100)), Array(100).fill(201))
      assert.deepStrictEqual(statuses(first.slice(100)), Array(50).fill(503))
      assert.strictEqual(first[100]!.body.error, "SERVICE_UNAVAILABLE")
      assert.strictEqual(first[100]!.headers["retry-after"], "1")
      assert.strictEqual(limiter.tracked(), 100)
      // An address already tracked is still limited as before, not refused for the cap.
      assert.strictEqual((yield* challenge(url, { forwardedFor: address(0) })).status, 429)

      yield* TestClock.adjust("1 second")
      const later = yield* Effect.forEach(Array.from({ length: 300 }, (_, n) => 1000 + n), (n) => challenge(url, { forwardedFor: address(n) }))
      assert.deepStrictEqual(statuses(later.slice(0, 100)), Array(100).fill(201))
      assert.isAtMost(limiter.tracked(), 100)
      // Once they have all refilled, a few more checks drop the idle buckets.
      yield* TestClock.adjust("1 minute")
      yield* Effect.forEach(Array.from({ length: 60 }), () => challenge(url, { forwardedFor: address(0) }))
      assert.isAtMost(limiter.tracked(), 1)
    }))

  it.scoped("the document lists 429 RATE_LIMITED with Retry-After on limited routes only", () =>
    Effect.gen(function* () {
      const { call } = yield* serve({})
      const doc = (yield* Effect.promise(() => call("GET", OpenApi.DOCUMENT_PATH))).body
      for (const [path, method] of [["/v1/verify/bundle", "post"], ["/v1/auth/challenge", "post"], ["/v1/bounties", "post"], ["/v1/bounties/{bounty_id}/submit", "post"]] as const) {
        const refused = H.documentedResponse(doc, doc.paths[path][method].responses["429"])
        assert.deepStrictEqual(refused["x-error-codes"], ["RATE_LIMITED"], path)
        assert.property(refused.headers, "Retry-After", path)
      }
      for (const [path, method] of [["/v1/bounties", "get"], ["/v1/operator/credits", "post"]] as const) {
        assert.notProperty(doc.paths[path][method].responses, "429", `${method} ${path}`)
      }
    }))
})

describe("settings", () => {
  const read = (env: Record<string, string>) =>
    Effect.exit(Effect.withConfigProvider(Config.config, ConfigProvider.fromMap(new Map(Object.entries(env)))))

  it.effect("default to RateLimits.defaults, read every class, and refuse bad values naming the setting", () =>
    Effect.gen(function* () {
      const unset = yield* read({})
      assert.deepStrictEqual(Exit.isSuccess(unset) ? unset.value.rateLimits : undefined, RateLimits.defaults)
      const set = yield* read({ RATE_LIMIT_EXPENSIVE_PER_MINUTE: "0", RATE_LIMIT_WRITE_BURST: "7", RATE_LIMIT_MAX_CALLERS: "100", TRUST_PROXY: "2" })
      assert.deepStrictEqual(Exit.isSuccess(set) ? set.value.rateLimits : undefined, {
        ...RateLimits.defaults,
        expensive: { ...RateLimits.defaults.expensive, perMinute: 0 },
        write: { ...RateLimits.defaults.write, burst: 7 },
        maxCallers: 100,
        trustedProxies: 2
      })
      for (const [name, value] of [
        ["RATE_LIMIT_EXPENSIVE_PER_MINUTE", "-1"], ["RATE_LIMIT_ANONYMOUS_BURST", "0"], ["RATE_LIMIT_WRITE_PER_MINUTE", "fast"],
        ["RATE_LIMIT_MAX_CALLERS", "10"], ["TRUST_PROXY", "true"], ["TRUST_PROXY", "11"]
      ] as const) {
        const exit = yield* read({ [name]: value })
        assert.isTrue(Exit.isFailure(exit), name)
        if (Exit.isFailure(exit)) assert.match(Config.configErrorsOf(exit.cause).join("\n"), new RegExp(name), name)
      }
    }))
})

describe("client addresses", () => {
  it("IPv4 as is, IPv4-mapped IPv6 unwrapped, IPv6 by its /64", () => {
    assert.strictEqual(RateLimits.addressKey("203.0.113.9"), "203.0.113.9")
    assert.strictEqual(RateLimits.addressKey("::ffff:203.0.113.9"), "203.0.113.9")
    assert.strictEqual(RateLimits.addressKey("2001:db8::1"), "2001:db8:0:0::/64")
    assert.strictEqual(RateLimits.addressKey("2001:0db8:0000:0000:ffff:0:0:1"), "2001:db8:0:0::/64")
    assert.strictEqual(RateLimits.addressKey("[2001:db8:a:b::1]:443"), "2001:db8:a:b::/64")
    assert.strictEqual(RateLimits.addressKey("::1"), "0:0:0:0::/64")
    assert.strictEqual(RateLimits.addressKey("203.0.113.9:5123"), "203.0.113.9")
  })

  it("the hop as many entries from the right as there are trusted proxies, else the socket's peer", () => {
    assert.strictEqual(RateLimits.clientAddress("10.0.0.1", "198.51.100.7, 203.0.113.1", 0), "10.0.0.1")
    assert.strictEqual(RateLimits.clientAddress("10.0.0.1", "198.51.100.7, 203.0.113.1", 1), "203.0.113.1")
    assert.strictEqual(RateLimits.clientAddress("10.0.0.1", "198.51.100.7, 203.0.113.1, 10.0.0.2", 2), "203.0.113.1")
    assert.strictEqual(RateLimits.clientAddress("10.0.0.1", null, 1), "10.0.0.1")
    assert.strictEqual(RateLimits.clientAddress(undefined, null, 0), "unknown")
  })
})
