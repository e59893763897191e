/**
 * Wire schemas of the HTTP API that the libraries do not define themselves: the record views
 * (`marketplace/Wire.ts` builds them), balances and history, verification requests and results,
 * operator reports, and the query strings. Responses are encoded with these schemas, so what the
 * server sends is what `openapi.json` says. Statuses, kinds, roles and codes are their closed sets'
 * literals, not strings, so a client generated from the document knows every value it must handle.
 * Currencies stay strings: the set is each deployment's, and grows without a new API version.
 */
import { Bounty as BountyRecord, BountyMachine, Did, ErrorCatalogue, EscrowMachine, Money, Submission as SubmissionRecord, SubmissionMachine } from "@clawbounties/domain"
import { Ledger } from "@clawbounties/ledger"
import { Bounties, EventFeed, Requests, Tokens, Webhooks, Workers } from "@clawbounties/marketplace"
import { Schema } from "effect"

const strict = { parseOptions: { onExcessProperty: "error" } } as const
const Digits = Schema.String.pipe(Schema.pattern(/^(0|[1-9][0-9]*)$/)).annotations({ description: "an amount in minor units, as a digit string" })
const SignedDigits = Schema.String.pipe(Schema.pattern(/^-?(0|[1-9][0-9]*)$/)).annotations({ description: "a signed amount in minor units, as a digit string" })
const Timestamp = Schema.String.annotations({ description: "an RFC 3339 timestamp" })
const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })
/** Query-string booleans. */
const BooleanString = Schema.transformLiterals(["true", true], ["false", false])
/**
 * Any JSON value, but present: `Schema.Unknown` alone lets a required field be missing (undefined is
 * an unknown), and a missing envelope must be INVALID_REQUEST, not a command run on nothing.
 */
export const JsonValue = Schema.Unknown.pipe(Schema.filter((value) => value !== undefined, { message: () => "is missing" }))
  .annotations({ description: "any JSON value" })
/** A body with no fields (`Schema.Struct({})` would accept any value at all). */
export const Empty = Schema.Record({ key: Schema.String, value: Schema.Never }).annotations({ identifier: "Empty", description: "an empty object" })

export const ErrorBody = Schema.Struct({
  error: Schema.Literal(...(ErrorCatalogue.table.map((row) => row.code) as [string, ...Array<string>]))
    .annotations({ description: "a stable code from the error catalogue" }),
  message: Schema.String,
  details: JsonObject
}).annotations({ identifier: "Error" })

// -------------------------------------------------------------------------------------------------
// Records

export const AllInCost = Schema.Struct({
  principal_minor: Digits,
  platform_fee_minor: Digits,
  total_minor: Digits,
  currency: Schema.String
})

export const Bounty = Schema.Struct({
  schema_version: Schema.Literal("2"),
  bounty_id: Schema.String,
  requester_did: Schema.String,
  title: Schema.String,
  description: Schema.String,
  reward: Schema.Struct({ amount_minor: Digits, currency: Schema.String }),
  closure_type: BountyRecord.ClosureType,
  difficulty_scalar: Schema.Number,
  escrow_id: Schema.String,
  status: BountyMachine.Status,
  min_proof_tier: BountyRecord.MinProofTier,
  tags: Schema.Array(Schema.String),
  is_code_bounty: Schema.Boolean,
  test_harness_id: Schema.optional(Schema.String),
  fee_policy_version: Schema.String,
  all_in_cost: AllInCost,
  created_at: Timestamp,
  accepted_at: Schema.optional(Timestamp),
  accepted_by: Schema.optional(Schema.String),
  task_spec: Schema.optional(Schema.Unknown),
  metadata: JsonObject,
  fee_policy: Schema.Struct({ id: Schema.String, version: Schema.String, hash_b64u: Schema.String }),
  worker_net_minor: Digits,
  deadline_at: Schema.NullOr(Timestamp),
  submission_attempts: Schema.Int,
  resolution: Schema.NullOr(JsonObject),
  updated_at: Timestamp
}).annotations({ identifier: "Bounty" })

export const BountyList = Schema.Struct({
  bounties: Schema.Array(Bounty),
  next_cursor: Schema.NullOr(Schema.String)
}).annotations({ identifier: "BountyList" })

