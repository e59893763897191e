/**
 * Migration 0008 gives every existing token the first token of its rotation line, so revocation by
 * line finds the live token of lines rotated before it ran.
 */
import { SqlClient } from "@effect/sql"
import * as Migrator from "@effect/sql/Migrator"
import { assert, it } from "@effect/vitest"
import * as SqliteClient from "@clawbounties/adapter-sqlite/SqliteClient"
import { Effect } from "effect"
import events from "../src/migrations/0001_events.js"
import identities from "../src/migrations/0002_identities.js"
import openChallenges from "../src/migrations/0008_open_challenges.js"
import tokenLineage from "../src/migrations/0009_token_lineage.js"

const migrate = (record: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>>) =>
  Migrator.make({})({ loader: Migrator.fromRecord(record), table: "marketplace_migrations" })

it.effect("0008 sets each token's line root: the first token no rotation issued, followed down replaced_by", () =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* migrate({ "0001_events": events, "0002_identities": identities })
    const token = (id: string, replacedBy: string | null) =>
      sql`INSERT INTO auth_tokens (token_id, token_hash, did, role, created_at, revoked_at, replaced_by)
        VALUES (${id}, ${`h_${id}`}, 'did:key:z', 'worker', '2026-01-01T00:00:00.000Z', ${replacedBy === null ? null : "2026-01-01T00:00:01.000Z"}, ${replacedBy})`
    // a -> b -> c (c live), and d alone.
    yield* token("tok_a", "tok_b")
    yield* token("tok_b", "tok_c")
    yield* token("tok_c", null)
    yield* token("tok_d", null)
    yield* migrate({ "0001_events": events, "0002_identities": identities, "0008_open_challenges": openChallenges, "0009_token_lineage": tokenLineage })
    const rows = yield* sql<{ token_id: string; root_token_id: string }>`SELECT token_id, root_token_id FROM auth_tokens ORDER BY token_id`
    assert.deepStrictEqual(rows.map((r) => [r.token_id, r.root_token_id]), [
      ["tok_a", "tok_a"], ["tok_b", "tok_a"], ["tok_c", "tok_a"], ["tok_d", "tok_d"]
    ])
  }).pipe(Effect.provide(SqliteClient.layer({ filename: ":memory:" })), Effect.orDie))
