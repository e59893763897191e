/** The bounty (claim-mode job) lifecycle: one worker accepts, submits, and closure pays or disputes. */
import { Schema } from "effect"
import type { Machine } from "./StateMachine.js"

export const states = [
  "open",
  "accepted",
  "pending_review",
  "approved",
  "rejected",
  "disputed",
  "resolved",
  "cancelled",
  "expired"
] as const
export const Status = Schema.Literal(...states)
export type Status = typeof Status.Type

export const events = [
  "accept",
  "cancel",
  "expire",
  "submit_valid",
  "acceptance_timeout",
  "acceptance_timeout_cancel",
  "approve",
  "review_timeout",
  "reject",
  "resolve_worker_award",
  "resolve_requester_refund",
  "resolve_split"
] as const
export const Event = Schema.Literal(...events)
export type Event = typeof Event.Type

export const machine: Machine<Status, Event> = {
  name: "bounty",
  title: "Bounty",
  description:
    "A requester posts and funds a bounty; one worker accepts it and submits; closure (test harness, requester or quorum) approves it or opens a dispute. Funds stay in the bounty's escrow until a terminal state.",
  initial: "open",
  creation: "`POST /v1/bounties`: fee quote, escrow hold of the buyer total, bounty `open`",
  states: {
    open: {
      kind: "active",
      description: "Funded and waiting for a worker.",
      deadline: "`expires_at` (acceptance window)",
      onDeadline: { kind: "event", event: "expire" }
    },
    accepted: {
      kind: "active",
      description: "A worker holds the bounty and works on it.",
      deadline: "`submission_deadline_at` (set at accept)",
      onDeadline: {
        kind: "event",
        event: "acceptance_timeout",
        note: "`acceptance_timeout_cancel` instead when the bounty's timeout policy is `cancel`"
      }
    },
    pending_review: {
      kind: "active",
      description: "A valid submission waits for closure (harness, requester or quorum).",
      deadline: "`review_deadline_at` (set at submit)",
      onDeadline: { kind: "event", event: "review_timeout", note: "auto-approve, as a silent reviewer must not keep the worker's pay" }
    },
    disputed: {
      kind: "active",
      description: "The submission was rejected; funds stay held until an operator resolves the dispute.",
      deadline: "`dispute_deadline_at` (set at reject)",
      onDeadline: {
        kind: "flag",
        flag: "escalated_at",
        note: "the dispute is escalated to an operator; the state and the held funds do not change"
      }
    },
    approved: { kind: "terminal", description: "The worker was paid; fees went to the platform." },
    rejected: { kind: "terminal", description: "The dispute went to the requester, who was refunded in full." },
    resolved: { kind: "terminal", description: "The dispute ended in a split between worker and requester." },
    cancelled: { kind: "terminal", description: "Cancelled before completion; the requester was refunded in full." },
    expired: { kind: "terminal", description: "Nobody accepted in time; the requester was refunded in full." }
  },
  events,
  transitions: [
    { from: "open", event: "accept", to: "accepted", moneyMoves: false, description: "A worker accepts; the escrow is assigned to that worker." },
    { from: "open", event: "cancel", to: "cancelled", moneyMoves: true, description: "The requester cancels before anyone accepts; the hold is refunded in full." },
    { from: "open", event: "expire", to: "expired", moneyMoves: true, description: "Nobody accepted before `expires_at`; the hold is refunded in full." },
    { from: "accepted", event: "submit_valid", to: "pending_review", moneyMoves: false, description: "A submission passes verification (an invalid one is recorded and the bounty stays `accepted`)." },
    { from: "accepted", event: "acceptance_timeout", to: "open", moneyMoves: false, description: "No valid submission by the deadline, policy `reopen`: the worker is unassigned and the bounty is open again, funds still held." },
    { from: "accepted", event: "acceptance_timeout_cancel", to: "cancelled", moneyMoves: true, description: "No valid submission by the deadline, policy `cancel`: the hold is refunded in full." },
    { from: "pending_review", event: "approve", to: "approved", moneyMoves: true, description: "Approved (requester, passing harness or quorum): worker net to the worker, fees to the platform." },
    { from: "pending_review", event: "review_timeout", to: "approved", moneyMoves: true, description: "The review window ends without a decision: auto-approved and released like `approve`." },
    { from: "pending_review", event: "reject", to: "disputed", moneyMoves: false, description: "Rejected (requester, failing harness or quorum): a dispute opens and the escrow freezes." },
    { from: "disputed", event: "resolve_worker_award", to: "approved", moneyMoves: true, description: "The operator awards the worker: released like `approve`." },
    { from: "disputed", event: "resolve_requester_refund", to: "rejected", moneyMoves: true, description: "The operator refunds the requester: the full hold, fees included, returns to the requester." },
    { from: "disputed", event: "resolve_split", to: "resolved", moneyMoves: true, description: "The operator splits the hold between worker and requester." }
  ]
}
