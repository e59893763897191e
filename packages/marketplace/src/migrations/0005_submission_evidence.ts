/**
 * The evidence each valid submission used, one row per piece: a proof bundle (by its payload hash)
 * and a run (by the hash of its first event, which commits to the run id, its time and its payload).
 * A piece backs one submission only: resubmitted on another bounty, or re-signed by another worker,
 * it would be paid twice for one run of work.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE submission_evidence (
    evidence_key TEXT PRIMARY KEY,
    submission_id TEXT NOT NULL,
    bounty_id TEXT NOT NULL,
    created_at TEXT NOT NULL
  )`
})
