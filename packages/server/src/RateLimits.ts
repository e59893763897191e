/**
 * Per-caller rate limits: a token bucket per (class of route, caller), checked before a request's
 * body is read and before any database work, so a refused request costs a few map operations.
 *
 * - Classes: `expensive` (verification, and submission, which verifies its proof bundle on the
 *   request path), `anonymous` (public writes: challenges and registration), `write` (every other
 *   POST or PATCH). Reads are not limited. Each class has a rate per minute and a burst; a rate of
 *   0 turns the class off.
 * - Caller: the principal a request's bearer token authenticated as, once a request with that
 *   token has authenticated ({@link RateLimits.recognise}: learning it needs the database, which the
 *   check must not touch); until then, and on public routes, the client's address. The operator is
 *   exempt: its token is the deployment's own credential, its tools (credits, disputes, the sweep,
 *   reconciliation) are what an incident calls for, and whoever holds it can do worse than flood.
 * - Address: the socket's peer; behind `trustedProxies` proxies, the address the outermost of them
 *   saw (the X-Forwarded-For entry that many hops from the right). Entries further left are
 *   whatever the client wrote, and taking them would let it choose its own bucket. IPv6 addresses
 *   count by their /64, the block one subscriber is usually given.
 * - Time comes from the `Clock` the limiter was made under; there is no timer: a bucket's level is
 *   computed from its last update when it is next touched.
 * - Memory: a bucket that has refilled completely says nothing a fresh one would not, and is dropped
 *   as the least recently used buckets are looked at on each check. Each class holds at most
 *   `maxCallers` buckets; what happens when one is full is said at `admit`.
 *
 * Limits are per server process: replicas each count on their own (a limit shared across replicas
 * belongs in the proxy in front of them).
 */
import { ErrorCatalogue } from "@clawbounties/domain"
import type { Tokens } from "@clawbounties/marketplace"
import { type Clock, Effect } from "effect"
import { createHash } from "node:crypto"
import type { IncomingMessage } from "node:http"
import { isIPv4, isIPv6 } from "node:net"
import * as Http from "./Http.js"
import type { Route } from "./Route.js"

export type Class = "expensive" | "anonymous" | "write"

export interface Limit {
  /** Requests a caller may make per minute in the long run; 0 turns the class off. */
  readonly perMinute: number
  /** Requests a caller may make at once after a quiet spell. */
  readonly burst: number
}

export interface Settings {
  readonly expensive: Limit
  readonly anonymous: Limit
  readonly write: Limit
  /** Buckets each class holds at most (and tokens recognised): bounds the memory. */
  readonly maxCallers: number
  /** Proxies in front of the server whose X-Forwarded-For entries are trusted; 0 trusts none. */
  readonly trustedProxies: number
}

/**
 * Defaults for a public deployment. Verifying a 1 MB bundle holds the event loop about 130 ms, so
 * a caller at the expensive rate takes about a tenth of it at most. The others let a client
 * register dozens of identities or post and review in bursts (the simulator's default run from
 * one address fits) while stopping a flood.
 */
export const defaults: Settings = {
  expensive: { perMinute: 60, burst: 20 },
  anonymous: { perMinute: 60, burst: 60 },
  write: { perMinute: 600, burst: 120 },
  maxCallers: 50_000,
  trustedProxies: 0
}

/** No limits at all: for embedding behind a limiter of one's own, and tests of other things. */
export const off: Settings = {
  ...defaults,
  expensive: { perMinute: 0, burst: 1 },
  anonymous: { perMinute: 0, burst: 1 },
  write: { perMinute: 0, burst: 1 }
}

/** Routes that do costly work on the request path, named by operation. */
const EXPENSIVE_OPERATIONS = new Set(["verifyEnvelope", "verifyProofBundle", "verifyCommitProof", "submitWork"])

/** The class a route counts in; undefined for routes that are not limited (reads, the operator's own). */
export const classOf = (route: Pick<Route, "operationId" | "method" | "auth">): Class | undefined => {
  if (EXPENSIVE_OPERATIONS.has(route.operationId)) return "expensive"
  if (route.method === "GET") return undefined
  if (route.auth === "public") return "anonymous"
  return route.auth.every((role) => role === "operator") ? undefined : "write"
}

// -------------------------------------------------------------------------------------------------
// Addresses

