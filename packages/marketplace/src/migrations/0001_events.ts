/** The outbox, its recipients, the audit log and command-level idempotency. */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  // Dialect difference: an auto-incrementing sequence column.
  const seq = sql.onDialectOrElse({
    pg: () => "BIGSERIAL PRIMARY KEY",
    orElse: () => "INTEGER PRIMARY KEY AUTOINCREMENT"
  })
  yield* sql.unsafe(`CREATE TABLE outbox (
    seq ${seq},
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL
  )`)
  yield* sql`CREATE INDEX outbox_subject ON outbox (subject_id)`
  yield* sql`CREATE TABLE outbox_recipients (
    event_seq BIGINT NOT NULL REFERENCES outbox (seq),
    did TEXT NOT NULL,
    PRIMARY KEY (did, event_seq)
  )`
  yield* sql`CREATE TABLE audit_log (
    audit_id TEXT PRIMARY KEY,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    before_state TEXT,
    after_state TEXT,
    created_at TEXT NOT NULL
  )`
  yield* sql`CREATE INDEX audit_log_entity ON audit_log (entity_id)`
  yield* sql`CREATE TABLE command_idempotency (
    principal TEXT NOT NULL,
    command TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (principal, command, idempotency_key)
  )`
})
