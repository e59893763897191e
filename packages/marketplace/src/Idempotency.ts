/**
 * Command-level idempotency: a command with a key runs once per (principal, command, key); a replay
 * with the same request returns the stored response; the same key with a different request fails
 * with `IDEMPOTENCY_CONFLICT` naming the first field that differs. Keys are scoped to the caller, so
 * one requester can never replay (or read) another's result with a guessed key.
 *
 * It runs inside the command's transaction: the key is reserved first (`ON CONFLICT DO NOTHING`), and
 * the response is written before commit. A command that fails rolls back its reservation, so it can
 * be retried.
 */
import { SqlClient } from "@effect/sql"
import { ErrorCatalogue } from "@clawbounties/domain"
import { DateTime, Effect, Schema } from "effect"
import * as Json from "./Json.js"

export interface Scope<A, I> {
  readonly principal: string
  readonly command: string
  readonly key: string
  /** The request as the caller sent it (after decoding): what a replay must match. */
  readonly request: unknown
  /** How to store and restore the response. */
  readonly response: Schema.Schema<A, I>
}

interface StoredRow {
  readonly request_hash: string
  readonly request: string
  readonly response: string | null
}

/** Response codecs, built once per response schema: every command stores and may replay one. */
const codecs = new WeakMap<Schema.Schema<any, any>, { readonly encode: (a: any) => Effect.Effect<string, unknown>; readonly decode: (u: unknown) => Effect.Effect<any, unknown> }>()

const codecFor = <A, I>(schema: Schema.Schema<A, I>) => {
  let codec = codecs.get(schema)
  if (codec === undefined) {
    const json = Schema.parseJson(schema)
    codec = { encode: Schema.encode(json), decode: Schema.decodeUnknown(json) }
    codecs.set(schema, codec)
  }
  return codec as { readonly encode: (a: A) => Effect.Effect<string, unknown>; readonly decode: (u: unknown) => Effect.Effect<A, unknown> }
}

export const once = <A, I>(scope: Scope<A, I>) =>
  <E, R>(command: Effect.Effect<A, E, R>) =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const requestJson = Json.canonical(scope.request)
      const requestHash = Json.hashCanonical(requestJson)
      const select = sql<StoredRow>`SELECT request_hash, request, response FROM command_idempotency
        WHERE principal = ${scope.principal} AND command = ${scope.command} AND idempotency_key = ${scope.key}`

      const replay = (row: StoredRow) =>
        row.request_hash !== requestHash
          ? Effect.fail(new ErrorCatalogue.IdempotencyConflict({
            key: scope.key,
            field: Json.firstDifference(JSON.parse(row.request), JSON.parse(requestJson))
          }))
          : Effect.orDie(codecFor(scope.response).decode(row.response ?? ""))

      // Reserve first: the common case (a new key) costs one statement, and on PostgreSQL a
      // concurrent duplicate waits here for the first to commit, then finds its row.
      const now = DateTime.formatIso(yield* DateTime.now)
      const reserved = yield* sql`INSERT INTO command_idempotency
          (principal, command, idempotency_key, request_hash, request, response, created_at)
        VALUES (${scope.principal}, ${scope.command}, ${scope.key}, ${requestHash}, ${requestJson}, NULL, ${now})
        ON CONFLICT DO NOTHING RETURNING idempotency_key`
      if (reserved.length === 0) {
        const existing = yield* select
        return yield* replay(existing[0]!)
      }

      const result = yield* command
      const encoded = yield* Effect.orDie(codecFor(scope.response).encode(result))
      yield* sql`UPDATE command_idempotency SET response = ${encoded}
        WHERE principal = ${scope.principal} AND command = ${scope.command} AND idempotency_key = ${scope.key}`
      return result
    })