export const Escrow = Schema.Struct({
  escrow_version: Schema.Literal("2"),
  escrow_id: Schema.String,
  requester_did: Schema.String,
  agent_did: Schema.optional(Schema.String),
  amount_minor: Digits,
  currency: Schema.String,
  status: EscrowMachine.Status,
  created_at: Timestamp,
  updated_at: Timestamp,
  held_at: Timestamp,
  released_at: Schema.optional(Timestamp),
  job_id: Schema.String,
  hold_id: Schema.String
}).annotations({ identifier: "Escrow" })

export const VerificationReason = Schema.Struct({ code: Schema.String, message: Schema.String })

export const Submission = Schema.Struct({
  submission_id: Schema.String,
  bounty_id: Schema.String,
  worker_did: Schema.String,
  status: SubmissionMachine.Status,
  proof_tier: Schema.NullOr(SubmissionRecord.ProofTier),
  proof_bundle_hash_b64u: Schema.NullOr(Schema.String),
  verification: Schema.Struct({
    status: Schema.Literal("valid", "invalid"),
    reasons: Schema.Array(VerificationReason),
    verified_at: Timestamp
  }),
  result_summary: Schema.NullOr(Schema.String),
  proof_bundle_envelope: Schema.Unknown,
  commit_proof_envelope: Schema.Unknown,
  artifacts: Schema.Array(Schema.Unknown),
  /** The agent-pack reference as submitted (spec B2); null when the submission has none. */
  agent_pack: Schema.NullOr(Requests.AgentPackRef),
  created_at: Timestamp,
  updated_at: Timestamp
}).annotations({ identifier: "Submission" })

export const SubmissionList = Schema.Struct({ submissions: Schema.Array(Submission) }).annotations({ identifier: "SubmissionList" })

export const Dispute = Schema.Struct({
  dispute_id: Schema.String,
  bounty_id: Schema.String,
  submission_id: Schema.String,
  opened_by: Schema.String,
  reason: Schema.String,
  status: Schema.Literal("open", "resolved"),
  escalated: Schema.Boolean,
  deadline_at: Timestamp,
  outcome: Schema.NullOr(Requests.DisputeOutcome),
  worker_share_bps: Schema.NullOr(Schema.Int),
  resolved_by: Schema.NullOr(Schema.String),
  resolution_note: Schema.NullOr(Schema.String),
  created_at: Timestamp,
  resolved_at: Schema.NullOr(Timestamp)
}).annotations({ identifier: "Dispute" })

export const DisputeList = Schema.Struct({
  disputes: Schema.Array(Dispute),
  next_cursor: Schema.NullOr(Schema.String)
}).annotations({ identifier: "DisputeList" })

// -------------------------------------------------------------------------------------------------
// Identities and tokens

/** `POST /v1/requesters/register`: the challenge answer for role `requester` (see Identities). */
export const RegisterRequesterRequest = Schema.Struct({
  requester_did: Did.DidKey,
  challenge_id: Schema.String.pipe(Schema.maxLength(64)),
  proof: JsonValue.annotations({ description: "a message_signature envelope answering the challenge" })
}).annotations({ identifier: "RegisterRequesterRequest", ...strict })

/** `POST /v1/workers/register`, with the proof required to be present. */
export const RegisterWorkerRequest = Schema.Struct({
  ...Workers.RegisterWorkerRequest.fields,
  proof: JsonValue.annotations({ description: "a message_signature envelope answering the challenge" })
}).annotations({ identifier: "RegisterWorkerRequest", ...strict })

/** `POST /v1/bounties/:id/submit` (spec B3). */
export const SubmitRequest = Requests.Submit.annotations({ identifier: "SubmitRequest", ...strict })

export const TokenInfo = Schema.Struct({
  token_id: Schema.String,
  role: Tokens.Role,
  created_at: Timestamp,
  revoked_at: Schema.NullOr(Timestamp),
  revoked_reason: Schema.NullOr(Schema.String),
  replaced_by: Schema.NullOr(Schema.String)
}).annotations({ identifier: "TokenInfo" })

export const TokenList = Schema.Struct({ tokens: Schema.Array(TokenInfo) }).annotations({ identifier: "TokenList" })

