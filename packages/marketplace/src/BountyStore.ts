/**
 * Rows of bounties, escrows, submissions and disputes: how they are read (decoded once, here) and
 * how they are locked. Every status change goes through a guarded UPDATE (`... WHERE status = $from`)
 * whose row count is checked, so a lost race is a typed error, never a silent overwrite.
 *
 * These helpers, like `Outbox.append` and `Audit.record`, run inside their command's span with no
 * span of their own (`Effect.fnUntraced`): a span cost 15-30 µs, and a job called them about 27
 * times, against some 20 spans for the commands and ledger operations a trace needs.
 */
import { SqlClient, type Statement } from "@effect/sql"
import { BountyMachine, ErrorCatalogue, EscrowMachine, Ids, Money, Submission, SubmissionMachine } from "@clawbounties/domain"
import { Effect, Option, Schema } from "effect"
import { AgentPackRef, DisputeOutcome, ProofTierFloor } from "./Requests.js"

const Bool = Schema.transform(Schema.Union(Schema.Number, Schema.BigIntFromSelf, Schema.Boolean), Schema.Boolean, {
  strict: true,
  decode: (value) => value === true || value === 1 || value === 1n,
  encode: (value) => value
})
const Int = Schema.transform(Schema.Union(Schema.Number, Schema.BigIntFromSelf, Schema.String), Schema.Number, {
  strict: true,
  decode: (value) => Number(value),
  encode: (value) => value
})
const JsonText = <A, I>(schema: Schema.Schema<A, I>) => Schema.parseJson(schema)
const Nullable = <A, I>(schema: Schema.Schema<A, I>) => Schema.NullOr(schema)

/** Deadlines in seconds as stored on the bounty: the defaults or the bounty's own overrides. */
export const DeadlineSeconds = Schema.Struct({
  open: Schema.Number,
  work: Schema.Number,
  review: Schema.Number,
  dispute: Schema.Number
})
export type DeadlineSeconds = typeof DeadlineSeconds.Type

export const Resolution = Schema.Struct({
  dispute_id: Schema.String,
  outcome: DisputeOutcome,
  worker_share_bps: Schema.Number,
  worker_amount_minor: Schema.String,
  platform_fee_minor: Schema.String,
  refund_minor: Schema.String,
  resolved_by: Schema.String,
  resolved_at: Schema.String
})
export type Resolution = typeof Resolution.Type

