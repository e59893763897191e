/**
 * Requester closure: approve releases the escrow from the fee snapshot; reject opens a dispute with
 * the funds still held. The same approval path serves the review-window timeout (auto-approve).
 */
import { SqlClient } from "@effect/sql"
import { ErrorCatalogue, Ids } from "@clawbounties/domain"
import { Effect, Option, Schema } from "effect"
import { type Actor, requireRole } from "./Actor.js"
import * as Audit from "./Audit.js"
import { requireBeforeDeadline, requireBounty } from "./Bounties.js"
import * as BountyStore from "./BountyStore.js"
import { addSeconds, nowIso, transaction } from "./Command.js"
import type { ApprovedVia } from "./Events.js"
import * as Idempotency from "./Idempotency.js"
import * as Outbox from "./Outbox.js"
import * as Requests from "./Requests.js"
import * as Settlement from "./Settlement.js"
import { OPERATOR_DID } from "./Tokens.js"
import * as Transitions from "./Transitions.js"

export const ApproveResponse = Schema.Struct({
  bounty_id: Schema.String,
  submission_id: Schema.String,
  status: Schema.Literal("approved"),
  escrow_id: Schema.String,
  escrow_status: Schema.Literal("released"),
  worker_did: Schema.String,
  worker_paid_minor: Schema.String,
  platform_fee_minor: Schema.String,
  currency: Schema.String,
  ledger_entry_id: Schema.String,
  approved_by: Schema.String,
  approved_at: Schema.String
}).annotations({ identifier: "ApproveSubmissionResponse" })
export type ApproveResponse = typeof ApproveResponse.Type

const requireSubmissionOf = (bounty: BountyStore.BountyRow, submissionId: string) =>
  Effect.gen(function* () {
    const submission = yield* BountyStore.findSubmission(submissionId)
    if (Option.isNone(submission) || submission.value.bounty_id !== bounty.bounty_id) {
      return yield* new ErrorCatalogue.NotFound({ entity: "submission", id: submissionId })
    }
    if (submission.value.status !== "pending_review") {
      return yield* new ErrorCatalogue.SubmissionNotPendingReview({ submission_id: submissionId, status: submission.value.status })
    }
    return submission.value
  })

/**
 * The events of an approval, the same whichever path approved (`via`): the requester, the review
 * deadline, or an operator's award in the dispute `disputeId`.
 */
export const approvalEvents = (
  approval: ApproveResponse,
  requesterDid: string,
  via: ApprovedVia,
  disputeId: string | null
): ReadonlyArray<Outbox.NewEvent> => {
  const recipients = [requesterDid, approval.worker_did]
  return [
    { type: "bounty.approved", subjectType: "bounty", subjectId: approval.bounty_id, recipients, payload: { ...approval, via, dispute_id: disputeId } },
    {
      type: "submission.approved",
      subjectType: "submission",
      subjectId: approval.submission_id,
      recipients,
      payload: { submission_id: approval.submission_id, bounty_id: approval.bounty_id, status: "approved", via, dispute_id: disputeId }
    },
    {
      type: "escrow.released",
      subjectType: "escrow",
      subjectId: approval.escrow_id,
      recipients,
      payload: {
        escrow_id: approval.escrow_id,
        bounty_id: approval.bounty_id,
        submission_id: approval.submission_id,
        worker_did: approval.worker_did,
        worker_paid_minor: approval.worker_paid_minor,
        platform_fee_minor: approval.platform_fee_minor,
        currency: approval.currency,
        ledger_entry_id: approval.ledger_entry_id
      }
    }
  ]
}

/**
 * Approves the submission under review and pays: shared by the requester's approve
 * (`event = "approve"`) and the review window's end (`event = "review_timeout"`).
 */
export const approveUnderReview = (
  bounty: BountyStore.BountyRow,
  submission: BountyStore.SubmissionRow,
  event: "approve" | "review_timeout",
  approvedBy: string
) =>
  Effect.gen(function* () {
    const escrow = yield* BountyStore.escrowOfBounty(bounty.bounty_id)
    const now = yield* nowIso
    yield* Transitions.bounty(bounty, event, { deadline_at: null })
    yield* Transitions.submission(submission, event)
    yield* Transitions.escrow(escrow, "release", { released_at: now })
    // Paid after the transitions: paying locks `platform:fees`, which every approval credits, until
    // COMMIT, so on PostgreSQL approvals take turns through that window; it should hold no more
    // statements than it must (the events and the audit row need the ledger entry).
    const paid = yield* Settlement.payWorker(bounty, escrow, event === "approve" ? "bounty_approved" : "review_window_elapsed")
    const response: ApproveResponse = {
      bounty_id: bounty.bounty_id,
      submission_id: submission.submission_id,
      status: "approved",
      escrow_id: escrow.escrow_id,
      escrow_status: "released",
      worker_did: submission.worker_did,
      worker_paid_minor: paid.workerAmount.toString(),
      platform_fee_minor: paid.platformFee.toString(),
      currency: bounty.currency,
      ledger_entry_id: paid.entryId,
      approved_by: approvedBy,
      approved_at: now
    }
    yield* Outbox.append(...approvalEvents(response, bounty.requester_did, event === "approve" ? "requester" : "auto_approval", null))
    yield* Audit.record({
      actor: approvedBy,
      action: event === "approve" ? "bounty.approve" : "bounty.auto_approve",
      entityType: "bounty",
      entityId: bounty.bounty_id,
      before: { status: bounty.status, submission_status: submission.status, escrow_status: escrow.status },
      after: { status: "approved", submission_status: "approved", escrow_status: "released", worker_paid_minor: response.worker_paid_minor }
    })
    return response
  })

