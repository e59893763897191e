/**
 * Fee postings by entry. A monthly statement sums, for each of its lines, what the entry paid into
 * other accounts' fee buckets: without an index each line read every posting (PostgreSQL) or built a
 * temporary index of them all (SQLite), so one statement cost time in proportion to the whole ledger
 * (29 ms at 600,000 postings on SQLite, 1 ms with it). Partial, to fee postings only: an index of
 * every posting by entry cost 6-10% of the ledger's write throughput (measured), this one nothing
 * outside fee movements. `bucket` leads: a partial index led by `entry_id` made SQLite stop building
 * the automatic index `reconcile` joins entries to postings with, and scan every posting per entry
 * instead (20 times slower at a thousand jobs, and quadratic). The same SQL serves both stores.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE INDEX ledger_fee_postings_by_entry ON ledger_postings (bucket, entry_id) WHERE bucket = 'F'`
})
