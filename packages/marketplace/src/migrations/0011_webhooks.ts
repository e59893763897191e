/**
 * Webhooks (ARCHITECTURE §5): endpoints per principal, one delivery per (endpoint, event) to send,
 * and the log of every attempt. Deliveries and attempts are numbered by a sequence so a page of the
 * log needs no id service and the due index stays small (only pending deliveries are in it).
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  // Dialect difference: an auto-incrementing sequence column.
  const seq = sql.onDialectOrElse({ pg: () => "BIGSERIAL PRIMARY KEY", orElse: () => "INTEGER PRIMARY KEY AUTOINCREMENT" })
  // `secret` is kept as issued: signing needs it, a hash would not do, and the codebase has no
  // encryption-at-rest facility to wrap it with. It is returned once, at creation (and rotation).
  // `event_types` is a JSON array of catalogue types, NULL for every type.
  yield* sql`CREATE TABLE webhook_endpoints (
    webhook_id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    url TEXT NOT NULL,
    event_types TEXT,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL
  )`
  yield* sql`CREATE INDEX webhook_endpoints_by_principal ON webhook_endpoints (principal, created_at)`
  yield* sql.unsafe(`CREATE TABLE webhook_deliveries (
    delivery_seq ${seq},
    webhook_id TEXT NOT NULL,
    event_seq BIGINT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    created_at TEXT NOT NULL
  )`)
  yield* sql`CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`
  yield* sql`CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, event_seq)`
  yield* sql`CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_seq)`
  yield* sql.unsafe(`CREATE TABLE webhook_attempts (
    attempt_seq ${seq},
    webhook_id TEXT NOT NULL,
    delivery_seq BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms INTEGER NOT NULL,
    attempted_at TEXT NOT NULL
  )`)
  yield* sql`CREATE INDEX webhook_attempts_by_webhook ON webhook_attempts (webhook_id, attempt_seq)`
  yield* sql`CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_seq)`
})
