/**
 * Bearer tokens: opaque, random, shown once, stored as SHA-256 only, scoped to one role, revocable
 * and rotatable.
 *
 * A token is `cbt_<role>_` followed by 32 bytes from {@link Entropy} in base64url (43 characters),
 * e.g. `cbt_worker_q3...`. The database holds `token_hash = base64url(SHA-256(token))`; a stolen
 * database therefore yields no usable token, and every request is checked against the stored row,
 * so a revocation takes effect at once (the reference's self-issued JWTs could not be revoked,
 * marketplace-notes §6 item 16).
 *
 * The operator token comes from configuration (`OPERATOR_TOKEN`, optional, at least 32 visible ASCII
 * characters) and is held only as its hash; it authenticates as `{ did: "operator", role: "operator" }`.
 * Tokens are never logged: callers get them once in a response and this module only ever hashes them.
 */
import { SqlClient } from "@effect/sql"
import { ErrorCatalogue, Ids } from "@clawbounties/domain"
import { Config, Context, DateTime, Effect, Layer, Option, Redacted, Schema } from "effect"
import type { ConfigError } from "effect/ConfigError"
import { createHash, timingSafeEqual } from "node:crypto"
import * as Audit from "./Audit.js"
import { transaction } from "./Command.js"
import { Entropy } from "./Entropy.js"
import type * as Events from "./Events.js"
import * as Outbox from "./Outbox.js"

export const Role = Schema.Literal("worker", "requester", "operator")
export type Role = typeof Role.Type

/** Who a valid token says the caller is. */
export interface Principal {
  readonly did: string
  readonly role: Role
  readonly token_id: string
}

/** The principal of the configured operator token. */
export const OPERATOR_DID = "operator"
export const OPERATOR_TOKEN_ID = "operator"
/** Shortest accepted `OPERATOR_TOKEN`: anything shorter is guessable and refused at start-up. */
export const MIN_OPERATOR_TOKEN_LENGTH = 32

const TOKEN_BYTES = 32
/** `cbt_<role>_` + base64url of 32 bytes (43 characters, no padding). */
const TOKEN_FORMAT = /^cbt_(worker|requester|operator)_[A-Za-z0-9_-]{43}$/

const sha256 = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

/** The stored form of a token. */
export const hashToken = (token: string): string => sha256(token).toString("base64url")

/** The operator token's hash, when one is configured. */
export class OperatorToken extends Context.Tag("@clawbounties/marketplace/Tokens/OperatorToken")<
  OperatorToken,
  { readonly hash: Option.Option<Buffer> }
>() {}

/**
 * Whether a token can be presented at all: `Authorization: Bearer <token>` carries one run of
 * visible ASCII. A space, a line break or a non-ASCII letter (headers arrive as Latin-1) would make
 * an operator token that no request can match.
 */
export const isPresentable = (token: string): boolean => /^[\x21-\x7e]+$/.test(token)

const operatorConfig = Config.option(
  Config.redacted("OPERATOR_TOKEN").pipe(
    Config.validate({
      message: `OPERATOR_TOKEN must be at least ${MIN_OPERATOR_TOKEN_LENGTH} characters`,
      validation: (token) => Redacted.value(token).length >= MIN_OPERATOR_TOKEN_LENGTH
    }),
    Config.validate({
      message: "OPERATOR_TOKEN must be visible ASCII only: no spaces, line breaks or other characters a bearer token cannot carry",
      validation: (token) => isPresentable(Redacted.value(token))
    })
  )
)

/** Reads `OPERATOR_TOKEN` (optional) and keeps only its hash. */
export const layer: Layer.Layer<OperatorToken, ConfigError> = Layer.effect(
  OperatorToken,
  Effect.map(operatorConfig, (token) => ({ hash: Option.map(token, (t) => sha256(Redacted.value(t))) }))
)

/** No operator token: only tokens issued by the engine authenticate. */
export const layerNoOperator: Layer.Layer<OperatorToken> = Layer.succeed(OperatorToken, { hash: Option.none() })

export interface IssuedToken {
  readonly token_id: string
  /** The raw token: return it to the caller once, never store or log it. */
  readonly token: string
}

/**
 * Issues a token for `did` in `role`, the first of a rotation line unless `root` names the line it
 * continues. Runs inside the caller's transaction (registration and rotation issue a token as part
 * of a larger command), so it opens none of its own.
 */
