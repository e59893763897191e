/** The audit log: one row per sensitive action, with the actor and the state before and after. */
import { SqlClient } from "@effect/sql"
import { Ids } from "@clawbounties/domain"
import { DateTime, Effect } from "effect"
import * as Json from "./Json.js"
import { pageSize } from "./Requests.js"

export interface AuditRecord {
  readonly actor: string
  readonly action: string
  readonly entityType: string
  readonly entityId: string
  readonly before: unknown
  readonly after: unknown
}

export const record = Effect.fnUntraced(function* (entry: AuditRecord) {
  const sql = yield* SqlClient.SqlClient
  const ids = yield* Ids.IdGen
  const auditId = yield* ids.make("audit")
  const now = DateTime.formatIso(yield* DateTime.now)
  yield* sql`INSERT INTO audit_log (audit_id, actor, action, entity_type, entity_id, before_state, after_state, created_at)
    VALUES (${auditId}, ${entry.actor}, ${entry.action}, ${entry.entityType}, ${entry.entityId},
      ${entry.before === null ? null : Json.canonical(entry.before)}, ${entry.after === null ? null : Json.canonical(entry.after)}, ${now})`
  return auditId
})

export interface AuditRow {
  readonly audit_id: string
  readonly actor: string
  readonly action: string
  readonly entity_type: string
  readonly entity_id: string
  readonly before: unknown
  readonly after: unknown
  readonly created_at: string
}

/** Audit rows, newest first, optionally for one entity. */
export const list = Effect.fn("Audit.list")(function* (options: { readonly entityId?: string; readonly limit: number }) {
  const sql = yield* SqlClient.SqlClient
  const where = options.entityId === undefined ? sql`1 = 1` : sql`entity_id = ${options.entityId}`
  const rows = yield* sql<{ audit_id: string; actor: string; action: string; entity_type: string; entity_id: string; before_state: string | null; after_state: string | null; created_at: string }>`
    SELECT * FROM audit_log WHERE ${where} ORDER BY created_at DESC, audit_id DESC LIMIT ${pageSize(options.limit, 100, 500)}`
  return rows.map((row): AuditRow => ({
    audit_id: row.audit_id,
    actor: row.actor,
    action: row.action,
    entity_type: row.entity_type,
    entity_id: row.entity_id,
    before: row.before_state === null ? null : JSON.parse(row.before_state),
    after: row.after_state === null ? null : JSON.parse(row.after_state),
    created_at: row.created_at
  }))
})