/** The eight groups of an IPv6 address (an IPv4 tail counts as two). */
const ipv6Groups = (address: string): ReadonlyArray<string> => {
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address)
  const text = v4 === null
    ? address
    : address.slice(0, v4.index) + [[v4[1], v4[2]], [v4[3], v4[4]]].map(([hi, lo]) => ((Number(hi) << 8) | Number(lo)).toString(16)).join(":")
  const [head = "", tail] = text.split("::")
  const left = head === "" ? [] : head.split(":")
  const right = tail === undefined || tail === "" ? [] : tail.split(":")
  const gap = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill("0")
  return [...left, ...gap, ...right].map((group) => parseInt(group, 16).toString(16))
}

/**
 * The caller an address stands for: IPv4 as is (IPv4-mapped IPv6 unwrapped), IPv6 by its /64, and
 * anything else (a proxy's odd entry) as sent, clipped.
 */
export const addressKey = (raw: string): string => {
  const text = raw.trim().replace(/^\[([^\]]*)\](:\d+)?$/, "$1").replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, "$1").replace(/%.*$/, "")
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text)
  if (mapped !== null) return mapped[1]!
  if (isIPv4(text)) return text
  if (isIPv6(text)) return `${ipv6Groups(text).slice(0, 4).join(":")}::/64`
  return text.slice(0, 64)
}

/** The client's address: the socket's peer, or behind `trustedProxies` proxies the one the outermost saw. */
export const clientAddress = (peer: string | undefined, forwardedFor: string | null, trustedProxies: number): string => {
  const socket = peer ?? "unknown"
  if (trustedProxies === 0 || forwardedFor === null) return addressKey(socket)
  // Each proxy appends the address it received the request from; the socket's peer is the last proxy.
  const hops = forwardedFor.split(",").map((hop) => hop.trim()).filter((hop) => hop.length > 0)
  const hop = hops[Math.max(hops.length - trustedProxies, 0)]
  return addressKey(hop ?? socket)
}

// -------------------------------------------------------------------------------------------------
// Buckets

/**
 * What is left in a bucket as of `at` (milliseconds), in 1/60000ths of a request: a minute refills
 * `perMinute` requests, so each millisecond adds `perMinute` units and the arithmetic stays in
 * integers (a client that waits exactly `Retry-After` is not refused over a rounding error).
 */
interface Bucket {
  units: number
  at: number
}

const UNITS_PER_REQUEST = 60_000

type Decision =
  | { readonly _tag: "Admitted" }
  | { readonly _tag: "Limited"; readonly retryAfterSeconds: number }
  | { readonly _tag: "Full"; readonly retryAfterSeconds: number }

const admitted: Decision = { _tag: "Admitted" }

/** Buckets looked at from the least recently used end: on every check, and when a class is full. */
const SWEEP_EACH_CHECK = 2
const SWEEP_WHEN_FULL = 16

/** One class's buckets, least recently used first (a touched bucket moves to the end). */
const table = (limit: Limit, maxCallers: number) => {
  const buckets = new Map<string, Bucket>()
  const capacity = limit.burst * UNITS_PER_REQUEST
  const level = (bucket: Bucket, now: number) => Math.min(capacity, bucket.units + Math.max(0, now - bucket.at) * limit.perMinute)
  /** Whole seconds until a bucket at `units` holds `wanted`. */
  const secondsUntil = (units: number, wanted: number) => Math.max(1, Math.ceil((wanted - units) / (limit.perMinute * 1000)))

  const dropRefilled = (now: number, count: number) => {
    let looked = 0
    for (const [key, bucket] of buckets) {
      if (looked++ >= count) break
      if (level(bucket, now) >= capacity) buckets.delete(key)
    }
  }

  /**
   * Takes one request from `caller`'s bucket. When the class already holds `maxCallers` buckets that
   * have not refilled, a new caller that is a principal takes the least recently used one's place
   * (that caller at worst starts again with a full bucket; principals are few, as each had to
   * register through the anonymous limits), while a new address is refused with 503: addresses cost
   * an attacker nothing to vary (IPv6 blocks, botnets), so letting them evict would let such a
   * flood reset its own buckets and push registered callers' out.
   */
  const admit = (caller: string, kind: "principal" | "address", now: number): Decision => {
    dropRefilled(now, SWEEP_EACH_CHECK)
    let bucket = buckets.get(caller)
    if (bucket === undefined) {
      if (buckets.size >= maxCallers) dropRefilled(now, SWEEP_WHEN_FULL)
      if (buckets.size >= maxCallers) {
        const [oldestKey, oldest] = buckets.entries().next().value!
        if (kind === "address") return { _tag: "Full", retryAfterSeconds: secondsUntil(level(oldest, now), capacity) }
        buckets.delete(oldestKey)
      }
      bucket = { units: capacity, at: now }
    } else {
      buckets.delete(caller)
    }
    bucket.units = level(bucket, now)
    bucket.at = now
    buckets.set(caller, bucket)
    if (bucket.units >= UNITS_PER_REQUEST) {
      bucket.units -= UNITS_PER_REQUEST
      return admitted
    }
    return { _tag: "Limited", retryAfterSeconds: secondsUntil(bucket.units, UNITS_PER_REQUEST) }
  }

  return { admit, size: () => buckets.size }
}

