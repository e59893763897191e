/**
 * The `agent_pack` reference a submission carries (spec B2: bundle URL, bundle hash, manifest
 * path): it was verified and then dropped, so the requester reviewing an agent pack could not see
 * where to fetch it. Earlier submissions have none (NULL).
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE submissions ADD COLUMN agent_pack TEXT`
})