export const issue = Effect.fn("Tokens.issue")(function* (input: { readonly did: string; readonly role: Role; readonly root?: string }) {
  const sql = yield* SqlClient.SqlClient
  const entropy = yield* Entropy
  const ids = yield* Ids.IdGen
  const tokenId = yield* ids.make("token")
  const secret = Buffer.from(yield* entropy.bytes(TOKEN_BYTES)).toString("base64url")
  const token = `cbt_${input.role}_${secret}`
  const now = DateTime.formatIso(yield* DateTime.now)
  yield* sql`INSERT INTO auth_tokens (token_id, token_hash, did, role, created_at, root_token_id)
    VALUES (${tokenId}, ${hashToken(token)}, ${input.did}, ${input.role}, ${now}, ${input.root ?? tokenId})`
  return { token_id: tokenId, token } satisfies IssuedToken
})

interface TokenRow {
  readonly token_id: string
  readonly token_hash: string
  readonly did: string
  readonly role: Role
  readonly created_at: string
  readonly revoked_at: string | null
  readonly revoked_reason: string | null
  readonly replaced_by: string | null
}

const unauthorized = (reason: "missing_token" | "invalid_token" | "revoked_token") =>
  Effect.fail(new ErrorCatalogue.Unauthorized({ reason }))

/**
 * The principal a bearer token stands for, or `Unauthorized`:
 * `missing_token` (empty), `invalid_token` (malformed or unknown), `revoked_token`.
 *
 * The token is hashed before anything else and only the hash reaches the database or a
 * comparison; the comparisons are constant-time (`timingSafeEqual` on equal-length digests).
 */
export const authenticate = Effect.fn("Tokens.authenticate")(function* (token: string) {
  if (token.length === 0) return yield* unauthorized("missing_token")
  const digest = sha256(token)
  const operator = yield* OperatorToken
  if (Option.isSome(operator.hash) && timingSafeEqual(digest, operator.hash.value)) {
    const principal: Principal = { did: OPERATOR_DID, role: "operator", token_id: OPERATOR_TOKEN_ID }
    return principal
  }
  const format = TOKEN_FORMAT.exec(token)
  if (format === null) return yield* unauthorized("invalid_token")

  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<TokenRow>`SELECT token_id, token_hash, did, role, created_at, revoked_at, revoked_reason, replaced_by
    FROM auth_tokens WHERE token_hash = ${digest.toString("base64url")}`
  const row = rows[0]
  if (row === undefined) return yield* unauthorized("invalid_token")
  const stored = Buffer.from(row.token_hash, "base64url")
  // The lookup matched on the hash already; comparing again in constant time keeps the decision
  // itself independent of any index or collation behaviour of the database.
  if (stored.length !== digest.length || !timingSafeEqual(stored, digest) || row.role !== format[1]) {
    return yield* unauthorized("invalid_token")
  }
  if (row.revoked_at !== null) return yield* unauthorized("revoked_token")
  const principal: Principal = { did: row.did, role: row.role, token_id: row.token_id }
  return principal
})

/** A token as its owner may see it: never the token or its hash. */
export const TokenInfo = Schema.Struct({
  token_id: Schema.String,
  role: Role,
  created_at: Schema.String,
  revoked_at: Schema.NullOr(Schema.String),
  revoked_reason: Schema.NullOr(Schema.String),
  replaced_by: Schema.NullOr(Schema.String)
})
export type TokenInfo = typeof TokenInfo.Type

const infoOf = (row: TokenRow): TokenInfo => ({
  token_id: row.token_id,
  role: row.role,
  created_at: row.created_at,
  revoked_at: row.revoked_at,
  revoked_reason: row.revoked_reason,
  replaced_by: row.replaced_by
})

/** How many revoked tokens {@link list} shows, the newest: every rotation leaves one. */
export const LISTED_REVOKED_TOKENS = 100

const byCreation = (a: TokenRow, b: TokenRow) =>
  a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.token_id < b.token_id ? -1 : a.token_id > b.token_id ? 1 : 0

/**
 * The caller's tokens (all roles of its DID), oldest first: every live one (registration keeps
 * their number bounded) and the newest {@link LISTED_REVOKED_TOKENS} revoked ones. Listing every
 * revoked token made each call cost as much as the DID's whole history of rotations.
 */
export const list = Effect.fn("Tokens.list")(function* (principal: Principal) {
  const sql = yield* SqlClient.SqlClient
  const live = yield* sql<TokenRow>`SELECT token_id, token_hash, did, role, created_at, revoked_at, revoked_reason, replaced_by
    FROM auth_tokens WHERE did = ${principal.did} AND revoked_at IS NULL ORDER BY role, created_at, token_id`
  const revoked = yield* sql<TokenRow>`SELECT token_id, token_hash, did, role, created_at, revoked_at, revoked_reason, replaced_by
    FROM auth_tokens WHERE did = ${principal.did} AND revoked_at IS NOT NULL
    ORDER BY created_at DESC, token_id DESC LIMIT ${LISTED_REVOKED_TOKENS}`
  return [...live, ...revoked].sort(byCreation).map(infoOf)
})

