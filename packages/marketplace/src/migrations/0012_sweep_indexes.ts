/**
 * Indexes for the sweeps (and one listing), whose cost must follow what is asked for, not how much
 * is stored.
 *
 * - The referencing side of two foreign keys whose parent rows the sweeps delete. Deleting a parent
 *   row checks that no row references it, and without an index on the referencing column that
 *   check read the whole referencing table once per deleted row: the retention sweep read all of
 *   `outbox_recipients` for each event it purged (and once more to delete its recipients), the
 *   challenge sweep all of `identities` for each expired challenge.
 * - The live bounties by deadline, the deadline sweep's query. It read every live bounty through
 *   `bounties_status` and sorted them; this reads only the due ones, in order. It replaces
 *   `bounties_deadline`, which held finished bounties too and which no query used.
 * - A worker's bounties, for the same reason outside the sweeps: a party listing its bounties in a
 *   status other than open read every bounty in that status.
 * - The audit log by time: the operator's newest audit rows were found by sorting the whole log.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE INDEX outbox_recipients_by_event ON outbox_recipients (event_seq)`
  yield* sql`CREATE INDEX identities_by_challenge ON identities (challenge_id)`
  yield* sql`CREATE INDEX bounties_due ON bounties (deadline_at, bounty_id) WHERE status IN ('open', 'accepted', 'pending_review')`
  yield* sql`DROP INDEX bounties_deadline`
  yield* sql`CREATE INDEX bounties_worker ON bounties (worker_did, created_at)`
  yield* sql`CREATE INDEX audit_log_by_time ON audit_log (created_at, audit_id)`
})
