/**
 * Webhooks: the push consumer of the outbox (ARCHITECTURE §5). A principal registers endpoints; each
 * event addressed to it (and matching an endpoint's filter) becomes a delivery in the same
 * transaction that writes the event (`WebhookQueue.enqueue`, called by `Outbox.append`);
 * `deliverDue` (`WebhookDelivery`) POSTs due deliveries, signed, and retries failures with backoff;
 * every attempt is logged for the principal. The URLs an endpoint may have are `WebhookUrls`'s
 * rules, its settings `WebhookSettings`.
 *
 * Why deliveries are written with the event rather than found later by scanning the outbox: on
 * PostgreSQL `seq` is not commit order (see `Outbox`), so a worker moving a cursor over the outbox
 * would skip an event that committed late with a lower `seq`. Written in the event's transaction,
 * a delivery exists exactly when its event does.
 */
import { SqlClient } from "@effect/sql"
import { ErrorCatalogue, Ids } from "@clawbounties/domain"
import { Effect, Schema } from "effect"
import type { Actor } from "./Actor.js"
import { nowIso, transaction } from "./Command.js"
import { Entropy } from "./Entropy.js"
import * as Events from "./Events.js"
import { pageSize, validate } from "./Requests.js"
import { pendingRow } from "./WebhookQueue.js"
import { WebhookSettings } from "./WebhookSettings.js"
import * as WebhookTransport from "./WebhookTransport.js"
import { checkUrl } from "./WebhookUrls.js"

export { backoff, CONCURRENCY, deliverDue, type DeliveryReport, FIRST_BACKOFF, MAX_BACKOFF, MAX_PER_RUN, sign } from "./WebhookDelivery.js"
export { config, defaults, layerConfig, layerWith, type Settings, WebhookSettings } from "./WebhookSettings.js"
export { checkUrl, isPublicAddress } from "./WebhookUrls.js"

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

/** Every service the webhook commands need beyond the engine's. */
export type Services = WebhookSettings | WebhookTransport.WebhookTransport