/**
 * A token that stopped working (rotated, revoked, superseded): its owner's event, since a change it
 * did not make is a stolen key, and the audit row, which records it as an end of the token.
 */
const recordTokenEnd = (input: {
  readonly actor: string
  readonly token: { readonly token_id: string; readonly did: string; readonly role: Role }
  readonly revokedAt: string
  /** What the audit row's `after` adds to the token's id, `revoked_at` and reason. */
  readonly after: Record<string, unknown>
} & (
  /** The change, and what its event adds to the token's did, role and id. */
  | { readonly change: "rotated"; readonly payload: Omit<Events.Payload<"token.rotated">, "did" | "role" | "token_id"> }
  | { readonly change: "revoked"; readonly payload: Omit<Events.Payload<"token.revoked">, "did" | "role" | "token_id"> }
)) => {
  const token = { did: input.token.did, role: input.token.role, token_id: input.token.token_id }
  const about = { subjectType: "identity", subjectId: input.token.did, recipients: [input.token.did] } as const
  return Effect.zipRight(
    Outbox.append(input.change === "rotated"
      ? { ...about, type: "token.rotated", payload: { ...token, ...input.payload } }
      : { ...about, type: "token.revoked", payload: { ...token, ...input.payload } }),
    Audit.record({
      actor: input.actor,
      action: input.change === "rotated" ? "token.rotate" : "token.revoke",
      entityType: "token",
      entityId: input.token.token_id,
      before: { token_id: input.token.token_id, revoked_at: null },
      after: { token_id: input.token.token_id, revoked_at: input.revokedAt, ...input.after }
    })
  )
}

/**
 * Revokes the oldest live tokens of `did` in `role` beyond the newest `keep` (`revoked_reason:
 * "superseded"`), each with its event and audit row, inside the caller's transaction. Registration
 * calls it: registering again is free for a key holder, and each one issued a token that stayed
 * live for good.
 */
export const supersede = Effect.fn("Tokens.supersede")(function* (input: { readonly did: string; readonly role: Role; readonly keep: number }) {
  const sql = yield* SqlClient.SqlClient
  // On PostgreSQL, registrations of one DID and role take turns here (on its identity row, which
  // registration has written): each then counts the tokens the others issued, so replicas
  // registering it at once neither leave more than `keep` live nor supersede one token twice.
  yield* sql.onDialectOrElse({
    pg: () => sql`SELECT did FROM identities WHERE did = ${input.did} AND role = ${input.role} FOR UPDATE`,
    orElse: () => Effect.void
  })
  const live = yield* sql<TokenRow>`SELECT token_id, token_hash, did, role, created_at, revoked_at, revoked_reason, replaced_by
    FROM auth_tokens WHERE did = ${input.did} AND role = ${input.role} AND revoked_at IS NULL
    ORDER BY created_at, token_id`
  const now = DateTime.formatIso(yield* DateTime.now)
  for (const token of live.slice(0, Math.max(0, live.length - input.keep))) {
    // Conditional: a rotation or revocation (which lock its line, not the identity) may have revoked it.
    const revoked = yield* sql`UPDATE auth_tokens SET revoked_at = ${now}, revoked_reason = 'superseded'
      WHERE token_id = ${token.token_id} AND revoked_at IS NULL RETURNING token_id`
    if (revoked.length === 0) continue
    yield* recordTokenEnd({
      actor: token.did,
      token,
      change: "revoked",
      revokedAt: now,
      payload: { reason: "superseded", revoked_by: token.did, revoked_via: null },
      after: { revoked_reason: "superseded" }
    })
  }
})

/**
 * Locks a rotation line (its first token's row) on PostgreSQL, so a rotation and a revocation of
 * the same line take turns: a revocation then sees the token a rotation issued, or the rotation
 * finds its token revoked. (On SQLite transactions already take turns.)
 */
const lockLine = (root: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.onDialectOrElse({
      pg: () => Effect.asVoid(sql`SELECT token_id FROM auth_tokens WHERE token_id = ${root} FOR UPDATE`),
      orElse: () => Effect.void
    }))

const configuredOperator = () =>
  new ErrorCatalogue.Forbidden({ reason: "the configured operator token changes only with OPERATOR_TOKEN" })

/**
 * Replaces the caller's token: a new token for the same DID and role is issued and the presented
 * one revoked (`revoked_reason: "rotated"`, `replaced_by` the new id), both in one transaction. A
 * token revoked meanwhile cannot be rotated (`Unauthorized: revoked_token`).
 */