export const BountyRow = Schema.Struct({
  bounty_id: Schema.String,
  requester_did: Schema.String,
  title: Schema.String,
  description: Schema.String,
  reward_minor: Money.FromDb,
  currency: Money.Currency,
  closure_type: Schema.Literal("test", "requester", "quorum"),
  difficulty_scalar: Schema.NumberFromString,
  is_code_bounty: Bool,
  min_proof_tier: ProofTierFloor,
  test_harness_id: Nullable(Schema.String),
  requested_worker_did: Nullable(Schema.String),
  metadata: JsonText(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  task_spec: Nullable(JsonText(Schema.Unknown)),
  status: BountyMachine.Status,
  escrow_id: Schema.String,
  worker_did: Nullable(Schema.String),
  fee_policy_id: Schema.String,
  fee_policy_version: Schema.String,
  fee_policy_hash: Schema.String,
  fee_quote: JsonText(Schema.Unknown),
  principal_minor: Money.FromDb,
  platform_fee_minor: Money.FromDb,
  total_minor: Money.FromDb,
  worker_net_minor: Money.FromDb,
  deadlines: JsonText(DeadlineSeconds),
  deadline_at: Nullable(Schema.String),
  submission_attempts: Int,
  resolution: Nullable(JsonText(Resolution)),
  created_at: Schema.String,
  accepted_at: Nullable(Schema.String),
  updated_at: Schema.String,
  /** Not a column: the bounty's tags in order, read with the row as a JSON array ({@link bountyColumns}). */
  tags: JsonText(Schema.Array(Schema.String))
})
export type BountyRow = typeof BountyRow.Type

export const EscrowRow = Schema.Struct({
  escrow_id: Schema.String,
  bounty_id: Schema.String,
  requester_did: Schema.String,
  worker_did: Nullable(Schema.String),
  hold_id: Schema.String,
  amount_minor: Money.FromDb,
  currency: Money.Currency,
  status: EscrowMachine.Status,
  created_at: Schema.String,
  updated_at: Schema.String,
  released_at: Nullable(Schema.String)
})
export type EscrowRow = typeof EscrowRow.Type

export const VerificationReason = Schema.Struct({ code: Schema.String, message: Schema.String })

export const SubmissionRow = Schema.Struct({
  submission_id: Schema.String,
  bounty_id: Schema.String,
  worker_did: Schema.String,
  status: SubmissionMachine.Status,
  proof_tier: Nullable(Submission.ProofTier),
  proof_bundle_hash: Nullable(Schema.String),
  proof_bundle_envelope: JsonText(Schema.Unknown),
  commit_proof_envelope: Nullable(JsonText(Schema.Unknown)),
  artifacts: JsonText(Schema.Array(Schema.Unknown)),
  result_summary: Nullable(Schema.String),
  agent_pack: Nullable(JsonText(AgentPackRef)),
  verification: JsonText(Schema.Struct({
    status: Schema.Literal("valid", "invalid"),
    reasons: Schema.Array(VerificationReason),
    verified_at: Schema.String
  })),
  created_at: Schema.String,
  updated_at: Schema.String
})
export type SubmissionRow = typeof SubmissionRow.Type

export const DisputeRow = Schema.Struct({
  dispute_id: Schema.String,
  bounty_id: Schema.String,
  submission_id: Schema.String,
  opened_by: Schema.String,
  reason: Schema.String,
  status: Schema.Literal("open", "resolved"),
  escalated: Bool,
  deadline_at: Schema.String,
  outcome: Nullable(DisputeOutcome),
  worker_share_bps: Nullable(Int),
  resolved_by: Nullable(Schema.String),
  resolution_note: Nullable(Schema.String),
  created_at: Schema.String,
  resolved_at: Nullable(Schema.String)
})
export type DisputeRow = typeof DisputeRow.Type

/**
 * A row decoder, built once per row schema (building a decoder is not free and reads are hot).
 * A row that does not decode is a corrupt store: a defect, not a caller's error.
 */
const rowDecoder = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknown(Schema.Array(schema))
  return (rows: ReadonlyArray<unknown>) => Effect.orDie(decode(rows))
}

const decodeBounties = rowDecoder(BountyRow)
const decodeEscrows = rowDecoder(EscrowRow)
const decodeSubmissions = rowDecoder(SubmissionRow)
const decodeDisputes = rowDecoder(DisputeRow)

/** `FOR UPDATE` on PostgreSQL; SQLite has one writer, so the transaction already excludes others. */
export const forUpdate = (sql: SqlClient.SqlClient) =>
  sql.onDialectOrElse({ pg: () => sql.literal("FOR UPDATE"), orElse: () => sql.literal("") })

/**
 * The columns of `bounties b`, and its tags as a JSON array: every view of a bounty shows them, and
 * a second query for them cost a statement (a round trip on PostgreSQL) per read.
 */
const bountyColumns = (sql: SqlClient.SqlClient) =>
  sql.onDialectOrElse({
    pg: () => sql.literal(`b.*, COALESCE((SELECT json_agg(t.tag ORDER BY t.tag) FROM bounty_tags t WHERE t.bounty_id = b.bounty_id), '[]')::text AS tags`),
    orElse: () => sql.literal(`b.*, (SELECT json_group_array(t.tag ORDER BY t.tag) FROM bounty_tags t WHERE t.bounty_id = b.bounty_id) AS tags`)
  })

const idForms = { bounty: Schema.is(Ids.BountyId), submission: Schema.is(Ids.SubmissionId), dispute: Schema.is(Ids.DisputeId) }