/** The requester approves a valid submission under review. */
const validApprove = Requests.validate(Requests.Approve)

export const approve = Effect.fn("Closure.approve")(function* (actor: Actor, bountyId: string, input: Requests.Approve) {
  yield* requireRole(actor, "requester")
  yield* BountyStore.requireIdForm("bounty", bountyId)
  yield* validApprove(input)
  if (input.requester_did !== undefined && input.requester_did !== actor.did) {
    return yield* new ErrorCatalogue.Forbidden({ reason: "requester_did must be the caller's own DID" })
  }
  const command = Effect.gen(function* () {
    const bounty = yield* requireBounty(bountyId, { lock: true })
    if (bounty.requester_did !== actor.did) return yield* new ErrorCatalogue.NotFound({ entity: "bounty", id: bountyId })
    const submission = yield* requireSubmissionOf(bounty, input.submission_id)
    return yield* approveUnderReview(bounty, submission, "approve", actor.did)
  })
  const key = input.idempotency_key ?? `bounty:${bountyId}:approve`
  return yield* transaction(
    Idempotency.once({ principal: actor.did, command: "bounty.approve", key, request: { bountyId, ...input }, response: ApproveResponse })(command)
  )
})

export const RejectResponse = Schema.Struct({
  bounty_id: Schema.String,
  submission_id: Schema.String,
  status: Schema.Literal("disputed"),
  dispute_id: Schema.String,
  escrow_id: Schema.String,
  escrow_status: Schema.Literal("frozen"),
  dispute_deadline_at: Schema.String
}).annotations({ identifier: "RejectSubmissionResponse" })
export type RejectResponse = typeof RejectResponse.Type

/** The requester rejects: a dispute opens, the escrow freezes, the money stays held. */
const validReject = Requests.validate(Requests.Reject)

export const reject = Effect.fn("Closure.reject")(function* (actor: Actor, bountyId: string, input: Requests.Reject) {
  yield* requireRole(actor, "requester")
  yield* BountyStore.requireIdForm("bounty", bountyId)
  yield* validReject(input)
  if (input.requester_did !== undefined && input.requester_did !== actor.did) {
    return yield* new ErrorCatalogue.Forbidden({ reason: "requester_did must be the caller's own DID" })
  }
  const command = Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const ids = yield* Ids.IdGen
    const bounty = yield* requireBounty(bountyId, { lock: true })
    if (bounty.requester_did !== actor.did) return yield* new ErrorCatalogue.NotFound({ entity: "bounty", id: bountyId })
    const submission = yield* requireSubmissionOf(bounty, input.submission_id)
    const now = yield* nowIso
    // At the end of the review window the worker is owed the auto-approval, swept or not yet.
    yield* requireBeforeDeadline(bounty, now)
    const escrow = yield* BountyStore.escrowOfBounty(bountyId)
    const disputeId = yield* ids.make("dispute")
    const deadlineAt = addSeconds(now, bounty.deadlines.dispute)

    yield* Transitions.bounty(bounty, "reject", { deadline_at: null })
    yield* Transitions.submission(submission, "reject")
    yield* Transitions.escrow(escrow, "freeze")
    yield* sql`INSERT INTO disputes ${sql.insert({
      dispute_id: disputeId,
      bounty_id: bountyId,
      submission_id: submission.submission_id,
      opened_by: actor.did,
      reason: input.reason,
      status: "open",
      escalated: 0,
      deadline_at: deadlineAt,
      outcome: null,
      worker_share_bps: null,
      resolved_by: null,
      resolution_note: null,
      created_at: now,
      resolved_at: null
    })}`
    const response: RejectResponse = {
      bounty_id: bountyId,
      submission_id: submission.submission_id,
      status: "disputed",
      dispute_id: disputeId,
      escrow_id: escrow.escrow_id,
      escrow_status: "frozen",
      dispute_deadline_at: deadlineAt
    }
    const recipients = [bounty.requester_did, submission.worker_did]
    yield* Outbox.append(
      { type: "bounty.disputed", subjectType: "bounty", subjectId: bountyId, recipients, payload: { ...response, reason: input.reason } },
      // The worker follows its submission: it is disputed now, and why.
      {
        type: "submission.disputed",
        subjectType: "submission",
        subjectId: submission.submission_id,
        recipients,
        payload: { submission_id: submission.submission_id, bounty_id: bountyId, status: "disputed", dispute_id: disputeId, reason: input.reason }
      },
      // Operators resolve disputes: they read of a new one in the operator principal's feed.
      { type: "dispute.opened", subjectType: "dispute", subjectId: disputeId, recipients: [...recipients, OPERATOR_DID], payload: { ...response, reason: input.reason } },
      { type: "escrow.frozen", subjectType: "escrow", subjectId: escrow.escrow_id, recipients, payload: { escrow_id: escrow.escrow_id, bounty_id: bountyId, dispute_id: disputeId } }
    )
    yield* Audit.record({
      actor: actor.did,
      action: "bounty.reject",
      entityType: "bounty",
      entityId: bountyId,
      before: { status: bounty.status, submission_status: submission.status, escrow_status: escrow.status },
      after: { status: "disputed", dispute_id: disputeId, reason: input.reason }
    })
    return response
  })
  const key = input.idempotency_key ?? `bounty:${bountyId}:reject`
  return yield* transaction(
    Idempotency.once({ principal: actor.did, command: "bounty.reject", key, request: { bountyId, ...input }, response: RejectResponse })(command)
  )
})
