/**
 * Resolved disputes, most recently resolved first: what an operator reviewing decisions reads. They
 * were listed in the open queue's order (escalated first, oldest first), so the newest decisions
 * were on the last page. Only resolved rows are in the index, and a page seeks to its cursor. The
 * status leads the key although every row has the same one: without it, SQLite's planner read
 * `disputes_queue` and sorted instead.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE INDEX disputes_resolved ON disputes (status, resolved_at, dispute_id) WHERE status = 'resolved'`
})