/**
 * A string not of the engine's id form names nothing: it is not found without reaching a query
 * (PostgreSQL fails on U+0000) or a derived idempotency key (an index entry has a size limit).
 */
export const requireIdForm = (entity: keyof typeof idForms, id: string): Effect.Effect<void, ErrorCatalogue.NotFound> =>
  idForms[entity](id) ? Effect.void : Effect.fail(new ErrorCatalogue.NotFound({ entity, id: id.slice(0, 100) }))

export const findBounty = Effect.fnUntraced(function* (bountyId: string, options?: { readonly lock?: boolean }) {
  if (!idForms.bounty(bountyId)) return Option.none()
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql`SELECT ${bountyColumns(sql)} FROM bounties b WHERE b.bounty_id = ${bountyId} ${options?.lock ? forUpdate(sql) : sql.literal("")}`
    .pipe(Effect.flatMap(decodeBounties))
  return Option.fromNullable(rows[0])
})

export interface BountyFilter {
  readonly status?: string
  readonly requesterDid?: string
  /** Only bounties this DID may see: open ones and those it is a party to (see `Bounties.canSee`). */
  readonly visibleTo?: string
  readonly isCodeBounty?: boolean
  readonly tag?: string
  /** Exclusive cursor: the `created_at|bounty_id` of the last row of the previous page. */
  readonly after?: { readonly createdAt: string; readonly bountyId: string }
  readonly limit: number
}

export const listBounties = Effect.fnUntraced(function* (filter: BountyFilter) {
  const sql = yield* SqlClient.SqlClient
  const clauses = [
    filter.status === undefined ? undefined : sql`b.status = ${filter.status}`,
    filter.requesterDid === undefined ? undefined : sql`b.requester_did = ${filter.requesterDid}`,
    filter.isCodeBounty === undefined ? undefined : sql`b.is_code_bounty = ${filter.isCodeBounty ? 1 : 0}`,
    filter.tag === undefined
      ? undefined
      : sql`EXISTS (SELECT 1 FROM bounty_tags t WHERE t.bounty_id = b.bounty_id AND t.tag = ${filter.tag})`,
    filter.after === undefined
      ? undefined
      // The `>=` alone bounds the index range, so a deep page seeks to its place instead of
      // reading every row before it; the OR then drops the rows the previous page ended on.
      : sql`b.created_at >= ${filter.after.createdAt} AND (b.created_at > ${filter.after.createdAt} OR b.bounty_id > ${filter.after.bountyId})`
  ].filter((clause) => clause !== undefined)
  const select = (where: ReadonlyArray<Statement.Fragment>) => sql`SELECT ${bountyColumns(sql)} FROM bounties b WHERE ${sql.and(where)}`
  const party = filter.visibleTo
  // In a status other than open, a caller sees only the bounties it is a party to: read those
  // through the requester and worker indexes, rather than every bounty in that status.
  const query = party !== undefined && filter.status !== undefined && filter.status !== "open"
    ? sql`${select([...clauses, sql`b.requester_did = ${party}`])}
      UNION ALL ${select([...clauses, sql`b.worker_did = ${party}`, sql`b.requester_did <> ${party}`])}
      ORDER BY created_at, bounty_id LIMIT ${filter.limit}`
    : sql`${select(party === undefined ? clauses : [...clauses, sql`(b.status = 'open' OR b.requester_did = ${party} OR b.worker_did = ${party})`])}
      ORDER BY b.created_at, b.bounty_id LIMIT ${filter.limit}`
  return yield* query.pipe(Effect.flatMap(decodeBounties))
})

export const findEscrow = Effect.fnUntraced(function* (escrowId: string) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql`SELECT * FROM escrows WHERE escrow_id = ${escrowId}`.pipe(Effect.flatMap(decodeEscrows))
  return Option.fromNullable(rows[0])
})

export const escrowOfBounty = Effect.fnUntraced(function* (bountyId: string) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql`SELECT * FROM escrows WHERE bounty_id = ${bountyId}`.pipe(Effect.flatMap(decodeEscrows))
  // Every bounty is created with its escrow in one transaction; a bounty without one is corrupt.
  if (rows[0] === undefined) return yield* Effect.dieMessage(`bounty ${bountyId} has no escrow`)
  return rows[0]
})

