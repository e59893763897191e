/**
 * Disputes, minimum form: an operator resolves one with `worker_award`, `requester_refund` or a
 * `split`; the money moves from the bounty's own hold and the bounty, submission and escrow reach
 * final states that say who won, in one transaction.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { BountyMachine, ErrorCatalogue, EscrowMachine, Ids, SubmissionMachine } from "@clawbounties/domain"
import { Effect, Option, Schema } from "effect"
import { type Actor, requireRole } from "./Actor.js"
import * as Audit from "./Audit.js"
import { requireBounty } from "./Bounties.js"
import * as BountyStore from "./BountyStore.js"
import { approvalEvents } from "./Closure.js"
import { nowIso, transaction } from "./Command.js"
import * as Cursor from "./Cursor.js"
import * as Idempotency from "./Idempotency.js"
import * as Outbox from "./Outbox.js"
import * as Requests from "./Requests.js"
import * as Settlement from "./Settlement.js"
import * as Transitions from "./Transitions.js"
import * as Wire from "./Wire.js"

export const ResolveResponse = Schema.Struct({
  dispute_id: Schema.String,
  bounty_id: Schema.String,
  outcome: Requests.DisputeOutcome,
  worker_share_bps: Schema.Int,
  bounty_status: BountyMachine.Status,
  submission_status: SubmissionMachine.Status,
  escrow_status: EscrowMachine.Status,
  worker_amount_minor: Schema.String,
  platform_fee_minor: Schema.String,
  refund_minor: Schema.String,
  ledger_entry_id: Schema.String,
  resolved_at: Schema.String
}).annotations({ identifier: "ResolveDisputeResponse" })
export type ResolveResponse = typeof ResolveResponse.Type

const requireDispute = (disputeId: string) =>
  Effect.flatMap(BountyStore.findDispute(disputeId), Option.match({
    onNone: () => Effect.fail(new ErrorCatalogue.NotFound({ entity: "dispute", id: disputeId })),
    onSome: Effect.succeed
  }))

/** Each outcome's transitions of the bounty, the submission and the escrow. */
const machineEvents = {
  worker_award: { bounty: "resolve_worker_award", submission: "resolve_worker_award", escrow: "release" },
  requester_refund: { bounty: "resolve_requester_refund", submission: "resolve_requester_refund", escrow: "refund" },
  split: { bounty: "resolve_split", submission: "resolve_split", escrow: "split" }
} as const

const validResolve = Requests.validate(Requests.ResolveDispute)

