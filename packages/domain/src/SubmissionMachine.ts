/** The submission lifecycle: created valid or invalid, then reviewed, then possibly disputed. */
import { Schema } from "effect"
import type { Machine } from "./StateMachine.js"

/** `none` is the pseudo-state before a submission exists; no record is ever stored in it. */
export const states = ["none", "pending_review", "invalid", "approved", "rejected", "disputed", "resolved"] as const
export const State = Schema.Literal(...states)
export type State = typeof State.Type

/** The statuses a stored submission can have (every state but the pseudo-state `none`). */
export const Status = Schema.Literal("pending_review", "invalid", "approved", "rejected", "disputed", "resolved")
export type Status = typeof Status.Type

export const events = [
  "create_valid",
  "create_invalid",
  "approve",
  "review_timeout",
  "reject",
  "resolve_worker_award",
  "resolve_requester_refund",
  "resolve_split"
] as const
export const Event = Schema.Literal(...events)
export type Event = typeof Event.Type

export const machine: Machine<State, Event> = {
  name: "submission",
  title: "Submission",
  description:
    "A worker's delivery for an accepted bounty. Verification decides at creation whether it is reviewable; an invalid submission is final and the worker may submit again while the bounty is `accepted`.",
  initial: "none",
  creation: "`POST /v1/bounties/{id}/submit`: verification runs before the record is written",
  states: {
    none: { kind: "initial", description: "Before the submission exists." },
    pending_review: {
      kind: "active",
      description: "Verified; waits for closure.",
      deadline: "`review_deadline_at` (the bounty's review window)",
      onDeadline: { kind: "event", event: "review_timeout", note: "auto-approve" }
    },
    disputed: {
      kind: "active",
      description: "Rejected; the dispute waits for an operator.",
      deadline: "`dispute_deadline_at` (the bounty's dispute window)",
      onDeadline: { kind: "flag", flag: "escalated_at", note: "escalated to an operator; the state does not change" }
    },
    invalid: { kind: "terminal", description: "Failed verification; never reviewed, never paid." },
    approved: { kind: "terminal", description: "Accepted and paid." },
    rejected: { kind: "terminal", description: "The dispute went to the requester." },
    resolved: { kind: "terminal", description: "The dispute ended in a split." }
  },
  events,
  transitions: [
    { from: "none", event: "create_valid", to: "pending_review", moneyMoves: false, description: "Every proof verifies: the submission is recorded for review and the bounty moves to `pending_review`." },
    { from: "none", event: "create_invalid", to: "invalid", moneyMoves: false, description: "A proof fails verification: recorded as invalid with the reason; the bounty stays `accepted`." },
    { from: "pending_review", event: "approve", to: "approved", moneyMoves: true, description: "Approved by the closure path; the escrow is released." },
    { from: "pending_review", event: "review_timeout", to: "approved", moneyMoves: true, description: "Nobody reviewed in time: auto-approved and released." },
    { from: "pending_review", event: "reject", to: "disputed", moneyMoves: false, description: "Rejected: a dispute opens, funds stay held." },
    { from: "disputed", event: "resolve_worker_award", to: "approved", moneyMoves: true, description: "The operator awards the worker." },
    { from: "disputed", event: "resolve_requester_refund", to: "rejected", moneyMoves: true, description: "The operator refunds the requester." },
    { from: "disputed", event: "resolve_split", to: "resolved", moneyMoves: true, description: "The operator splits the hold." }
  ]
}
