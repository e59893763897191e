/**
 * Deadlines: every non-terminal state has one and a default exit (ARCHITECTURE §4), so nobody's
 * silence leaves money stuck. `sweep` applies every due transition, each in its own transaction
 * that re-reads and locks the record first, so several sweepers (or a sweeper racing a user) never
 * apply one twice: on PostgreSQL a record another sweeper holds is skipped (`SKIP LOCKED`).
 */
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Option } from "effect"
import * as Audit from "./Audit.js"
import { openBountyRecipients } from "./Bounties.js"
import * as BountyStore from "./BountyStore.js"
import * as Identities from "./Identities.js"
import { approveUnderReview } from "./Closure.js"
import { addSeconds, nowIso, transaction } from "./Command.js"
import { MarketplaceConfig } from "./MarketplaceConfig.js"
import * as Outbox from "./Outbox.js"
import * as Settlement from "./Settlement.js"
import { OPERATOR_DID } from "./Tokens.js"
import * as Transitions from "./Transitions.js"

/** The actor named in audit rows and events for transitions made by the clock. */
export const SYSTEM = "system:deadlines"

export interface SweepReport {
  readonly expired: number
  readonly reopened: number
  readonly cancelled: number
  readonly autoApproved: number
  readonly escalated: number
  /** Due records another sweeper or command had already moved. */
  readonly skipped: number
  /** Expired, unanswered registration challenges deleted. */
  readonly challengesPurged: number
  /** Events deleted past `EVENT_RETENTION`. */
  readonly eventsPurged: number
}

type Applied = "expired" | "reopened" | "cancelled" | "autoApproved" | "escalated" | "skipped"

/** Locks the bounty if it is still due; `None` when it moved on or another sweeper holds it. */
const claimBounty = (bountyId: string, now: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const lock = sql.onDialectOrElse({ pg: () => sql.literal("FOR UPDATE SKIP LOCKED"), orElse: () => sql.literal("") })
    const due = yield* sql`SELECT bounty_id FROM bounties WHERE bounty_id = ${bountyId} AND deadline_at <= ${now} ${lock}`
    return due.length === 0 ? Option.none() : yield* BountyStore.findBounty(bountyId)
  })

/** The audit row of a transition the clock made (the sweep is the actor). */
const audit = (bounty: BountyStore.BountyRow, action: string, after: Record<string, unknown>) =>
  Audit.record({
    actor: SYSTEM,
    action,
    entityType: "bounty",
    entityId: bounty.bounty_id,
    before: { status: bounty.status, worker_did: bounty.worker_did, deadline_at: bounty.deadline_at },
    after
  })

const expire = (bounty: BountyStore.BountyRow) =>
  Effect.gen(function* () {
    const escrow = yield* BountyStore.escrowOfBounty(bounty.bounty_id)
    const refunded = yield* Settlement.refund(bounty, escrow, "bounty_expired")
    yield* Transitions.bounty(bounty, "expire", { deadline_at: null })
    yield* Transitions.escrow(escrow, "void")
    const payload = { bounty_id: bounty.bounty_id, status: "expired" as const, escrow_id: escrow.escrow_id, escrow_status: "cancelled" as const, refunded_minor: refunded.refund.toString(), currency: bounty.currency }
    yield* Outbox.append(
      { type: "bounty.expired", subjectType: "bounty", subjectId: bounty.bounty_id, recipients: openBountyRecipients(bounty), payload },
      { type: "escrow.cancelled", subjectType: "escrow", subjectId: escrow.escrow_id, recipients: [bounty.requester_did], payload: { ...payload, reason: null } }
    )
    yield* audit(bounty, "bounty.expire", { status: "expired", escrow_status: "void", refunded_minor: payload.refunded_minor })
    return "expired" as const
  })