export const resolve = Effect.fn("Disputes.resolve")(function* (actor: Actor, disputeId: string, input: Requests.ResolveDispute) {
  yield* requireRole(actor, "operator")
  yield* BountyStore.requireIdForm("dispute", disputeId)
  yield* validResolve(input)
  if (input.outcome === "split" && input.worker_share_bps === undefined) {
    return yield* new ErrorCatalogue.InvalidRequest({
      message: "a split needs worker_share_bps",
      issues: [{ path: "worker_share_bps", message: "required when outcome is split" }]
    })
  }
  // A share beside another outcome contradicts it: which one the operator meant moves the money.
  if (input.outcome !== "split" && input.worker_share_bps !== undefined) {
    return yield* new ErrorCatalogue.InvalidRequest({
      message: `worker_share_bps goes only with outcome split, not ${input.outcome}`,
      issues: [{ path: "worker_share_bps", message: "only with outcome split" }]
    })
  }
  const command = Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // Lock the bounty first (every command's lock order), then read the dispute again: a resolution
    // that committed while this one waited for the lock must be seen before any money moves.
    const { bounty_id } = yield* requireDispute(disputeId)
    const bounty = yield* requireBounty(bounty_id, { lock: true })
    const dispute = yield* requireDispute(disputeId)
    if (dispute.status !== "open") return yield* new ErrorCatalogue.DisputeNotOpen({ dispute_id: disputeId, status: dispute.status })
    const submission = Option.getOrThrow(yield* BountyStore.findSubmission(dispute.submission_id))
    const escrow = yield* BountyStore.escrowOfBounty(bounty.bounty_id)
    const now = yield* nowIso
    const bps = input.outcome === "worker_award" ? 10_000 : input.outcome === "requester_refund" ? 0 : input.worker_share_bps!
    const reason = `dispute_${input.outcome}`
    const paid = input.outcome === "requester_refund"
      ? yield* Settlement.refund(bounty, escrow, reason)
      : yield* Settlement.split(bounty, escrow, bps, reason)
    const events = machineEvents[input.outcome]
    const resolution = {
      dispute_id: disputeId,
      outcome: input.outcome,
      worker_share_bps: bps,
      worker_amount_minor: paid.workerAmount.toString(),
      platform_fee_minor: paid.platformFee.toString(),
      refund_minor: paid.refund.toString(),
      resolved_by: actor.did,
      resolved_at: now
    }
    const bountyStatus = yield* Transitions.bounty(bounty, events.bounty, { resolution: JSON.stringify(resolution), deadline_at: null })
    const submissionStatus = yield* Transitions.submission(submission, events.submission)
    const escrowStatus = yield* Transitions.escrow(escrow, events.escrow, { released_at: now })
    const updated = yield* sql`UPDATE disputes SET ${sql.update({
      status: "resolved",
      outcome: input.outcome,
      worker_share_bps: bps,
      resolved_by: actor.did,
      resolution_note: input.note ?? null,
      resolved_at: now
    })} WHERE dispute_id = ${disputeId} AND status = 'open' RETURNING dispute_id`
    if (updated.length !== 1) return yield* new ErrorCatalogue.DisputeNotOpen({ dispute_id: disputeId, status: "resolved" })

    const response: ResolveResponse = {
      dispute_id: disputeId,
      bounty_id: bounty.bounty_id,
      outcome: input.outcome,
      worker_share_bps: bps,
      bounty_status: bountyStatus,
      submission_status: submissionStatus,
      escrow_status: escrowStatus,
      worker_amount_minor: resolution.worker_amount_minor,
      platform_fee_minor: resolution.platform_fee_minor,
      refund_minor: resolution.refund_minor,
      ledger_entry_id: paid.entryId,
      resolved_at: now
    }
    const recipients = [bounty.requester_did, submission.worker_did]
    const settled = {
      ...response,
      submission_id: submission.submission_id,
      escrow_id: escrow.escrow_id,
      worker_did: submission.worker_did,
      worker_paid_minor: resolution.worker_amount_minor,
      currency: bounty.currency
    }
    const ended = { submission_id: submission.submission_id, bounty_id: bounty.bounty_id, dispute_id: disputeId }
    // Each outcome's events are named after the states it leads to. An award is an approval: its
    // events read as the requester's approval does, with the operator as the one who approved.
    const outcomeEvents: ReadonlyArray<Outbox.NewEvent> = input.outcome === "worker_award"
      ? approvalEvents({
        bounty_id: bounty.bounty_id,
        submission_id: submission.submission_id,
        status: "approved",
        escrow_id: escrow.escrow_id,
        escrow_status: "released",
        worker_did: submission.worker_did,
        worker_paid_minor: resolution.worker_amount_minor,
        platform_fee_minor: resolution.platform_fee_minor,
        currency: bounty.currency,
        ledger_entry_id: paid.entryId,
        approved_by: actor.did,
        approved_at: now
      }, bounty.requester_did, "dispute", disputeId)
      : input.outcome === "requester_refund"
      ? [
        { type: "bounty.rejected", subjectType: "bounty", subjectId: bounty.bounty_id, recipients, payload: { ...settled, status: "rejected" } },
        { type: "submission.rejected", subjectType: "submission", subjectId: submission.submission_id, recipients, payload: { ...ended, status: "rejected" } },
        { type: "escrow.refunded", subjectType: "escrow", subjectId: escrow.escrow_id, recipients, payload: settled }
      ]
      : [
        { type: "bounty.resolved", subjectType: "bounty", subjectId: bounty.bounty_id, recipients, payload: { ...settled, status: "resolved" } },
        { type: "submission.resolved", subjectType: "submission", subjectId: submission.submission_id, recipients, payload: { ...ended, status: "resolved" } },
        { type: "escrow.split", subjectType: "escrow", subjectId: escrow.escrow_id, recipients, payload: settled }
      ]
    yield* Outbox.append(
      { type: "dispute.resolved", subjectType: "dispute", subjectId: disputeId, recipients, payload: { ...response, currency: bounty.currency } },
      ...outcomeEvents
    )
    yield* Audit.record({
      actor: actor.did,
      action: "dispute.resolve",
      entityType: "dispute",
      entityId: disputeId,
      before: { status: "open", bounty_status: bounty.status, escrow_status: escrow.status },
      after: { ...response, note: input.note ?? null }
    })
    return response
  })
  const key = input.idempotency_key ?? `dispute:${disputeId}:resolve`
  return yield* transaction(
    Idempotency.once({ principal: actor.did, command: "dispute.resolve", key, request: { disputeId, ...input }, response: ResolveResponse })(command)
  )
})

