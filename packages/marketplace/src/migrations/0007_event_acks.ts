/**
 * The event feed (ARCHITECTURE §5): each recipient acknowledges the events it has handled, and the
 * feed delivers the rest again. An acknowledgement belongs to one recipient's copy, so it lives on
 * `outbox_recipients`; the partial index keeps a poll for unacknowledged events from walking every
 * event the recipient ever acknowledged.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE outbox_recipients ADD COLUMN acked_at TEXT`
  yield* sql`CREATE INDEX outbox_recipients_unacked ON outbox_recipients (did, event_seq) WHERE acked_at IS NULL`
})