export const RotateResponse = Schema.Struct({
  token_id: Schema.String,
  token: Schema.String.annotations({ description: "the new bearer token, shown once" })
}).annotations({ identifier: "RotateTokenResponse" })

export const RevokeRequest = Schema.Struct({
  reason: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)))
}).annotations({ identifier: "RevokeTokenRequest", ...strict })

// -------------------------------------------------------------------------------------------------
// Bounties

export const ListBountiesQuery = Schema.Struct({
  /** One of the lifecycle's statuses: any other string would match nothing, silently. */
  status: Schema.optional(BountyMachine.Status),
  is_code_bounty: Schema.optional(BooleanString),
  tag: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(50))),
  /** Only the caller's own bounties (as requester), of any status. */
  mine: Schema.optional(BooleanString),
  cursor: Schema.optional(Schema.String.pipe(Schema.maxLength(400))),
  limit: Schema.optional(Requests.PageLimit(200))
}).annotations({ identifier: "ListBountiesQuery", ...strict })

export const CancelResponse = Schema.Struct({
  ...Bounties.CancelResponse.fields,
  refunded_minor: Digits
}).annotations({ identifier: "CancelBountyResponse" })

// -------------------------------------------------------------------------------------------------
// Events

/** Seconds a poll waits for an event when there is none yet, in decimal digits. */
const waitDescription = `seconds to wait for an event when there is none yet, 0 to ${EventFeed.MAX_WAIT_SECONDS}`
const WaitSeconds = Schema.compose(
  Schema.String.pipe(Schema.pattern(/^(0|[1-9][0-9]?)$/)).annotations({ description: waitDescription }),
  Schema.NumberFromString
  // The decoded side is what the OpenAPI document shows: an integer, with its bounds and meaning.
).pipe(Schema.int(), Schema.between(0, EventFeed.MAX_WAIT_SECONDS, { description: waitDescription }))

export const EventsQuery = Schema.Struct({
  cursor: Schema.optional(Schema.String.pipe(Schema.maxLength(40))),
  limit: Schema.optional(Requests.PageLimit(EventFeed.MAX_PAGE)),
  /** Acknowledged events too: a replay of the caller's history from `cursor`. */
  include_acked: Schema.optional(BooleanString),
  wait_seconds: Schema.optional(WaitSeconds)
}).annotations({ identifier: "EventsQuery", ...strict })

// -------------------------------------------------------------------------------------------------
// Webhooks

export const WebhookDeliveriesQuery = Schema.Struct({
  cursor: Schema.optional(Schema.String.pipe(Schema.maxLength(40))),
  limit: Schema.optional(Requests.PageLimit(Webhooks.MAX_LOG_PAGE))
}).annotations({ identifier: "WebhookDeliveriesQuery", ...strict })

// -------------------------------------------------------------------------------------------------
// Money

/** Never negative, except on `world:*` accounts: money enters the system from there. */
const Bucket = SignedDigits.annotations({ description: "an amount in minor units, as a digit string; negative only on a world:* account" })
export const Buckets = Schema.Struct({ A: Bucket, H: Bucket, B: Bucket, F: Bucket, P: Bucket })

export const BalancesQuery = Schema.Struct({
  did: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256)),
  currency: Schema.optional(Money.Currency)
}).annotations({ identifier: "BalancesQuery", ...strict })

/** Spec A3.2 `GET /v1/balances?did=`. */
export const BalancesResponse = Schema.Struct({
  did: Schema.String,
  currency: Schema.String,
  buckets: Buckets,
  as_of: Timestamp
}).annotations({ identifier: "Balances" })

export const HistoryQuery = Schema.Struct({
  did: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256)),
  currency: Schema.optional(Money.Currency),
  cursor: Schema.optional(Schema.String.pipe(Schema.maxLength(400))),
  limit: Schema.optional(Requests.PageLimit(500))
}).annotations({ identifier: "HistoryQuery", ...strict })

export const HistoryItem = Schema.Struct({
  entry_id: Schema.String,
  kind: Ledger.EntryKind,
  created_at: Timestamp,
  bucket: Ledger.Bucket,
  currency: Schema.String,
  amount_minor: SignedDigits,
  balance_after_minor: SignedDigits,
  metadata: JsonObject,
  cursor: Schema.String
})