const acceptanceTimeout = (bounty: BountyStore.BountyRow, now: string) =>
  Effect.gen(function* () {
    const config = yield* MarketplaceConfig
    const escrow = yield* BountyStore.escrowOfBounty(bounty.bounty_id)
    const recipients = [bounty.requester_did, ...(bounty.worker_did === null ? [] : [bounty.worker_did])]
    if (config.acceptanceTimeout === "cancel") {
      const refunded = yield* Settlement.refund(bounty, escrow, "work_deadline_missed")
      yield* Transitions.bounty(bounty, "acceptance_timeout_cancel", { deadline_at: null })
      yield* Transitions.escrow(escrow, "void")
      // The fields of the requester's own cancel: one event type reads one way whoever cancelled.
      const payload = { bounty_id: bounty.bounty_id, status: "cancelled" as const, escrow_id: escrow.escrow_id, escrow_status: "cancelled" as const, refunded_minor: refunded.refund.toString(), currency: bounty.currency, reason: "work_deadline_missed" }
      yield* Outbox.append(
        { type: "bounty.cancelled", subjectType: "bounty", subjectId: bounty.bounty_id, recipients, payload },
        { type: "escrow.cancelled", subjectType: "escrow", subjectId: escrow.escrow_id, recipients, payload }
      )
      yield* audit(bounty, "bounty.acceptance_timeout", { status: "cancelled", escrow_status: "void", refunded_minor: payload.refunded_minor })
      return "cancelled" as const
    }
    // The offer stays open until the expiry given at post, not for a fresh window: a worker that
    // re-accepted each time the bounty reopened would hold the requester's money for ever. Past
    // that expiry it reopens already due, and a sweep expires it (refunding the requester).
    const postedExpiry = addSeconds(bounty.created_at, bounty.deadlines.open)
    const expiresAt = postedExpiry > now ? postedExpiry : now
    yield* Transitions.bounty(bounty, "acceptance_timeout", { worker_did: null, accepted_at: null, deadline_at: expiresAt })
    yield* Transitions.escrow(escrow, "unassign", { worker_did: null })
    const payload = { bounty_id: bounty.bounty_id, status: "open" as const, escrow_id: escrow.escrow_id, previous_worker_did: bounty.worker_did, reason: "work_deadline_missed" as const, expires_at: expiresAt }
    yield* Outbox.append(
      { type: "bounty.reopened", subjectType: "bounty", subjectId: bounty.bounty_id, recipients, payload },
      { type: "escrow.unassigned", subjectType: "escrow", subjectId: escrow.escrow_id, recipients, payload }
    )
    yield* audit(bounty, "bounty.acceptance_timeout", { status: "open", worker_did: null, deadline_at: expiresAt })
    return "reopened" as const
  })

const reviewTimeout = (bounty: BountyStore.BountyRow) =>
  Effect.gen(function* () {
    const submissions = yield* BountyStore.submissionsOfBounty(bounty.bounty_id)
    const underReview = submissions.find((submission) => submission.status === "pending_review")
    // A bounty under review always has exactly one submission under review (a unique index says so).
    if (underReview === undefined) return yield* Effect.dieMessage(`bounty ${bounty.bounty_id} is under review without a submission`)
    yield* approveUnderReview(bounty, underReview, "review_timeout", SYSTEM)
    return "autoApproved" as const
  })

const applyBounty = (bountyId: string) =>
  transaction(Effect.gen(function* () {
    const now = yield* nowIso
    const claimed = yield* claimBounty(bountyId, now)
    if (Option.isNone(claimed)) return "skipped" as const
    const bounty = claimed.value
    switch (bounty.status) {
      case "open":
        return yield* expire(bounty)
      case "accepted":
        return yield* acceptanceTimeout(bounty, now)
      case "pending_review":
        return yield* reviewTimeout(bounty)
      default:
        return "skipped" as const
    }
  }))

/** Flags a dispute nobody resolved in time for the operators' queue (it stays open, money held). */
const escalate = (disputeId: string) =>
  transaction(Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const now = yield* nowIso
    const rows = yield* sql`UPDATE disputes SET escalated = 1
      WHERE dispute_id = ${disputeId} AND status = 'open' AND escalated = 0 AND deadline_at <= ${now}
      RETURNING bounty_id`
    if (rows.length === 0) return "skipped" as const
    const dispute = Option.getOrThrow(yield* BountyStore.findDispute(disputeId))
    const bounty = Option.getOrThrow(yield* BountyStore.findBounty(dispute.bounty_id))
    // The operators too: escalation is how they learn a dispute is overdue.
    const recipients = [bounty.requester_did, ...(bounty.worker_did === null ? [] : [bounty.worker_did]), OPERATOR_DID]
    yield* Outbox.append({ type: "dispute.escalated", subjectType: "dispute", subjectId: disputeId, recipients, payload: { dispute_id: disputeId, bounty_id: bounty.bounty_id } })
    yield* Audit.record({ actor: SYSTEM, action: "dispute.escalate", entityType: "dispute", entityId: disputeId, before: { escalated: false }, after: { escalated: true } })
    return "escalated" as const
  }))

/**
 * Due records applied at once. Each is its own transaction either way; side by side, on SQLite
 * they share COMMITs (`GroupCommit`) and on PostgreSQL they use a few of the pool's connections,
 * leaving the rest to requests. (Applied one after another, a simulation's 265 due bounties took
 * 266 ms; four at a time, about 205 ms.)
 */
