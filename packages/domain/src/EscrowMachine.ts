/** The escrow lifecycle: one hold per job, spent only by that job's release, refund or split. */
import { Schema } from "effect"
import type { Machine } from "./StateMachine.js"

export const states = ["held", "frozen", "released", "refunded", "split", "cancelled"] as const
export const Status = Schema.Literal(...states)
export type Status = typeof Status.Type

export const events = ["assign", "unassign", "release", "freeze", "void", "refund", "split"] as const
export const Event = Schema.Literal(...events)
export type Event = typeof Event.Type

export const machine: Machine<Status, Event> = {
  name: "escrow",
  title: "Escrow",
  description:
    "The money of one job: the buyer total (principal plus buyer fees) moved from the requester's available to held balance at post. Only this escrow's hold is ever spent by its release, refund or split.",
  initial: "held",
  creation: "at bounty post, in the same transaction: ledger hold A→H of the buyer total",
  states: {
    held: {
      kind: "active",
      description: "Funds held; a worker may or may not be assigned.",
      deadline: "the bounty's current deadline",
      onDeadline: {
        kind: "follows",
        machine: "bounty",
        note: "bounty `expire`/`acceptance_timeout_cancel` → `void`; `acceptance_timeout` → `unassign`; `review_timeout` → `release`"
      }
    },
    frozen: {
      kind: "active",
      description: "A dispute is open; nothing can be released until it is resolved.",
      deadline: "the bounty's `dispute_deadline_at`",
      onDeadline: { kind: "flag", flag: "escalated_at", note: "escalated to an operator; funds stay frozen" }
    },
    released: { kind: "terminal", description: "The worker received the worker net and the platform the fees." },
    refunded: { kind: "terminal", description: "The requester received the whole hold back after a dispute." },
    split: { kind: "terminal", description: "The hold was divided between worker and requester after a dispute." },
    cancelled: { kind: "terminal", description: "The hold was voided before work was delivered; the requester got it all back." }
  },
  events,
  transitions: [
    { from: "held", event: "assign", to: "held", moneyMoves: false, description: "A worker accepts the bounty; the escrow records the worker (only if none is assigned)." },
    { from: "held", event: "unassign", to: "held", moneyMoves: false, description: "The acceptance timed out with policy `reopen`; the worker is removed." },
    { from: "held", event: "release", to: "released", moneyMoves: true, description: "Approval or review timeout: worker net to the worker's available balance, fees to the platform fee pool." },
    { from: "held", event: "freeze", to: "frozen", moneyMoves: false, description: "The submission was rejected; a dispute opens and nothing moves." },
    { from: "held", event: "void", to: "cancelled", moneyMoves: true, description: "The bounty was cancelled or expired: the whole hold returns to the requester." },
    { from: "frozen", event: "release", to: "released", moneyMoves: true, description: "The dispute went to the worker: released as above." },
    { from: "frozen", event: "refund", to: "refunded", moneyMoves: true, description: "The dispute went to the requester: the whole hold, fees included, returns to the requester." },
    { from: "frozen", event: "split", to: "split", moneyMoves: true, description: "The dispute ended in a split: each side's share leaves this hold." }
  ]
}