export const rotate = Effect.fn("Tokens.rotate")(function* (principal: Principal) {
  if (principal.token_id === OPERATOR_TOKEN_ID) return yield* configuredOperator()
  const sql = yield* SqlClient.SqlClient
  return yield* transaction(Effect.gen(function* () {
    const presented = yield* sql<{ readonly root_token_id: string }>`SELECT root_token_id FROM auth_tokens
      WHERE token_id = ${principal.token_id}`
    if (presented[0] === undefined) return yield* unauthorized("invalid_token")
    const root = presented[0].root_token_id
    yield* lockLine(root)
    const issued = yield* issue({ did: principal.did, role: principal.role, root })
    const now = DateTime.formatIso(yield* DateTime.now)
    // Conditional: only a live token is rotated, so two concurrent rotations cannot both win.
    const revoked = yield* sql`UPDATE auth_tokens SET revoked_at = ${now}, revoked_reason = 'rotated', replaced_by = ${issued.token_id}
      WHERE token_id = ${principal.token_id} AND revoked_at IS NULL RETURNING token_id`
    if (revoked.length === 0) return yield* unauthorized("revoked_token")
    yield* recordTokenEnd({
      actor: principal.did,
      token: principal,
      change: "rotated",
      revokedAt: now,
      payload: { replaced_by: issued.token_id },
      after: { revoked_reason: "rotated", replaced_by: issued.token_id }
    })
    return issued
  }))
})

/** A reason for a revocation, kept with the token row. */
export const RevokeReason = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))

/**
 * Revokes a token and every live token it was rotated into (its rotation line's live token, found
 * by the line's first token, `root_token_id`, in one indexed statement however long the line): a
 * thief who rotated a stolen token must not keep the replacement. The owner (any token of the same
 * DID) or an operator may revoke; anyone else gets `NotFound`, so token ids of other DIDs cannot be
 * probed. Each token revoked now gets its event and audit row; revoking a token whose whole line is
 * revoked changes nothing. The line is locked first, so a rotation racing the revocation either
 * lands first (and its replacement is revoked too) or finds its token revoked.
 */
export const revoke = Effect.fn("Tokens.revoke")(function* (
  principal: Principal,
  input: { readonly token_id: string; readonly reason?: string }
) {
  const sql = yield* SqlClient.SqlClient
  const reason = input.reason ?? "revoked"
  if (!Schema.is(RevokeReason)(reason)) {
    return yield* new ErrorCatalogue.InvalidRequest({ message: "reason must be 1 to 200 characters" })
  }
  // An id not of the engine's form names no token, and must not reach SQL (PostgreSQL fails on U+0000).
  if (!Schema.is(Ids.TokenId)(input.token_id)) {
    return yield* new ErrorCatalogue.NotFound({ entity: "token", id: input.token_id.slice(0, 100) })
  }
  const read = (tokenId: string) =>
    Effect.map(
      sql<TokenRow & { readonly root_token_id: string }>`SELECT token_id, token_hash, did, role, created_at, revoked_at,
        revoked_reason, replaced_by, root_token_id FROM auth_tokens WHERE token_id = ${tokenId}`,
      (rows) => rows[0]
    )
  return yield* transaction(Effect.gen(function* () {
    const found = yield* read(input.token_id)
    if (found === undefined || (principal.role !== "operator" && found.did !== principal.did)) {
      return yield* new ErrorCatalogue.NotFound({ entity: "token", id: input.token_id })
    }
    yield* lockLine(found.root_token_id)
    // Read again under the line's lock: a rotation may have revoked it meanwhile.
    const row = (yield* read(input.token_id))!
    // A line has at most one live token, its last (a rotation revokes the token it replaces), and
    // every token of the line was rotated into it: revoking any token revokes that one, however long
    // the line (a cap on its length would let a thief rotate past it).
    const now = DateTime.formatIso(yield* DateTime.now)
    const revokedNow = yield* sql<TokenRow>`UPDATE auth_tokens SET revoked_at = ${now}, revoked_reason = ${reason}
      WHERE root_token_id = ${row.root_token_id} AND revoked_at IS NULL
      RETURNING token_id, token_hash, did, role, created_at, revoked_at, revoked_reason, replaced_by`
    for (const token of revokedNow) {
      const revokedVia = token.token_id === row.token_id ? null : row.token_id
      yield* recordTokenEnd({
        actor: principal.did,
        token,
        change: "revoked",
        revokedAt: now,
        payload: { reason, revoked_by: principal.did, revoked_via: revokedVia },
        after: { revoked_reason: reason, ...(revokedVia === null ? {} : { revoked_via: revokedVia }) }
      })
    }
    return infoOf(row.revoked_at !== null ? row : { ...row, revoked_at: now, revoked_reason: reason })
  }))
})
