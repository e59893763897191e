/**
 * Indexes of the open (unanswered) registration challenges, which `Identities.challenge` counts on
 * every request: per DID, and all of them by expiry. Partial, so answered challenges, which stay for
 * good (identities refer to them), are never walked.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE INDEX identity_challenges_open_by_did ON identity_challenges (did, expires_at) WHERE consumed_at IS NULL`
  yield* sql`CREATE INDEX identity_challenges_open ON identity_challenges (expires_at) WHERE consumed_at IS NULL`
})
