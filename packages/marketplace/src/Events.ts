/**
 * The event catalogue in code: for each event type its subject and the Schema of its payload.
 * `Outbox.append` takes only these events, so a command that writes a payload of the wrong shape
 * does not compile; the feed decodes what it reads with them; and the OpenAPI document describes
 * `GET /v1/events` from them, one schema per type. `docs/events.md` says when each is written (a
 * test checks that both list the same types).
 *
 * Each type reads one way: an event type that several paths write carries the same fields from
 * each (`bounty.approved` from the requester, the review deadline or a dispute's award), none of
 * them optional, null where one does not apply. A bounty or submission event that announces a state
 * is named after it: `bounty.disputed` when the requester rejects, `bounty.rejected` when the
 * dispute refunds the requester.
 *
 * Stored events are decoded with these schemas for as long as they are kept (`EVENT_RETENTION`), and
 * one that no longer decodes fails its recipient's feed. So a field added to a type must decode from
 * older events too (a default for when it is absent), and a change of meaning is a new type.
 */
import { BountyMachine, EscrowMachine } from "@clawbounties/domain"
import { Schema } from "effect"
import { AcceptResponse, PostResponse } from "./Bounties.js"
import { ApproveResponse, RejectResponse } from "./Closure.js"
import { ResolveResponse } from "./Disputes.js"
import { RegistrableRole } from "./Identities.js"
import { AdjustmentResponse } from "./Operators.js"
import { SubmitResponse } from "./Submissions.js"
import { Role } from "./Tokens.js"
import { JobType, Status as WorkerStatus, Worker } from "./Workers.js"

export const SubjectType = Schema.Literal("bounty", "submission", "escrow", "dispute", "worker", "identity", "account")
export type SubjectType = typeof SubjectType.Type

/** Who approved a submission: its requester, the review deadline, or an operator's award in a dispute. */
export const ApprovedVia = Schema.Literal("requester", "auto_approval", "dispute")
export type ApprovedVia = typeof ApprovedVia.Type

/** What a dispute's refund or split writes in its `bounty.*` and `escrow.*` events (an award writes an approval's). */
const Settled = Schema.Struct({
  ...ResolveResponse.fields,
  submission_id: Schema.String,
  escrow_id: Schema.String,
  worker_did: Schema.String,
  worker_paid_minor: Schema.String,
  currency: Schema.String
}).annotations({ identifier: "DisputeSettlement" })

/** A submission at the end of its dispute: what `submission.rejected` and `submission.resolved` carry, beside the status. */
const DisputeEnded = { submission_id: Schema.String, bounty_id: Schema.String, dispute_id: Schema.String }

// Payloads of more than one type are named once in the OpenAPI document.
const Registration = Schema.Struct({ did: Schema.String, role: RegistrableRole, challenge_id: Schema.String, token_id: Schema.String })
  .annotations({ identifier: "IdentityRegistration" })
const Adjustment = Schema.Struct({ ...AdjustmentResponse.fields, reason: Schema.String }).annotations({ identifier: "BalanceAdjustmentWithReason" })
/** A hold returned whole to the requester: cancelled, expired or a missed work deadline. */
const Returned = {
  bounty_id: Schema.String,
  status: BountyMachine.Status,
  escrow_id: Schema.String,
  escrow_status: EscrowMachine.Status,
  refunded_minor: Schema.String,
  currency: Schema.String
}
/**
 * A hold returned, and why: a cancel's `reason` is the requester's (or null) or `work_deadline_missed`;
 * an expiry's `escrow.cancelled` has null.
 */
const ReturnedWithReason = Schema.Struct({ ...Returned, reason: Schema.NullOr(Schema.String) }).annotations({ identifier: "HoldReturnedWithReason" })
/** The requester's rejection: a dispute opens. */
const Rejection = Schema.Struct({ ...RejectResponse.fields, reason: Schema.String }).annotations({ identifier: "SubmissionRejection" })
const Reopened = Schema.Struct({
  bounty_id: Schema.String,
  status: BountyMachine.Status,
  escrow_id: Schema.String,
  previous_worker_did: Schema.NullOr(Schema.String),
  reason: Schema.Literal("work_deadline_missed"),
  /** The bounty's expiry from its post: it is open until then, not for a fresh window. */
  expires_at: Schema.String
}).annotations({ identifier: "BountyReopening" })

const entry = <const T extends string, const S extends SubjectType, P extends Schema.Schema<any, any, never>>(type: T, subject: S, payload: P) =>
  ({ type, subject, payload }) as const

