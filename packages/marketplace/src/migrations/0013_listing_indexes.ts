/**
 * Indexes for the two operator listings that still read a whole table to return one page.
 *
 * - The dispute queue (open or resolved disputes, escalated first, then oldest first) read every
 *   dispute and sorted them; each page is now two index seeks, the escalated and the rest.
 * - Every bounty, in creation order (an operator's listing without a status), read and sorted the
 *   whole table. Rows are appended in creation order, so the index costs one page per COMMIT.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE INDEX disputes_queue ON disputes (status, escalated, created_at, dispute_id)`
  yield* sql`CREATE INDEX bounties_by_time ON bounties (created_at, bounty_id)`
})