// -------------------------------------------------------------------------------------------------
// The limiter

export interface RateLimits {
  /**
   * The answer refusing this request (429 `RATE_LIMITED`, or 503 when the class is full of other
   * callers), with `Retry-After`; undefined to serve it. Call before reading the body.
   */
  readonly refusal: (route: Route, request: Request, incoming: IncomingMessage | undefined) => Response | undefined
  /** Notes that requests with this `Authorization` header authenticate as `principal`. */
  readonly recognise: (authorization: string, principal: Tokens.Principal) => void
  /** Buckets held across the classes (for monitoring and tests). */
  readonly tracked: () => number
}

/** Held as a digest: a long-lived map of raw tokens would be one more place a token could leak from. */
const digest = (authorization: string) => createHash("sha256").update(authorization).digest("base64url")

/** A limiter reading time from the current `Clock` (tests make one under `TestClock`). */
export const make = (settings: Settings): Effect.Effect<RateLimits> =>
  Effect.map(Effect.clock, (clock: Clock.Clock) => {
    const tables: Partial<Record<Class, ReturnType<typeof table>>> = {}
    for (const name of ["expensive", "anonymous", "write"] as const) {
      if (settings[name].perMinute > 0) tables[name] = table(settings[name], settings.maxCallers)
    }
    // Least recently used first, as the buckets; a token forgotten only counts as its address again.
    const principals = new Map<string, Tokens.Principal>()

    const refusal = (route: Route, request: Request, incoming: IncomingMessage | undefined): Response | undefined => {
      const name = classOf(route)
      const limits = name === undefined ? undefined : tables[name]
      if (name === undefined || limits === undefined) return undefined
      const authorization = route.auth === "public" ? null : request.headers.get("authorization")
      const key = authorization === null ? undefined : digest(authorization)
      const principal = key === undefined ? undefined : principals.get(key)
      if (principal?.role === "operator") return undefined
      const decision = principal === undefined
        ? limits.admit(`address ${clientAddress(incoming?.socket.remoteAddress, request.headers.get("x-forwarded-for"), settings.trustedProxies)}`, "address", clock.unsafeCurrentTimeMillis())
        : limits.admit(`principal ${principal.did}`, "principal", clock.unsafeCurrentTimeMillis())
      // The body is left unread: Node discards it after the answer and the connection stays usable.
      switch (decision._tag) {
        case "Admitted":
          return undefined
        case "Limited":
          return Http.errorResponse(
            new ErrorCatalogue.RateLimited({ limit_class: name, retry_after_seconds: decision.retryAfterSeconds }),
            { "retry-after": String(decision.retryAfterSeconds) }
          )
        case "Full":
          return Http.errorResponse(
            new ErrorCatalogue.ServiceUnavailable({ reason: "the server is tracking too many callers to take a new one; retry later" }),
            { "retry-after": String(decision.retryAfterSeconds) }
          )
      }
    }

    const recognise = (authorization: string, principal: Tokens.Principal) => {
      if (Object.keys(tables).length === 0) return
      const key = digest(authorization)
      principals.delete(key)
      principals.set(key, principal)
      if (principals.size > settings.maxCallers) principals.delete(principals.keys().next().value!)
    }

    const tracked = () => Object.values(tables).reduce((sum, t) => sum + t.size(), 0)

    return { refusal, recognise, tracked }
  })
