/** The audit log: one row per sensitive action, with the actor and the state before and after. */
import { SqlClient } from "@effect/sql"
import { Ids } from "@clawbounties/domain"
import { DateTime, Effect, Schema } from "effect"
import * as Cursor from "./Cursor.js"
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

/** Only a cursor this API returned: a timestamp and an audit id. */
const decodeCursor = (cursor: string) =>
  Effect.map(Cursor.decode(cursor, [Cursor.isTimestamp, Schema.is(Ids.AuditId)]), ([createdAt, auditId]) => ({ createdAt: createdAt!, auditId: auditId! }))

/**
 * Audit rows, newest first, optionally for one entity, a page at a time: `next_cursor` (null on the
 * last page) continues to older rows.
 */
export const list = Effect.fn("Audit.list")(function* (options: { readonly entityId?: string; readonly cursor?: string | undefined; readonly limit?: number }) {
  const sql = yield* SqlClient.SqlClient
  const limit = pageSize(options.limit, 100, 500)
  const after = options.cursor === undefined ? undefined : yield* decodeCursor(options.cursor)
  const where = [
    options.entityId === undefined ? undefined : sql`entity_id = ${options.entityId}`,
    // The `<=` alone bounds the index range, so an old page seeks to its place.
    after === undefined
      ? undefined
      : sql`created_at <= ${after.createdAt} AND (created_at < ${after.createdAt} OR audit_id < ${after.auditId})`
  ].filter((clause) => clause !== undefined)
  const rows = yield* sql<{ audit_id: string; actor: string; action: string; entity_type: string; entity_id: string; before_state: string | null; after_state: string | null; created_at: string }>`
    SELECT * FROM audit_log WHERE ${sql.and(where)} ORDER BY created_at DESC, audit_id DESC LIMIT ${limit + 1}`
  const { page, next_cursor } = Cursor.paginate(rows, limit, (row) => Cursor.encode([row.created_at, row.audit_id]))
  const entries = page.map((row): AuditRow => ({
    audit_id: row.audit_id,
    actor: row.actor,
    action: row.action,
    entity_type: row.entity_type,
    entity_id: row.entity_id,
    before: row.before_state === null ? null : JSON.parse(row.before_state),
    after: row.after_state === null ? null : JSON.parse(row.after_state),
    created_at: row.created_at
  }))
  return { entries, next_cursor }
})
