/**
 * Disputes and the operators' tools: the dispute queue, manual adjustments, reconcile, the audit
 * log and the deadline sweep.
 */
import { Ledger } from "@clawbounties/ledger"
import { Audit, Disputes, Operators, Requests } from "@clawbounties/marketplace"
import { Effect } from "effect"
import { route } from "../Route.js"
import { Scheduler } from "../Scheduler.js"
import * as Schemas from "../Schemas.js"
import { anyRole, bountyErrors, ledgerErrors } from "./Common.js"

export const getDispute = route({
  method: "GET",
  path: "/v1/disputes/{dispute_id}",
  operationId: "getDispute",
  tag: "Disputes",
  summary: "One dispute, to its parties and operators.",
  auth: anyRole,
  status: 200,
  response: Schemas.Dispute,
  errors: ["NotFound"],
  handler: ({ actor, params }) => Disputes.get(actor, params.dispute_id!)
})

export const disputeQueue = route({
  method: "GET",
  path: "/v1/operator/disputes",
  operationId: "disputeQueue",
  tag: "Operators",
  summary: "The operators' dispute queue: open disputes escalated first, then oldest first; `status=resolved` lists the resolved ones, most recently resolved first.",
  auth: ["operator"],
  query: Schemas.DisputeQueueQuery,
  status: 200,
  response: Schemas.DisputeList,
  errors: ["InvalidRequest", "Forbidden"],
  handler: ({ actor, query }) =>
    Disputes.queue(actor, {
      ...(query.status === undefined ? {} : { status: query.status }),
      cursor: query.cursor,
      ...(query.limit === undefined ? {} : { limit: query.limit })
    })
})

export const resolveDispute = route({
  method: "POST",
  path: "/v1/operator/disputes/{dispute_id}/resolve",
  operationId: "resolveDispute",
  tag: "Operators",
  summary: "Resolve a dispute: worker_award, requester_refund or split (worker_share_bps).",
  auth: ["operator"],
  body: Requests.ResolveDispute,
  idempotent: true,
  status: 200,
  response: Disputes.ResolveResponse,
  errors: [...bountyErrors, ...ledgerErrors, "Forbidden", "DisputeNotOpen", "InvalidTransition"],
  handler: ({ actor, params, body }) => Disputes.resolve(actor, params.dispute_id!, body)
})

const adjustmentErrors = [...ledgerErrors, "Forbidden", "IdempotencyConflict"] as const

export const manualCredit = route({
  method: "POST",
  path: "/v1/operator/credits",
  operationId: "manualCredit",
  tag: "Operators",
  summary: "Credit a participant's available balance from world:manual, with a reason (audited).",
  description: "`purpose`: `deposit` (a top-up, the default) or `correction` (entry kind `adjustment`, shown on statements as its own line).",
  auth: ["operator"],
  body: Operators.Credit,
  idempotent: true,
  status: 201,
  response: Operators.AdjustmentResponse,
  errors: adjustmentErrors,
  handler: ({ actor, body }) => Operators.credit(actor, body)
})

export const manualDebit = route({
  method: "POST",
  path: "/v1/operator/debits",
  operationId: "manualDebit",
  tag: "Operators",
  summary: "Debit a participant's available balance to world:manual, with a reason (audited).",
  description: "`purpose`: `payout` (money paid out outside the engine, the default; counted in statements' payouts) or `correction` (entry kind `adjustment`, its own line).",
  auth: ["operator"],
  body: Operators.Debit,
  idempotent: true,
  status: 201,
  response: Operators.AdjustmentResponse,
  errors: adjustmentErrors,
  handler: ({ actor, body }) => Operators.debit(actor, body)
})

export const reconcile = route({
  method: "GET",
  path: "/v1/operator/reconcile",
  operationId: "reconcile",
  tag: "Operators",
  summary: "Recompute every balance from the postings and check every ledger invariant.",
  auth: ["operator"],
  status: 200,
  response: Schemas.ReconcileResponse,
  errors: [],
  handler: () => Effect.flatMap(Ledger.Ledger, (ledger) => ledger.reconcile)
})

export const auditLog = route({
  method: "GET",
  path: "/v1/operator/audit",
  operationId: "auditLog",
  tag: "Operators",
  summary: "The audit log, newest first, optionally for one entity; `next_cursor` pages to older rows.",
  auth: ["operator"],
  query: Schemas.AuditQuery,
  status: 200,
  response: Schemas.AuditResponse,
  errors: ["InvalidRequest"],
  handler: ({ query }) =>
    Audit.list({
      ...(query.entity_id === undefined ? {} : { entityId: query.entity_id }),
      cursor: query.cursor,
      ...(query.limit === undefined ? {} : { limit: query.limit })
    })
})

export const sweepStatus = route({
  method: "GET",
  path: "/v1/operator/sweep",
  operationId: "sweepStatus",
  tag: "Operators",
  summary: "The deadline scheduler: runs, failures, the last sweep's report.",
  auth: ["operator"],
  status: 200,
  response: Schemas.SweepStatus,
  errors: [],
  handler: () => Effect.flatMap(Scheduler, (scheduler) => scheduler.status)
})

export const runSweep = route({
  method: "POST",
  path: "/v1/operator/sweep",
  operationId: "runSweep",
  tag: "Operators",
  summary: "Run one deadline sweep now and return its report.",
  auth: ["operator"],
  body: Schemas.Empty,
  status: 200,
  response: Schemas.SweepReport,
  // A due transition the sweep cannot apply (a record the ledger disagrees with) fails the run.
  errors: [...ledgerErrors, "IdempotencyConflict", "InvalidTransition"],
  handler: () => Effect.flatMap(Scheduler, (scheduler) => scheduler.runNow)
})
