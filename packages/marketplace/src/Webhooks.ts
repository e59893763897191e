/**
 * Webhooks: the push consumer of the outbox (ARCHITECTURE §5). A principal registers endpoints; each
 * event addressed to it (and matching an endpoint's filter) becomes a delivery in the same
 * transaction that writes the event (`WebhookQueue.enqueue`, called by `Outbox.append`); `deliverDue` POSTs due
 * deliveries, signed, and retries failures with backoff; every attempt is logged for the principal.
 *
 * Why deliveries are written with the event rather than found later by scanning the outbox: on
 * PostgreSQL `seq` is not commit order (see `Outbox`), so a worker moving a cursor over the outbox
 * would skip an event that committed late with a lower `seq`. Written in the event's transaction,
 * a delivery exists exactly when its event does.
 *
 * Claiming: a delivery is claimed by one UPDATE that takes the due rows (`FOR UPDATE SKIP LOCKED`
 * on PostgreSQL, so replicas never claim the same row), counts the attempt and leases the row for
 * the call's timeout and a margin. The outcome is recorded only if the row still holds that
 * attempt, so a late answer never overwrites a later attempt, and a deleted endpoint records nothing.
 * No network call happens inside a transaction.
 *
 * SSRF (fail-closed): https only, no credentials in the URL, and every address the host resolves to
 * must be public, checked at registration and again at each delivery (DNS may change between);
 * the transport connects to the checked address and follows no redirect. `allowPrivate` (local
 * development, tests) lifts the scheme and address rules only.
 */
import { SqlClient } from "@effect/sql"
import { ErrorCatalogue, Ids } from "@clawbounties/domain"
import { Clock, Config, Context, DateTime, Duration, Effect, Layer, Random, Schema } from "effect"
import { createHmac } from "node:crypto"
import { BlockList } from "node:net"
import type { Actor } from "./Actor.js"
import { nowIso, transaction } from "./Command.js"
import { Entropy } from "./Entropy.js"
import * as Events from "./Events.js"
import { pageSize, validate } from "./Requests.js"
import { pendingRow } from "./WebhookQueue.js"
import * as WebhookTransport from "./WebhookTransport.js"

// -------------------------------------------------------------------------------------------------
// Settings

export interface Settings {
  /** Allow `http` and private, loopback and link-local addresses (local development, tests). */
  readonly allowPrivate: boolean
  /** Endpoints one principal may register. */
  readonly maxEndpoints: number
  /** How long one delivery attempt may take. */
  readonly timeout: Duration.Duration
  /** Attempts before a delivery is given up (`failed`). */
  readonly maxAttempts: number
  /** How long after its event a delivery is retried at most, whatever its attempts. */
  readonly retryFor: Duration.Duration
}

export const defaults: Settings = {
  allowPrivate: false,
  maxEndpoints: 10,
  timeout: Duration.seconds(10),
  maxAttempts: 20,
  retryFor: Duration.hours(24)
}

export class WebhookSettings extends Context.Tag("@clawbounties/marketplace/Webhooks/WebhookSettings")<WebhookSettings, Settings>() {}

const integerBetween = (name: string, min: number, max: number, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: `${name} must be an integer between ${min} and ${max}`, validation: (n) => n >= min && n <= max }),
    Config.withDefault(fallback)
  )

const durationBetween = (name: string, min: Duration.Duration, max: Duration.Duration, fallback: Duration.Duration) =>
  Config.duration(name).pipe(
    Config.validate({
      message: `${name} must be between ${Duration.format(min)} and ${Duration.format(max)}`,
      validation: (d) => Duration.between(d, { minimum: min, maximum: max })
    }),
    Config.withDefault(fallback)
  )

/** Reads `WEBHOOK_ALLOW_PRIVATE`, `WEBHOOK_MAX_ENDPOINTS`, `WEBHOOK_TIMEOUT`, `WEBHOOK_MAX_ATTEMPTS`, `WEBHOOK_RETRY_FOR`. */
export const config: Config.Config<Settings> = Config.all({
  allowPrivate: Config.boolean("WEBHOOK_ALLOW_PRIVATE").pipe(Config.withDefault(defaults.allowPrivate)),
  maxEndpoints: integerBetween("WEBHOOK_MAX_ENDPOINTS", 1, 100, defaults.maxEndpoints),
  timeout: durationBetween("WEBHOOK_TIMEOUT", Duration.seconds(1), Duration.seconds(60), defaults.timeout),
  maxAttempts: integerBetween("WEBHOOK_MAX_ATTEMPTS", 1, 100, defaults.maxAttempts),
  retryFor: durationBetween("WEBHOOK_RETRY_FOR", Duration.minutes(1), Duration.days(7), defaults.retryFor)
})