/** Every event type, its subject and its payload. */
export const catalogue = [
  entry("identity.registered", "identity", Registration),
  entry("token.issued", "identity", Registration),
  entry("token.rotated", "identity", Schema.Struct({ did: Schema.String, role: Role, token_id: Schema.String, replaced_by: Schema.String })),
  entry("token.revoked", "identity", Schema.Struct({
    did: Schema.String,
    role: Role,
    token_id: Schema.String,
    reason: Schema.String,
    revoked_by: Schema.String,
    /** The token whose revocation revoked this one, its successor by rotation; null when this one was named. */
    revoked_via: Schema.NullOr(Schema.String)
  })),
  entry("worker.registered", "worker", Schema.Struct({ worker_id: Schema.String, worker_did: Schema.String, status: WorkerStatus, job_types: Schema.Array(JobType) })),
  entry("worker.updated", "worker", Schema.Struct({
    worker_id: Schema.String,
    worker_did: Schema.String,
    status: WorkerStatus,
    changed: Schema.Array(Schema.keyof(Worker.pipe(Schema.omit("updated_at"))))
  })),
  entry("balance.manual_credit", "account", Adjustment),
  entry("balance.manual_debit", "account", Adjustment),
  entry("bounty.posted", "bounty", PostResponse),
  entry("escrow.held", "escrow", Schema.Struct({ escrow_id: Schema.String, bounty_id: Schema.String, amount_minor: Schema.String, currency: Schema.String, hold_id: Schema.String })),
  entry("bounty.accepted", "bounty", AcceptResponse),
  entry("escrow.assigned", "escrow", Schema.Struct({ escrow_id: Schema.String, bounty_id: Schema.String, worker_did: Schema.String, assigned_at: Schema.String })),
  entry("submission.created", "submission", SubmitResponse),
  entry("submission.invalid", "submission", SubmitResponse),
  entry("bounty.pending_review", "bounty", Schema.Struct({
    bounty_id: Schema.String,
    status: Schema.Literal("pending_review"),
    submission_id: Schema.String,
    review_deadline_at: Schema.String
  })),
  entry("bounty.approved", "bounty", Schema.Struct({
    ...ApproveResponse.fields,
    via: ApprovedVia,
    /** The dispute whose award approved it (`via: "dispute"`), else null. */
    dispute_id: Schema.NullOr(Schema.String)
  })),
  entry("submission.approved", "submission", Schema.Struct({
    submission_id: Schema.String,
    bounty_id: Schema.String,
    status: Schema.Literal("approved"),
    via: ApprovedVia,
    dispute_id: Schema.NullOr(Schema.String)
  })),
  entry("escrow.released", "escrow", Schema.Struct({
    escrow_id: Schema.String,
    bounty_id: Schema.String,
    submission_id: Schema.String,
    worker_did: Schema.String,
    worker_paid_minor: Schema.String,
    platform_fee_minor: Schema.String,
    currency: Schema.String,
    ledger_entry_id: Schema.String
  })),
  entry("bounty.disputed", "bounty", Rejection),
  entry("submission.disputed", "submission", Schema.Struct({
    submission_id: Schema.String,
    bounty_id: Schema.String,
    status: Schema.Literal("disputed"),
    dispute_id: Schema.String,
    reason: Schema.String
  })),
  entry("dispute.opened", "dispute", Rejection),
  entry("escrow.frozen", "escrow", Schema.Struct({ escrow_id: Schema.String, bounty_id: Schema.String, dispute_id: Schema.String })),
  entry("dispute.escalated", "dispute", Schema.Struct({ dispute_id: Schema.String, bounty_id: Schema.String })),
  entry("dispute.resolved", "dispute", Schema.Struct({ ...ResolveResponse.fields, currency: Schema.String })),
  entry("bounty.rejected", "bounty", Schema.Struct({ ...Settled.fields, status: Schema.Literal("rejected") })),
  entry("submission.rejected", "submission", Schema.Struct({ ...DisputeEnded, status: Schema.Literal("rejected") })),
  entry("escrow.refunded", "escrow", Settled),
  entry("bounty.resolved", "bounty", Schema.Struct({ ...Settled.fields, status: Schema.Literal("resolved") })),
  entry("submission.resolved", "submission", Schema.Struct({ ...DisputeEnded, status: Schema.Literal("resolved") })),
  entry("escrow.split", "escrow", Settled),
  entry("bounty.cancelled", "bounty", ReturnedWithReason),
  entry("escrow.cancelled", "escrow", ReturnedWithReason),
  entry("bounty.expired", "bounty", Schema.Struct(Returned)),
  entry("bounty.reopened", "bounty", Reopened),
  entry("escrow.unassigned", "escrow", Reopened)
] as const

type Entry = (typeof catalogue)[number]
export type Type = Entry["type"]
/** The payload of events of type `T`. */
export type Payload<T extends Type> = Schema.Schema.Type<Extract<Entry, { readonly type: T }>["payload"]>

/** An event a command writes: its type's subject and payload, for the given recipients. */
export type NewEvent = {
  readonly [T in Type]: {
    readonly type: T
    readonly subjectType: Extract<Entry, { readonly type: T }>["subject"]
    readonly subjectId: string
    /** DIDs that may read the event (the parties to the subject). */
    readonly recipients: ReadonlyArray<string>
    readonly payload: Payload<T>
  }
}[Type]

/** `bounty.pending_review` -> `BountyPendingReview`: the name of a type's schema in the OpenAPI document. */
export const schemaName = (type: string): string =>
  type.split(/[._]/).map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join("")
