/**
 * The outbox: every state change writes its events here in the same transaction as the change, so
 * consumers (feeds, webhooks) never see an event for a change that rolled back.
 *
 * `seq` orders events but is not a commit order on PostgreSQL: a sequence value is taken at insert,
 * so a transaction that began later can commit a higher `seq` first. That is why the feed
 * (`EventFeed`) delivers each event until its recipient acknowledges it, rather than after a cursor.
 * On SQLite, with one writer, `seq` is the commit order.
 *
 * Appending also announces the recipients to `EventSignals`, which wakes their waiting polls once the
 * transaction commits.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Ids } from "@clawbounties/domain"
import { DateTime, Effect } from "effect"
import type { NewEvent } from "./Events.js"
import { EventSignals } from "./EventSignals.js"
import * as Json from "./Json.js"
import * as WebhookQueue from "./WebhookQueue.js"

/** An event of the catalogue (`Events`): its type's subject and payload, and who may read it. */
export type { NewEvent }

export interface StoredEvent {
  readonly seq: bigint
  readonly event_id: string
  readonly type: string
  readonly subject_type: string
  readonly subject_id: string
  readonly payload: Record<string, unknown>
  readonly created_at: string
}

/**
 * Appends `events`, in order, with two statements whatever their number (the events, then their
 * recipients): a command that records three events saves four statements over one at a time.
 * Its recipients' waiting polls are woken once the transaction commits. Returns the events' ids.
 *
 * Typed by hand: the catalogue's payloads are the commands' responses, and those commands call
 * this, so an inferred type would be circular (and TypeScript would quietly make it `any`).
 */
export const append: (...events: ReadonlyArray<NewEvent>) => Effect.Effect<Array<string>, SqlError, SqlClient.SqlClient | Ids.IdGen | EventSignals> =
  Effect.fnUntraced(function* (...events: ReadonlyArray<NewEvent>) {
  if (events.length === 0) return []
  const sql = yield* SqlClient.SqlClient
  const ids = yield* Ids.IdGen
  const now = DateTime.formatIso(yield* DateTime.now)
  const eventIds: Array<string> = []
  for (let i = 0; i < events.length; i++) eventIds.push(yield* ids.make("event"))
  const rows = yield* sql<{ seq: string | number | bigint; event_id: string }>`INSERT INTO outbox ${sql.insert(events.map((event, i) => ({
    event_id: eventIds[i]!,
    type: event.type,
    subject_type: event.subjectType,
    subject_id: event.subjectId,
    payload: Json.canonical(event.payload),
    created_at: now
  })))} RETURNING seq, event_id`
  const seqOf = new Map(rows.map((row) => [row.event_id, row.seq]))
  const recipients = events.flatMap((event, i) =>
    [...new Set(event.recipients)].map((did) => ({ event_seq: seqOf.get(eventIds[i]!)!, did }))
  )
  if (recipients.length > 0) {
    yield* sql`INSERT INTO outbox_recipients ${sql.insert(recipients)}`
    yield* (yield* EventSignals).announce([...new Set(recipients.map((recipient) => recipient.did))])
  }
  // Webhook deliveries in the same transaction: they exist exactly when their events do.
  yield* WebhookQueue.enqueue(events.map((event, i) => ({ seq: seqOf.get(eventIds[i]!)!, type: event.type, recipients: event.recipients })))
  return eventIds
  })

/** Events about one subject, in order (for tests, audit views and the feed). */
export const forSubject = Effect.fnUntraced(function* (subjectId: string) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<Omit<StoredEvent, "payload" | "seq"> & { seq: unknown; payload: string }>`
    SELECT seq, event_id, type, subject_type, subject_id, payload, created_at
    FROM outbox WHERE subject_id = ${subjectId} ORDER BY seq`
  return rows.map((row): StoredEvent => ({ ...row, seq: BigInt(row.seq as string), payload: JSON.parse(row.payload) }))
})

/**
 * Deletes the oldest events created before `before`, at most `limit`, with their recipient rows and
 * webhook deliveries (and those deliveries' log).
 * Reads the oldest `limit` by `seq` and stops at the first one still within `before`: `seq` follows
 * creation time (up to the skew of transactions in flight together on PostgreSQL, which the next
 * sweep makes up), so no index on the time is needed. Returns how many were deleted.
 */
export const purgeOlderThan = Effect.fnUntraced(function* (before: string, limit: number) {
  const sql = yield* SqlClient.SqlClient
  const oldest = yield* sql<{ seq: string | number | bigint; created_at: string }>`SELECT seq, created_at FROM outbox ORDER BY seq LIMIT ${limit}`
  const end = oldest.findIndex((row) => row.created_at >= before)
  const seqs = (end === -1 ? oldest : oldest.slice(0, end)).map((row) => row.seq)
  if (seqs.length === 0) return 0
  yield* WebhookQueue.purgeEvents(seqs)
  yield* sql`DELETE FROM outbox_recipients WHERE ${sql.in("event_seq", seqs)}`
  yield* sql`DELETE FROM outbox WHERE ${sql.in("seq", seqs)}`
  return seqs.length
})