/** Settings from `Config` and Node's transport: what the server runs. */
export const layerConfig = Layer.merge(Layer.effect(WebhookSettings, config), WebhookTransport.layer)

/** Fixed settings (tests, embedding) and Node's transport. */
export const layerWith = (settings: Partial<Settings> = {}) =>
  Layer.merge(Layer.succeed(WebhookSettings, { ...defaults, ...settings }), WebhookTransport.layer)

// -------------------------------------------------------------------------------------------------
// Which URLs and addresses may be called

/**
 * Addresses that are not the public internet: private, loopback, link-local, shared (CGNAT),
 * documentation, benchmarking, multicast and reserved ranges. An IPv4-mapped IPv6 address is judged
 * as its IPv4 address (`BlockList` applies the IPv4 rules to it); other IPv6 forms that embed an
 * IPv4 address (compatible, NAT64, 6to4, Teredo) are refused whole rather than unwrapped.
 */
const notPublic = (() => {
  const list = new BlockList()
  for (const [net, prefix] of [
    ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
    ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.88.99.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15],
    ["198.51.100.0", 24], ["203.0.113.0", 24], ["224.0.0.0", 4], ["240.0.0.0", 4]
  ] as const) list.addSubnet(net, prefix, "ipv4")
  for (const [net, prefix] of [
    ["::", 96], ["64:ff9b::", 96], ["64:ff9b:1::", 48], ["100::", 64], ["2001::", 23],
    ["2001:db8::", 32], ["2002::", 16], ["fc00::", 7], ["fe80::", 10], ["fec0::", 10], ["ff00::", 8]
  ] as const) list.addSubnet(net, prefix, "ipv6")
  return list
})()

/** Whether the server may call `address` (a resolved or literal IP). */
export const isPublicAddress = (address: WebhookTransport.Address): boolean =>
  !notPublic.check(address.address, address.family === 4 ? "ipv4" : "ipv6")

const refused = (reason: ErrorCatalogue.WebhookUrlRefused["reason"]) => new ErrorCatalogue.WebhookUrlRefused({ reason })

/** The URL's form: absolute http(s), https unless `allowPrivate`, no credentials. */
const parseUrl = (text: string, allowPrivate: boolean): Effect.Effect<URL, ErrorCatalogue.WebhookUrlRefused> => {
  if (!URL.canParse(text)) return Effect.fail(refused("invalid_url"))
  const url = new URL(text)
  if (url.protocol !== "https:" && url.protocol !== "http:") return Effect.fail(refused("invalid_url"))
  if (url.protocol === "http:" && !allowPrivate) return Effect.fail(refused("scheme_not_allowed"))
  if (url.username !== "" || url.password !== "") return Effect.fail(refused("credentials_in_url"))
  return Effect.succeed(url)
}

/**
 * Where `url` may be called now: its host's addresses, every one public (unless `allowPrivate`).
 * One address that is not public refuses the URL, even if others are: which one a connection would
 * use is not ours to choose.
 */
export const checkUrl = Effect.fnUntraced(function* (text: string) {
  const settings = yield* WebhookSettings
  const transport = yield* WebhookTransport.WebhookTransport
  const url = yield* parseUrl(text, settings.allowPrivate)
  const addresses = yield* transport.resolve(WebhookTransport.bareHost(url.hostname)).pipe(
    Effect.catchAll(() => Effect.fail(refused("unresolvable")))
  )
  if (addresses.length === 0) return yield* refused("unresolvable")
  if (!settings.allowPrivate && !addresses.every(isPublicAddress)) return yield* refused("private_address")
  return { url, address: addresses[0]! }
})

// -------------------------------------------------------------------------------------------------
// Wire schemas