/** A dispute, visible to its parties and operators. */
export const get = Effect.fn("Disputes.get")(function* (actor: Actor, disputeId: string) {
  const dispute = yield* requireDispute(disputeId)
  const bounty = yield* requireBounty(dispute.bounty_id)
  const visible = actor.role === "operator" || actor.did === bounty.requester_did || actor.did === bounty.worker_did
  if (!visible) return yield* new ErrorCatalogue.NotFound({ entity: "dispute", id: disputeId })
  return Wire.dispute(dispute)
})

/** One order of the queue: how its pages are read, and the cursor that says where a page ended. */
interface Listing<After> {
  readonly read: (page: { readonly after?: After; readonly limit: number }) => Effect.Effect<ReadonlyArray<BountyStore.DisputeRow>, SqlError, SqlClient.SqlClient>
  readonly cursorOf: (row: BountyStore.DisputeRow) => string
  /** Only a cursor this listing returned; another listing's is refused. */
  readonly decodeCursor: (cursor: string) => Effect.Effect<After, ErrorCatalogue.InvalidRequest>
}

/** Open disputes: escalated first, then oldest first; a page ends at a queue position. */
const openQueue: Listing<NonNullable<BountyStore.OpenDisputesPage["after"]>> = {
  read: BountyStore.listOpenDisputes,
  cursorOf: (row) => Cursor.encode([row.escalated ? "1" : "0", row.created_at, row.dispute_id]),
  decodeCursor: (cursor) =>
    Effect.map(
      Cursor.decode(cursor, [(part) => part === "0" || part === "1", Cursor.isTimestamp, Schema.is(Ids.DisputeId)]),
      ([escalated, createdAt, disputeId]) => ({ escalated: escalated === "1", createdAt: createdAt!, disputeId: disputeId! })
    )
}

/** Resolved disputes: most recently resolved first, as a review of decisions reads them. */
const resolvedList: Listing<NonNullable<BountyStore.ResolvedDisputesPage["after"]>> = {
  read: BountyStore.listResolvedDisputes,
  cursorOf: (row) => Cursor.encode([row.resolved_at!, row.dispute_id]),
  decodeCursor: (cursor) =>
    Effect.map(Cursor.decode(cursor, [Cursor.isTimestamp, Schema.is(Ids.DisputeId)]), ([resolvedAt, disputeId]) => ({
      resolvedAt: resolvedAt!,
      disputeId: disputeId!
    }))
}

const pageOf = <After>(listing: Listing<After>, cursor: string | undefined, limit: number) =>
  Effect.gen(function* () {
    const after = cursor === undefined ? undefined : yield* listing.decodeCursor(cursor)
    const rows = yield* listing.read({ ...(after === undefined ? {} : { after }), limit: limit + 1 })
    const { page, next_cursor } = Cursor.paginate(rows, limit, listing.cursorOf)
    return { disputes: page.map(Wire.dispute), next_cursor }
  })

/**
 * The operators' queue, a page at a time: open disputes by default (a dispute escalated while an
 * operator pages moves to the front, so it is on the first page of the next pass), or resolved ones.
 */
export const queue = Effect.fn("Disputes.queue")(function* (
  actor: Actor,
  options: { readonly status?: "open" | "resolved"; readonly cursor?: string | undefined; readonly limit?: number }
) {
  yield* requireRole(actor, "operator")
  const limit = Requests.pageSize(options.limit, 100, 500)
  return yield* options.status === "resolved" ? pageOf(resolvedList, options.cursor, limit) : pageOf(openQueue, options.cursor, limit)
})
