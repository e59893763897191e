/**
 * The outbox's side of webhooks: deliveries are created with their events and purged with them. Kept
 * apart from `Webhooks` so that `Outbox`, which every command imports, does not import the event
 * catalogue's commands in a cycle.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { nowIso } from "./Command.js"

export const pendingRow = (webhookId: string, eventSeq: string | number | bigint, now: string) => ({
  webhook_id: webhookId,
  event_seq: eventSeq,
  status: "pending",
  attempts: 0,
  next_attempt_at: now,
  created_at: now
})

/**
 * Creates the deliveries of newly appended events: one per endpoint of each recipient whose filter
 * takes the event's type. Runs inside the appending command's transaction (`Outbox.append`).
 */
export const enqueue = Effect.fnUntraced(function* (events: ReadonlyArray<{ readonly seq: string | number | bigint; readonly type: string; readonly recipients: ReadonlyArray<string> }>) {
  const dids = [...new Set(events.flatMap((event) => event.recipients))]
  if (dids.length === 0) return
  const sql = yield* SqlClient.SqlClient
  const endpoints = yield* sql<{ readonly webhook_id: string; readonly principal: string; readonly event_types: string | null }>`SELECT webhook_id, principal, event_types
    FROM webhook_endpoints WHERE principal IN ${sql.in(dids)}`
  if (endpoints.length === 0) return
  const now = yield* nowIso
  const rows = events.flatMap((event) => {
    const recipients = new Set(event.recipients)
    return endpoints
      .filter((endpoint) => recipients.has(endpoint.principal) && (endpoint.event_types === null || (JSON.parse(endpoint.event_types) as Array<string>).includes(event.type)))
      .map((endpoint) => pendingRow(endpoint.webhook_id, event.seq, now))
  })
  if (rows.length > 0) yield* sql`INSERT INTO webhook_deliveries ${sql.insert(rows)}`
})

/** Deletes the deliveries and log of events being purged (`Outbox.purgeOlderThan`). */
export const purgeEvents = Effect.fnUntraced(function* (seqs: ReadonlyArray<string | number | bigint>) {
  const sql = yield* SqlClient.SqlClient
  const gone = yield* sql<{ delivery_seq: string | number | bigint }>`SELECT delivery_seq FROM webhook_deliveries WHERE ${sql.in("event_seq", seqs)}`
  if (gone.length === 0) return
  const deliverySeqs = gone.map((row) => row.delivery_seq)
  yield* sql`DELETE FROM webhook_attempts WHERE ${sql.in("delivery_seq", deliverySeqs)}`
  yield* sql`DELETE FROM webhook_deliveries WHERE ${sql.in("delivery_seq", deliverySeqs)}`
})