const strict = { parseOptions: { onExcessProperty: "error" } } as const
const MAX_URL_LENGTH = 2048
const eventTypes = Events.catalogue.map((entry) => entry.type)
const EventType = Schema.Literal(...eventTypes)

export const CreateRequest = Schema.Struct({
  url: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(MAX_URL_LENGTH)),
  /** Only events of these types; every type when absent. */
  event_types: Schema.optional(Schema.Array(EventType).pipe(
    Schema.minItems(1),
    Schema.maxItems(eventTypes.length),
    Schema.filter((types) => new Set(types).size === types.length || "event types must not repeat")
  ))
}).annotations({ identifier: "CreateWebhookRequest", ...strict })
export type CreateRequest = typeof CreateRequest.Type

export const Webhook = Schema.Struct({
  webhook_id: Schema.String,
  url: Schema.String,
  /** The event types delivered; null for every type. */
  event_types: Schema.NullOr(Schema.Array(Schema.String)),
  created_at: Schema.String
}).annotations({ identifier: "Webhook" })
export type Webhook = typeof Webhook.Type

export const WebhookWithSecret = Schema.Struct({
  ...Webhook.fields,
  /** The signing secret: shown here once, never again (rotate it to get a new one). */
  secret: Schema.String
}).annotations({ identifier: "WebhookWithSecret" })
export type WebhookWithSecret = typeof WebhookWithSecret.Type

export const WebhookList = Schema.Struct({ webhooks: Schema.Array(Webhook) }).annotations({ identifier: "WebhookList" })

export const Deleted = Schema.Struct({ webhook_id: Schema.String, deleted: Schema.Literal(true) }).annotations({ identifier: "WebhookDeleted" })

export const Outcome = Schema.Literal("delivered", "retrying", "failed")

export const Attempt = Schema.Struct({
  event_id: Schema.String,
  /** The delivery's attempt number, from 1. */
  attempt: Schema.Int,
  outcome: Outcome,
  /** The endpoint's HTTP status; null when no answer came. */
  status_code: Schema.NullOr(Schema.Int),
  /** Why the attempt failed without an answer (`timeout`, `private_address`, `ECONNREFUSED`, ...) or was not a success (`redirect_not_followed`). */
  error: Schema.NullOr(Schema.String),
  duration_ms: Schema.Int,
  attempted_at: Schema.String,
  /** Pass as `cursor` for older attempts. */
  cursor: Schema.String
}).annotations({ identifier: "WebhookAttempt" })

export const DeliveryLog = Schema.Struct({
  attempts: Schema.Array(Attempt),
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  next_cursor: Schema.NullOr(Schema.String)
}).annotations({ identifier: "WebhookDeliveryLog" })
export type DeliveryLog = typeof DeliveryLog.Type

export const ReplayRequest = Schema.Struct({
  /** Events after this feed cursor (an event's `cursor` from GET /v1/events); from the oldest kept when absent. */
  after: Schema.optional(Schema.String.pipe(Schema.maxLength(40))),
  limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 500)))
}).annotations({ identifier: "ReplayWebhookRequest", ...strict })
export type ReplayRequest = typeof ReplayRequest.Type

export const ReplayResponse = Schema.Struct({
  /** Deliveries created (an event already waiting for delivery to this endpoint is not added twice). */
  enqueued: Schema.Int,
  /** Pass as `after` to replay the next events; null when none are left. */
  next_cursor: Schema.NullOr(Schema.String)
}).annotations({ identifier: "ReplayWebhookResponse" })
export type ReplayResponse = typeof ReplayResponse.Type

export const DEFAULT_LOG_PAGE = 50
export const MAX_LOG_PAGE = 200
export const DEFAULT_REPLAY = 100

/** A cursor: a sequence number in decimal, as this API returned it. */
const decodeCursor = (cursor: string | undefined, path: string): Effect.Effect<bigint | undefined, ErrorCatalogue.InvalidRequest> => {
  if (cursor === undefined) return Effect.succeed(undefined)
  if (/^[1-9][0-9]{0,18}$/.test(cursor) && BigInt(cursor) <= 2n ** 63n - 1n) return Effect.succeed(BigInt(cursor))
  return Effect.fail(new ErrorCatalogue.InvalidRequest({ message: `${path} is not one this API returned`, issues: [{ path, message: "invalid cursor" }] }))
}