export const HistoryResponse = Schema.Struct({
  did: Schema.String,
  items: Schema.Array(HistoryItem),
  next_cursor: Schema.NullOr(Schema.String)
}).annotations({ identifier: "AccountHistory" })

// -------------------------------------------------------------------------------------------------
// Verification

const Envelope = JsonValue.annotations({ description: "a signed envelope (verified, not decoded)" })

export const VerifyRequest = Schema.Struct({
  envelope: Envelope,
  /** When given, the envelope must be of this type. */
  expected_type: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)))
}).annotations({ identifier: "VerifyRequest", ...strict })

export const VerifyBundleRequest = Schema.Struct({
  envelope: Envelope,
  urm: Schema.optional(Schema.Unknown),
  execution_attestations: Schema.optional(Schema.Array(Schema.Unknown).pipe(Schema.maxItems(100)))
}).annotations({ identifier: "VerifyBundleRequest", ...strict })

export const VerifyCommitProofRequest = Schema.Struct({ envelope: Envelope })
  .annotations({ identifier: "VerifyCommitProofRequest", ...strict })

/** Every verifier's result: VALID/INVALID with the reason, plus what the verifier adds. */
export const VerificationResult = Schema.Struct(
  {
    status: Schema.Literal("VALID", "INVALID"),
    reason: Schema.String,
    verified_at: Timestamp,
    error: Schema.optional(Schema.Struct({ code: Schema.String, message: Schema.String, field: Schema.optional(Schema.String) }))
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
).annotations({ identifier: "VerificationResult" })

// -------------------------------------------------------------------------------------------------
// Operators

export const DisputeQueueQuery = Schema.Struct({
  status: Schema.optional(Schema.Literal("open", "resolved")),
  cursor: Schema.optional(Schema.String.pipe(Schema.maxLength(400))),
  limit: Schema.optional(Requests.PageLimit(500))
}).annotations({ identifier: "DisputeQueueQuery", ...strict })

export const AuditQuery = Schema.Struct({
  entity_id: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256))),
  cursor: Schema.optional(Schema.String.pipe(Schema.maxLength(400))),
  limit: Schema.optional(Requests.PageLimit(500))
}).annotations({ identifier: "AuditQuery", ...strict })

export const AuditEntry = Schema.Struct({
  audit_id: Schema.String,
  actor: Schema.String,
  action: Schema.String,
  entity_type: Schema.String,
  entity_id: Schema.String,
  before: Schema.Unknown,
  after: Schema.Unknown,
  created_at: Timestamp
})

export const AuditResponse = Schema.Struct({
  entries: Schema.Array(AuditEntry),
  next_cursor: Schema.NullOr(Schema.String)
}).annotations({ identifier: "AuditLog" })

export const ReconcileResponse = Schema.Struct({
  ok: Schema.Boolean,
  accounts: Schema.Int,
  entries: Schema.Int,
  postings: Schema.Int,
  holds: Schema.Int,
  discrepancies: Schema.Array(Schema.Struct({ kind: Ledger.DiscrepancyKind, detail: Schema.String }))
}).annotations({ identifier: "ReconcileReport" })

export const SweepReport = Schema.Struct({
  expired: Schema.Int,
  reopened: Schema.Int,
  cancelled: Schema.Int,
  autoApproved: Schema.Int,
  escalated: Schema.Int,
  skipped: Schema.Int,
  challengesPurged: Schema.Int,
  eventsPurged: Schema.Int
}).annotations({ identifier: "SweepReport" })

export const SweepStatus = Schema.Struct({
  running: Schema.Boolean,
  interval_ms: Schema.Number,
  runs: Schema.Int,
  failures: Schema.Int,
  last_started_at: Schema.NullOr(Timestamp),
  last_finished_at: Schema.NullOr(Timestamp),
  last_report: Schema.NullOr(SweepReport),
  last_error: Schema.NullOr(Schema.String)
}).annotations({ identifier: "SweepStatus" })

// -------------------------------------------------------------------------------------------------
// Health

export const Health = Schema.Struct({ status: Schema.Literal("ok") }).annotations({ identifier: "Health" })
export const Ready = Schema.Struct({ status: Schema.Literal("ready"), database: Schema.Literal("ok") }).annotations({ identifier: "Ready" })

