/**
 * The pull feed of events (ARCHITECTURE §5): each principal reads the events addressed to it, oldest
 * first, and acknowledges the ones it has handled. An event stays in the feed until its recipient
 * acknowledges it, so a consumer that crashed, restarted or lost a page gets it again; `event_id`
 * lets it ignore a copy it already handled.
 *
 * Acknowledgement, not a cursor, is what makes delivery complete. On PostgreSQL an event's `seq` is
 * taken at insert, so a transaction that began earlier can commit a lower `seq` after a higher one
 * was read: a consumer that only moved a cursor forward would never see it. Unacknowledged, it is
 * simply in the next poll. The `cursor` pages within one poll; a consumer loop polls from the start
 * (no cursor), handles the page, acknowledges it, and polls again.
 *
 * A poll may wait (`waitSeconds`, up to {@link MAX_WAIT_SECONDS}) for an event when none is there
 * yet: a worker on its owner's machine, with no address to be called back on, then learns of its
 * job as soon as it commits, without asking every second. The waiting poll is woken by
 * `EventSignals` when a transaction with events for its principal commits, and reads once; it holds
 * no connection or lock in between. It also reads every `EventSignals.FALLBACK_POLL` (5 s), so an
 * event whose wake was lost is late, never lost.
 *
 * Worst case, then: an event is seen one read after its COMMIT when its wake arrives (plus one
 * NOTIFY round trip on another replica, with the PostgreSQL adapter's `EventRelay`), and within 5 s
 * when it does not. 10,000 waiting polls read 2,000 times a second, plus one read per wake.
 */
import { SqlClient } from "@effect/sql"
import { ErrorCatalogue, Ids } from "@clawbounties/domain"
import { Clock, Duration, Effect, Schema } from "effect"
import type { Actor } from "./Actor.js"
import { nowIso, transaction } from "./Command.js"
import * as Events from "./Events.js"
import { EventSignals, FALLBACK_POLL } from "./EventSignals.js"
import { pageSize, validate } from "./Requests.js"

export const DEFAULT_PAGE = 50
export const MAX_PAGE = 200
/** Event ids one acknowledgement may name: a page and then some. */
export const MAX_ACK = 500
/** The longest a poll may wait for an event: under the idle timeouts of common proxies (60 s). */
export const MAX_WAIT_SECONDS = 30

type Entry = (typeof Events.catalogue)[number]

/** An event of one type of the catalogue (`Events`) as the feed returns it. */
const eventOf = <E extends Entry>(entry: E) =>
  Schema.Struct({
    event_id: Schema.String,
    // Typed per member: inferred, the literals and the payload would widen to every type's.
    type: Schema.Literal<[E["type"]]>(entry.type),
    subject_type: Schema.Literal<[E["subject"]]>(entry.subject),
    subject_id: Schema.String,
    payload: entry.payload as E["payload"],
    created_at: Schema.String,
    /** Whether the caller acknowledged it (only acknowledged events asked for with `include_acked`). */
    acked: Schema.Boolean,
    /** Pass as `cursor` to read the events after this one. */
    cursor: Schema.String
  }).annotations({ identifier: `${Events.schemaName(entry.type)}Event` })

type Member<E> = E extends Entry ? ReturnType<typeof eventOf<E>> : never
type Members<C extends ReadonlyArray<Entry>> = { -readonly [K in keyof C]: Member<C[K]> }

/** An event: one of the catalogue's types (docs/events.md says when each is written), told apart by `type`. */
export const Event = Schema.Union(
  // One member per type (a plain `map` would type them all as one member of every type and payload).
  ...(Events.catalogue.map(eventOf) as unknown as Members<typeof Events.catalogue>)
).annotations({ identifier: "Event" })
export type Event = typeof Event.Type

export const PullResponse = Schema.Struct({
  events: Schema.Array(Event),
  /** Pass as `cursor` for the next page; null on the last page. */
  next_cursor: Schema.NullOr(Schema.String)
}).annotations({ identifier: "EventPage" })
export type PullResponse = typeof PullResponse.Type

export interface PullInput {
  /** Only events after this one (a `cursor` the feed returned). */
  readonly cursor?: string | undefined
  readonly limit?: number | undefined
  /** Acknowledged events too: a replay of the caller's whole history from `cursor`. */
  readonly includeAcked?: boolean | undefined
  /** When there is no event yet, wait up to this long for one (0 to {@link MAX_WAIT_SECONDS}). */
  readonly waitSeconds?: number | undefined
}

/** An event id as the feed returns it (a plain string to the caller, checked for its form). */
const isEventId = Schema.is(Ids.EventId)
const EventIdText = Schema.String.pipe(Schema.filter((id) => isEventId(id) || "an event id (evt_...)"))

export const AckRequest = Schema.Struct({
  event_ids: Schema.Array(EventIdText).pipe(Schema.minItems(1), Schema.maxItems(MAX_ACK))
}).annotations({ identifier: "AckEventsRequest", parseOptions: { onExcessProperty: "error" } })
export type AckRequest = typeof AckRequest.Type

export const AckResponse = Schema.Struct({
  /** Events this call acknowledged. */
  acked: Schema.Int,
  /** Events that were acknowledged before (acknowledging again changes nothing). */
  already_acked: Schema.Int
}).annotations({ identifier: "AckEventsResponse" })
export type AckResponse = typeof AckResponse.Type