// -------------------------------------------------------------------------------------------------
// Endpoints

type EndpointRow = {
  readonly webhook_id: string
  readonly principal: string
  readonly url: string
  readonly event_types: string | null
  readonly secret: string
  readonly created_at: string
}

const toWebhook = (row: EndpointRow): Webhook => ({
  webhook_id: row.webhook_id,
  url: row.url,
  event_types: row.event_types === null ? null : JSON.parse(row.event_types),
  created_at: row.created_at
})

/** A fresh signing secret from the OS's CSPRNG (`Entropy`), never from `Random`. */
const newSecret = Effect.map(Effect.flatMap(Entropy, (entropy) => entropy.bytes(32)), (bytes) => `whsec_${Buffer.from(bytes).toString("base64url")}`)

/** The caller's endpoint, or NOT_FOUND (another principal's endpoint is not found either). */
const ownEndpoint = (actor: Actor, webhookId: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<EndpointRow>`SELECT * FROM webhook_endpoints WHERE webhook_id = ${webhookId} AND principal = ${actor.did}`
    if (rows.length === 0) return yield* new ErrorCatalogue.NotFound({ entity: "webhook", id: webhookId })
    return rows[0]!
  })

const validateCreate = validate(CreateRequest)

/**
 * Registers an endpoint for the caller's events, its URL checked (and its host resolved) first.
 * Returns the signing secret, this once.
 */
