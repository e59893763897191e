/**
 * Indexes on the referencing side of two foreign keys whose parent rows are deleted. Deleting a
 * parent row checks that no row references it; without an index on the referencing column that
 * check reads the whole referencing table, once per deleted row. The retention sweep deletes
 * outbox events in batches of hundreds (each batch read all of `outbox_recipients` twice over per
 * event: once to delete the recipients, once to check the event), and the challenge sweep deletes
 * expired challenges (each read all of `identities`).
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE INDEX outbox_recipients_by_event ON outbox_recipients (event_seq)`
  yield* sql`CREATE INDEX identities_by_challenge ON identities (challenge_id)`
})