const SWEEP_CONCURRENCY = 4

/** One batch of each kind: at most `limit` due bounties and `limit` due disputes. */
const sweepBatch = (now: string, limit: number, concurrency: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // The id breaks ties: records due at one moment are otherwise in whatever order the store
    // finds them, and two runs of one seed would apply them differently. SQLite's planner, with no
    // statistics, prefers `bounties_status` and then reads and sorts every live bounty: the partial
    // index of live bounties by deadline reads only the due ones, already in order.
    const dueIndex = sql.onDialectOrElse({ pg: () => sql.literal(""), orElse: () => sql.literal("INDEXED BY bounties_due") })
    const dueBounties = yield* sql<{ bounty_id: string }>`SELECT bounty_id FROM bounties ${dueIndex}
      WHERE deadline_at <= ${now} AND status IN ('open', 'accepted', 'pending_review')
      ORDER BY deadline_at, bounty_id LIMIT ${limit}`
    const dueDisputes = yield* sql<{ dispute_id: string }>`SELECT dispute_id FROM disputes
      WHERE status = 'open' AND escalated = 0 AND deadline_at <= ${now}
      ORDER BY deadline_at, dispute_id LIMIT ${limit}`
    const applied: ReadonlyArray<Applied> = [
      ...yield* Effect.forEach(dueBounties, ({ bounty_id }) => applyBounty(bounty_id), { concurrency }),
      ...yield* Effect.forEach(dueDisputes, ({ dispute_id }) => escalate(dispute_id), { concurrency })
    ]
    return { applied, full: dueBounties.length === limit || dueDisputes.length === limit }
  })

/**
 * Applies every transition that is due now, in batches of `sweepBatchSize` of each kind, until none
 * is left: after a sweep no job is past its deadline, but for records a concurrent command or sweeper
 * held locked on PostgreSQL (`skipped`). If that command then failed (an accept refused at the
 * deadline, say), its record waits for the next sweep. A full batch in which nothing could be
 * applied (another sweeper holds its records) ends the sweep, so it never spins on them.
 */
export const sweep = Effect.fn("Deadlines.sweep")(function* () {
  const config = yield* MarketplaceConfig
  const now = yield* nowIso
  // Inside a caller's transaction each record's transaction is a savepoint on that one connection,
  // and savepoints must nest, not interleave: one at a time there.
  const inCallersTransaction = Option.isSome(yield* Effect.serviceOption(SqlClient.TransactionConnection))
  const concurrency = inCallersTransaction ? 1 : SWEEP_CONCURRENCY
  const report: Record<Applied, number> = { expired: 0, reopened: 0, cancelled: 0, autoApproved: 0, escalated: 0, skipped: 0 }
  let more = true
  while (more) {
    const batch = yield* sweepBatch(now, config.sweepBatchSize, concurrency)
    for (const kind of batch.applied) report[kind]++
    // A bounty reopened past the expiry given at post is due again at once: one more batch expires it.
    more = (batch.full || batch.applied.includes("reopened")) && batch.applied.some((kind) => kind !== "skipped")
  }
  // Batch after batch like the due records: anyone may ask for challenges, so one batch per sweep
  // would let a single client asking faster than that grow the table without bound.
  let challengesPurged = 0
  for (let purged = config.sweepBatchSize; purged === config.sweepBatchSize;) {
    purged = yield* Identities.purgeExpired(config.sweepBatchSize)
    challengesPurged += purged
  }
  // Records skipped because another replica holds them are that replica's to log.
  // Events past their retention, acknowledged or not: batch after batch like the rest.
  const retainedFrom = DateTime.formatIso(DateTime.subtractDuration(DateTime.unsafeMake(now), config.eventRetention))
  let eventsPurged = 0
  for (let purged = config.sweepBatchSize; purged === config.sweepBatchSize;) {
    purged = yield* transaction(Outbox.purgeOlderThan(retainedFrom, config.sweepBatchSize))
    eventsPurged += purged
  }
  const moved = report.expired + report.reopened + report.cancelled + report.autoApproved + report.escalated
  if (moved + challengesPurged + eventsPurged > 0) {
    yield* Effect.logInfo("deadline sweep", { ...report, challengesPurged, eventsPurged })
  }
  return { ...report, challengesPurged, eventsPurged } satisfies SweepReport
})

/** What a sweep can fail with: a transition's ledger, idempotency or state-machine error, or SQL. */
export type SweepError = Effect.Effect.Error<ReturnType<typeof sweep>>
