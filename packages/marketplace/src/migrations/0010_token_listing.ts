/**
 * Indexes for a DID's tokens as `Tokens.list` and registration read them: its live tokens per role,
 * and its tokens newest first. Rotations leave a revoked row each, so reading every row of a DID
 * to find these grew with its history.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE INDEX auth_tokens_live_by_did ON auth_tokens (did, role, created_at, token_id) WHERE revoked_at IS NULL`
  yield* sql`CREATE INDEX auth_tokens_by_did_created ON auth_tokens (did, created_at, token_id)`
})