/** A cursor is an event's `seq` in decimal: only one the feed could have returned is accepted. */
const decodeCursor = (cursor: string | undefined): Effect.Effect<bigint, ErrorCatalogue.InvalidRequest> => {
  if (cursor === undefined) return Effect.succeed(0n)
  if (/^[1-9][0-9]{0,18}$/.test(cursor) && BigInt(cursor) <= 2n ** 63n - 1n) return Effect.succeed(BigInt(cursor))
  return Effect.fail(new ErrorCatalogue.InvalidRequest({
    message: "cursor is not one this API returned",
    issues: [{ path: "cursor", message: "invalid cursor" }]
  }))
}

interface Row {
  readonly seq: string | number | bigint
  readonly event_id: string
  readonly type: string
  readonly subject_type: string
  readonly subject_id: string
  readonly payload: string
  readonly created_at: string
  readonly acked_at: string | null
}

/**
 * The caller's events after `cursor`, oldest first: unacknowledged ones unless `includeAcked`. With
 * `waitSeconds`, an empty page is read again when `EventSignals` wakes the poll (or after
 * `FALLBACK_POLL`) until an event is there or the wait is over (an embedder may interrupt the wait;
 * nothing is written).
 */
export const pull = Effect.fn("EventFeed.pull")(function* (actor: Actor, input: PullInput = {}) {
  const after = yield* decodeCursor(input.cursor)
  const limit = pageSize(input.limit, DEFAULT_PAGE, MAX_PAGE)
  const wait = input.waitSeconds
  if (wait !== undefined && !(Number.isInteger(wait) && wait >= 0 && wait <= MAX_WAIT_SECONDS)) {
    return yield* new ErrorCatalogue.InvalidRequest({
      message: `wait_seconds must be a whole number from 0 to ${MAX_WAIT_SECONDS}`,
      issues: [{ path: "wait_seconds", message: "out of range" }]
    })
  }
  const read = readPage(actor.did, after, limit, input.includeAcked === true)
  if (wait === undefined || wait === 0) return yield* read
  const until = (yield* Clock.currentTimeMillis) + wait * 1000
  return yield* Effect.scoped(Effect.gen(function* () {
    // Registered before the first read: an event committed after that read wakes this poll.
    const woken = yield* (yield* EventSignals).listen(actor.did)
    for (;;) {
      const page = yield* read
      const now = yield* Clock.currentTimeMillis
      if (page.events.length > 0 || now >= until) return page
      yield* Effect.timeoutOption(woken, Duration.min(FALLBACK_POLL, Duration.millis(until - now)))
    }
  }))
})

const decodeEvents = Schema.decodeUnknown(Schema.Array(Event))

const readPage = (did: string, after: bigint, limit: number, includeAcked: boolean) => Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const unackedOnly = includeAcked ? sql`` : sql`AND r.acked_at IS NULL`
  // One row past the page says whether another page exists.
  const rows = yield* sql<Row>`SELECT o.seq, o.event_id, o.type, o.subject_type, o.subject_id, o.payload, o.created_at, r.acked_at
    FROM outbox_recipients r JOIN outbox o ON o.seq = r.event_seq
    WHERE r.did = ${did} AND r.event_seq > ${after} ${unackedOnly}
    ORDER BY r.event_seq LIMIT ${limit + 1}`
  // Every stored event was written through the catalogue: one that does not decode is corrupt.
  const page = yield* Effect.orDie(decodeEvents(rows.slice(0, limit).map((row) => ({
    event_id: row.event_id,
    type: row.type,
    subject_type: row.subject_type,
    subject_id: row.subject_id,
    payload: JSON.parse(row.payload),
    created_at: row.created_at,
    acked: row.acked_at !== null,
    cursor: String(row.seq)
  }))))
  return { events: page, next_cursor: rows.length > limit ? page[page.length - 1]!.cursor : null } satisfies PullResponse
})

const validateAck = validate(AckRequest)

/**
 * Acknowledges events addressed to the caller; they leave its feed. Acknowledging again is a no-op,
 * so a retry needs no idempotency key. An id that is not one of the caller's events (unknown, or
 * another principal's) is NOT_FOUND, and then nothing is acknowledged.
 */
export const ack = Effect.fn("EventFeed.ack")(function* (actor: Actor, input: AckRequest) {
  const ids = [...new Set((yield* validateAck(input)).event_ids)]
  return yield* transaction(Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const mine = yield* sql<{ event_id: string; event_seq: string | number | bigint }>`SELECT o.event_id, r.event_seq
      FROM outbox o JOIN outbox_recipients r ON r.event_seq = o.seq AND r.did = ${actor.did}
      WHERE o.event_id IN ${sql.in(ids)}`
    if (mine.length < ids.length) {
      const found = new Set(mine.map((row) => row.event_id))
      return yield* new ErrorCatalogue.NotFound({ entity: "event", id: ids.find((id) => !found.has(id))! })
    }
    const now = yield* nowIso
    // `acked_at IS NULL` decides who acknowledged: of two concurrent calls, each event counts once.
    const acked = yield* sql`UPDATE outbox_recipients SET acked_at = ${now}
      WHERE did = ${actor.did} AND acked_at IS NULL AND event_seq IN ${sql.in(mine.map((row) => row.event_seq))}
      RETURNING event_seq`
    return { acked: acked.length, already_acked: ids.length - acked.length } satisfies AckResponse
  }))
})