export const create = Effect.fn("Webhooks.create")(function* (actor: Actor, input: CreateRequest) {
  const request = yield* validateCreate(input)
  const settings = yield* WebhookSettings
  // Outside the transaction: resolving the host is a network call.
  const { url } = yield* checkUrl(request.url)
  const ids = yield* Ids.IdGen
  const webhookId = yield* ids.make("webhook")
  const secret = yield* newSecret
  return yield* transaction(Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // Two registrations at once must not both pass the count: on PostgreSQL they queue on a lock
    // per principal (SQLite has one writer).
    yield* sql.onDialectOrElse({
      pg: () => sql`SELECT pg_advisory_xact_lock(hashtext(${`webhooks:${actor.did}`}))`,
      orElse: () => Effect.succeed([])
    })
    const count = yield* sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM webhook_endpoints WHERE principal = ${actor.did}`
    if (Number(count[0]!.n) >= settings.maxEndpoints) return yield* new ErrorCatalogue.WebhookLimitReached({ limit: settings.maxEndpoints })
    const row: EndpointRow = {
      webhook_id: webhookId,
      principal: actor.did,
      url: url.href,
      event_types: request.event_types === undefined ? null : JSON.stringify(request.event_types),
      secret,
      created_at: yield* nowIso
    }
    yield* sql`INSERT INTO webhook_endpoints ${sql.insert(row)}`
    return { ...toWebhook(row), secret } satisfies WebhookWithSecret
  }))
})

/** The caller's endpoints, oldest first (at most `maxEndpoints`), without their secrets. */
export const list = Effect.fn("Webhooks.list")(function* (actor: Actor) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<EndpointRow>`SELECT * FROM webhook_endpoints WHERE principal = ${actor.did} ORDER BY created_at, webhook_id`
  return { webhooks: rows.map(toWebhook) }
})

/** Deletes one of the caller's endpoints with its deliveries and their log: nothing more is sent. */
export const remove = Effect.fn("Webhooks.remove")(function* (actor: Actor, webhookId: string) {
  return yield* transaction(Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* ownEndpoint(actor, webhookId)
    yield* sql`DELETE FROM webhook_attempts WHERE webhook_id = ${webhookId}`
    yield* sql`DELETE FROM webhook_deliveries WHERE webhook_id = ${webhookId}`
    yield* sql`DELETE FROM webhook_endpoints WHERE webhook_id = ${webhookId}`
    return { webhook_id: webhookId, deleted: true as const }
  }))
})

/** Replaces an endpoint's signing secret (returned this once); the next attempts sign with it. */
export const rotateSecret = Effect.fn("Webhooks.rotateSecret")(function* (actor: Actor, webhookId: string) {
  const secret = yield* newSecret
  return yield* transaction(Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const row = yield* ownEndpoint(actor, webhookId)
    yield* sql`UPDATE webhook_endpoints SET secret = ${secret} WHERE webhook_id = ${webhookId}`
    return { ...toWebhook(row), secret } satisfies WebhookWithSecret
  }))
})

interface AttemptRow {
  readonly attempt_seq: string | number | bigint
  readonly event_id: string
  readonly attempt: number | string
  readonly outcome: typeof Outcome.Type
  readonly status_code: number | string | null
  readonly error: string | null
  readonly duration_ms: number | string
  readonly attempted_at: string
}

/** The endpoint's delivery log: every attempt, newest first, a page at a time. */
export const deliveries = Effect.fn("Webhooks.deliveries")(function* (actor: Actor, webhookId: string, input: { readonly cursor?: string | undefined; readonly limit?: number | undefined } = {}) {
  const before = yield* decodeCursor(input.cursor, "cursor")
  const limit = pageSize(input.limit, DEFAULT_LOG_PAGE, MAX_LOG_PAGE)
  const sql = yield* SqlClient.SqlClient
  yield* ownEndpoint(actor, webhookId)
  const older = before === undefined ? sql`` : sql`AND attempt_seq < ${before}`
  // One row past the page says whether another page exists.
  const rows = yield* sql<AttemptRow>`SELECT attempt_seq, event_id, attempt, outcome, status_code, error, duration_ms, attempted_at
    FROM webhook_attempts WHERE webhook_id = ${webhookId} ${older} ORDER BY attempt_seq DESC LIMIT ${limit + 1}`
  const attempts = rows.slice(0, limit).map((row) => ({
    event_id: row.event_id,
    attempt: Number(row.attempt),
    outcome: row.outcome,
    status_code: row.status_code === null ? null : Number(row.status_code),
    error: row.error,
    duration_ms: Number(row.duration_ms),
    attempted_at: row.attempted_at,
    cursor: String(row.attempt_seq)
  }))
  return { attempts, next_cursor: rows.length > limit ? attempts[attempts.length - 1]!.cursor : null } satisfies DeliveryLog
})

const validateReplay = validate(ReplayRequest)

/**
 * Delivers the caller's events after `after` again, oldest first, at most `limit` (those of the
 * endpoint's types; events still kept, see `EVENT_RETENTION`). An event already waiting for
 * delivery to this endpoint is not added twice.
 */
export const replay = Effect.fn("Webhooks.replay")(function* (actor: Actor, webhookId: string, input: ReplayRequest = {}) {
  const request = yield* validateReplay(input)
  const after = (yield* decodeCursor(request.after, "after")) ?? 0n
  const limit = request.limit ?? DEFAULT_REPLAY
  return yield* transaction(Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const endpoint = yield* ownEndpoint(actor, webhookId)
    const types: ReadonlyArray<string> | null = endpoint.event_types === null ? null : JSON.parse(endpoint.event_types)
    const ofTypes = types === null ? sql`` : sql`AND o.type IN ${sql.in(types)}`
    const events = yield* sql<{ seq: string | number | bigint }>`SELECT o.seq FROM outbox_recipients r JOIN outbox o ON o.seq = r.event_seq
      WHERE r.did = ${actor.did} AND r.event_seq > ${after} ${ofTypes} ORDER BY r.event_seq LIMIT ${limit}`
    if (events.length === 0) return { enqueued: 0, next_cursor: null } satisfies ReplayResponse
    const seqs = events.map((row) => row.seq)
    const waiting = yield* sql<{ event_seq: string | number | bigint }>`SELECT event_seq FROM webhook_deliveries
      WHERE webhook_id = ${webhookId} AND status = 'pending' AND ${sql.in("event_seq", seqs)}`
    const already = new Set(waiting.map((row) => String(row.event_seq)))
    const now = yield* nowIso
    const rows = seqs.filter((seq) => !already.has(String(seq))).map((seq) => pendingRow(webhookId, seq, now))
    if (rows.length > 0) yield* sql`INSERT INTO webhook_deliveries ${sql.insert(rows)}`
    return { enqueued: rows.length, next_cursor: events.length === limit ? String(seqs[seqs.length - 1]) : null } satisfies ReplayResponse
  }))
})

// -------------------------------------------------------------------------------------------------
// Deliveries

/** The first retry waits about this long; each later one twice the one before, up to {@link MAX_BACKOFF}. */
export const FIRST_BACKOFF = Duration.seconds(10)
export const MAX_BACKOFF = Duration.hours(1)
/** Deliveries in flight at once per `deliverDue` (each is claimed as it starts, so a lease never waits in a queue). */
export const CONCURRENCY = 4
/** Deliveries one `deliverDue` call makes at most; the next call goes on. */
export const MAX_PER_RUN = 200
/** What a claim adds to the timeout: a replica that died mid-attempt leaves the row to another after this. */
const LEASE_MARGIN = Duration.minutes(1)

/**
 * The wait before the attempt after failed attempt `attempt` (from 1): `FIRST_BACKOFF * 2^(attempt-1)`
 * capped at `MAX_BACKOFF`, then jittered down by up to half (from `Random`), so endpoints that fail
 * together do not all come back at once.
 */
export const backoff = (attempt: number) =>
  Effect.map(Random.next, (r) => {
    const full = Math.min(Duration.toMillis(FIRST_BACKOFF) * 2 ** Math.min(attempt - 1, 30), Duration.toMillis(MAX_BACKOFF))
    return Duration.millis(Math.round(full * (1 - r / 2)))
  })

/** The scheme documented in docs/webhooks.md: `v1=` and the hex HMAC-SHA256 of `${timestamp}.${body}` keyed with the secret. */
export const sign = (secret: string, timestamp: string, body: string): string =>
  `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`

interface Claimed {
  readonly delivery_seq: string | number | bigint
  readonly webhook_id: string
  readonly event_seq: string | number | bigint
  readonly attempts: number | string
  readonly created_at: string
}

/** Claims up to `limit` due deliveries, counting their attempt and leasing them (see the module's comment). */
const claim = (limit: number) =>
  transaction(Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const settings = yield* WebhookSettings
    const now = yield* DateTime.now
    const lease = DateTime.formatIso(DateTime.addDuration(now, Duration.sum(settings.timeout, LEASE_MARGIN)))
    const skipLocked = sql.onDialectOrElse({ pg: () => sql.literal("FOR UPDATE SKIP LOCKED"), orElse: () => sql.literal("") })
    return yield* sql<Claimed>`UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ${lease}
      WHERE delivery_seq IN (SELECT delivery_seq FROM webhook_deliveries
        WHERE status = 'pending' AND next_attempt_at <= ${DateTime.formatIso(now)}
        ORDER BY next_attempt_at LIMIT ${limit} ${skipLocked})
      RETURNING delivery_seq, webhook_id, event_seq, attempts, created_at`
  }))

interface Result {
  readonly statusCode: number | null
  readonly error: string | null
}

/** The body sent: the event as the feed shows it, without the feed's own fields. */
const bodyOf = (row: { event_id: string; type: string; subject_type: string; subject_id: string; payload: string; created_at: string }) =>
  `{"event_id":${JSON.stringify(row.event_id)},"type":${JSON.stringify(row.type)},"subject_type":${JSON.stringify(row.subject_type)},"subject_id":${JSON.stringify(row.subject_id)},"payload":${row.payload},"created_at":${JSON.stringify(row.created_at)}}`

/** One attempt's call: check the URL again, sign, POST within the timeout. Never fails: the result says how it went. */
const call = (endpoint: Pick<EndpointRow, "url" | "secret">, event: Parameters<typeof bodyOf>[0]) =>
  Effect.gen(function* () {
    const settings = yield* WebhookSettings
    const transport = yield* WebhookTransport.WebhookTransport
    const target = yield* Effect.either(checkUrl(endpoint.url))
    if (target._tag === "Left") return { statusCode: null, error: target.left.reason } satisfies Result
    const body = bodyOf(event)
    const timestamp = String(Math.floor((yield* Clock.currentTimeMillis) / 1000))
    const answer = yield* transport.post({
      url: target.right.url,
      address: target.right.address,
      headers: {
        "content-type": "application/json",
        "user-agent": "clawbounties-webhooks/1",
        "webhook-id": event.event_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": sign(endpoint.secret, timestamp, body)
      },
      body
    }).pipe(Effect.timeoutFail({ duration: settings.timeout, onTimeout: () => new WebhookTransport.WebhookTransportError({ reason: "network", detail: "timeout" }) }), Effect.either)
    if (answer._tag === "Left") return { statusCode: null, error: answer.left.detail } satisfies Result
    const status = answer.right.status
    const error = status >= 300 && status < 400 ? "redirect_not_followed" : null
    return { statusCode: status, error } satisfies Result
  })

type Done = "delivered" | "retrying" | "failed" | "skipped"

/** Makes one claimed attempt and records it, unless the delivery was deleted or claimed again meanwhile. */
const attempt = (claimed: Claimed) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const settings = yield* WebhookSettings
    const endpoints = yield* sql<Pick<EndpointRow, "url" | "secret">>`SELECT url, secret FROM webhook_endpoints WHERE webhook_id = ${claimed.webhook_id}`
    const events = yield* sql<Parameters<typeof bodyOf>[0]>`SELECT event_id, type, subject_type, subject_id, payload, created_at FROM outbox WHERE seq = ${claimed.event_seq}`
    // Deleted meanwhile (with its deliveries), or the event past its retention: nothing to send.
    if (endpoints.length === 0 || events.length === 0) return "skipped" as const
    const event = events[0]!
    const started = yield* Clock.currentTimeMillis
    const result = yield* call(endpoints[0]!, event)
    const now = yield* DateTime.now
    const number = Number(claimed.attempts)
    const success = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300
    const wait = yield* backoff(number)
    const next = DateTime.addDuration(now, wait)
    const giveUpAt = DateTime.addDuration(DateTime.unsafeMake(claimed.created_at), settings.retryFor)
    const outcome: Exclude<Done, "skipped"> = success
      ? "delivered"
      : number >= settings.maxAttempts || DateTime.greaterThan(next, giveUpAt)
      ? "failed"
      : "retrying"
    return yield* transaction(Effect.gen(function* () {
      const status = outcome === "retrying" ? "pending" : outcome
      // The attempt number fences a late answer: a row claimed again (or deleted) is not touched.
      const updated = yield* sql`UPDATE webhook_deliveries SET status = ${status}, next_attempt_at = ${DateTime.formatIso(next)}
        WHERE delivery_seq = ${claimed.delivery_seq} AND attempts = ${number} AND status = 'pending' RETURNING delivery_seq`
      if (updated.length === 0) return "skipped" as const
      yield* sql`INSERT INTO webhook_attempts ${sql.insert({
        webhook_id: claimed.webhook_id,
        delivery_seq: claimed.delivery_seq,
        event_id: event.event_id,
        attempt: number,
        outcome,
        status_code: result.statusCode,
        error: result.error,
        duration_ms: Math.max(0, Math.round(DateTime.toEpochMillis(now) - started)),
        attempted_at: DateTime.formatIso(now)
      })}`
      return outcome
    }))
  })

export interface DeliveryReport {
  readonly delivered: number
  readonly retrying: number
  readonly failed: number
  /** Claimed, but deleted or claimed again before its outcome was recorded. */
  readonly skipped: number
}

/**
 * Delivers what is due now, {@link CONCURRENCY} at a time, until nothing is due or
 * {@link MAX_PER_RUN} attempts were made. An embedder runs this on a schedule (the server does,
 * every `WEBHOOK_DELIVERY_INTERVAL`); replicas may run it at once.
 */
export const deliverDue = Effect.fn("Webhooks.deliverDue")(function* () {
  const report: Record<Done, number> = { delivered: 0, retrying: 0, failed: 0, skipped: 0 }
  let made = 0
  for (;;) {
    const claimed = yield* claim(Math.min(CONCURRENCY, MAX_PER_RUN - made))
    const done = yield* Effect.forEach(claimed, attempt, { concurrency: CONCURRENCY })
    for (const outcome of done) report[outcome]++
    made += claimed.length
    if (claimed.length < CONCURRENCY || made >= MAX_PER_RUN) break
  }
  if (made > 0) yield* Effect.logInfo("webhook deliveries", report)
  return report satisfies DeliveryReport
})

/** Every service the webhook commands need beyond the engine's. */
export type Services = WebhookSettings | WebhookTransport.WebhookTransport