export const findSubmission = Effect.fnUntraced(function* (submissionId: string) {
  if (!idForms.submission(submissionId)) return Option.none()
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql`SELECT * FROM submissions WHERE submission_id = ${submissionId}`
    .pipe(Effect.flatMap(decodeSubmissions))
  return Option.fromNullable(rows[0])
})

export const submissionsOfBounty = Effect.fnUntraced(function* (bountyId: string) {
  const sql = yield* SqlClient.SqlClient
  return yield* sql`SELECT * FROM submissions WHERE bounty_id = ${bountyId} ORDER BY created_at, submission_id`
    .pipe(Effect.flatMap(decodeSubmissions))
})

export const findDispute = Effect.fnUntraced(function* (disputeId: string) {
  if (!idForms.dispute(disputeId)) return Option.none()
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql`SELECT * FROM disputes WHERE dispute_id = ${disputeId}`.pipe(Effect.flatMap(decodeDisputes))
  return Option.fromNullable(rows[0])
})

export interface OpenDisputesPage {
  /** Exclusive cursor: the queue position of the last row of the previous page. */
  readonly after?: { readonly escalated: boolean; readonly createdAt: string; readonly disputeId: string }
  readonly limit: number
}

/**
 * Open disputes, escalated first, then oldest first, through `disputes_queue`. A page after an
 * escalated row holds the rest of the escalated ones and then every other; a page after a row that
 * is not escalated holds only those.
 */
export const listOpenDisputes = Effect.fnUntraced(function* (filter: OpenDisputesPage) {
  const sql = yield* SqlClient.SqlClient
  const after = filter.after
  const rest = (escalated: 0 | 1) =>
    after === undefined || (after.escalated ? 1 : 0) !== escalated
      ? sql`escalated = ${escalated}`
      : sql`escalated = ${escalated} AND created_at >= ${after.createdAt} AND (created_at > ${after.createdAt} OR dispute_id > ${after.disputeId})`
  const page = (escalated: 0 | 1) =>
    sql`SELECT * FROM (SELECT * FROM disputes WHERE status = 'open' AND ${rest(escalated)}
      ORDER BY created_at, dispute_id LIMIT ${filter.limit}) AS page`
  const query = after !== undefined && !after.escalated
    ? page(0)
    : sql`${page(1)} UNION ALL ${page(0)} ORDER BY escalated DESC, created_at, dispute_id LIMIT ${filter.limit}`
  return yield* query.pipe(Effect.flatMap(decodeDisputes))
})

export interface ResolvedDisputesPage {
  /** Exclusive cursor: the last row of the previous page. */
  readonly after?: { readonly resolvedAt: string; readonly disputeId: string }
  readonly limit: number
}

/**
 * Resolved disputes, most recently resolved first, through `disputes_resolved` (whose condition the
 * query states literally, so the planner can use it).
 */
export const listResolvedDisputes = Effect.fnUntraced(function* (filter: ResolvedDisputesPage) {
  const sql = yield* SqlClient.SqlClient
  const after = filter.after
  // The `<=` alone bounds the index range, so a deep page seeks to its place.
  const older = after === undefined
    ? sql``
    : sql`AND resolved_at <= ${after.resolvedAt} AND (resolved_at < ${after.resolvedAt} OR dispute_id < ${after.disputeId})`
  return yield* sql`SELECT * FROM disputes WHERE status = 'resolved' ${older}
    ORDER BY resolved_at DESC, dispute_id DESC LIMIT ${filter.limit}`.pipe(Effect.flatMap(decodeDisputes))
})

export const openDisputeOfBounty = Effect.fnUntraced(function* (bountyId: string) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql`SELECT * FROM disputes WHERE bounty_id = ${bountyId} AND status = 'open'`
    .pipe(Effect.flatMap(decodeDisputes))
  return Option.fromNullable(rows[0])
})
