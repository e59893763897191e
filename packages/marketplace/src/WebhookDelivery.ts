/**
 * Webhook deliveries: `deliverDue` POSTs the due ones, signed, and retries failures with backoff;
 * every attempt is logged for the endpoint's principal.
 *
 * Claiming: a delivery is claimed by one UPDATE that takes the due rows (`FOR UPDATE SKIP LOCKED`
 * on PostgreSQL, so replicas never claim the same row), counts the attempt and leases the row for
 * the call's timeout and a margin. The outcome is recorded only if the row still holds that
 * attempt, so a late answer never overwrites a later attempt, and a deleted endpoint records nothing.
 * No network call happens inside a transaction.
 */
import { SqlClient } from "@effect/sql"
import { Clock, DateTime, Duration, Effect, Random } from "effect"
import { createHmac } from "node:crypto"
import { transaction } from "./Command.js"
import { WebhookSettings } from "./WebhookSettings.js"
import * as WebhookTransport from "./WebhookTransport.js"
import { checkUrl } from "./WebhookUrls.js"

/** Where a delivery goes, and the secret it is signed with. */
interface Endpoint {
  readonly url: string
  readonly secret: string
}

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
const call = (endpoint: Endpoint, event: Parameters<typeof bodyOf>[0]) =>
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
    const endpoints = yield* sql<Endpoint>`SELECT url, secret FROM webhook_endpoints WHERE webhook_id = ${claimed.webhook_id}`
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
