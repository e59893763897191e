/**
 * Each token records the first token of its rotation line (`root_token_id`: its own id when issued
 * by a registration, its predecessor's root when issued by a rotation). Revoking any token of a line
 * revokes the line's live token, found by this index, instead of walking `replaced_by` one row at
 * a time: rotations are cheap, so a line can be made long enough for that walk to take seconds.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE auth_tokens ADD COLUMN root_token_id TEXT`
  // From every token no rotation issued, down its line (UNION, not UNION ALL: a corrupt cycle ends).
  yield* sql`WITH RECURSIVE line (token_id, root) AS (
      SELECT token_id, token_id FROM auth_tokens t
      WHERE NOT EXISTS (SELECT 1 FROM auth_tokens p WHERE p.replaced_by = t.token_id)
      UNION
      SELECT c.replaced_by, line.root FROM line JOIN auth_tokens c ON c.token_id = line.token_id WHERE c.replaced_by IS NOT NULL
    )
    UPDATE auth_tokens SET root_token_id = (SELECT MIN(line.root) FROM line WHERE line.token_id = auth_tokens.token_id)`
  yield* sql`UPDATE auth_tokens SET root_token_id = token_id WHERE root_token_id IS NULL`
  yield* sql`CREATE INDEX auth_tokens_live_by_root ON auth_tokens (root_token_id) WHERE revoked_at IS NULL`
})
