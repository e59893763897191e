/**
 * Invariant checks on the engine's own records, usable after any step of a test or a run:
 *
 * - `reconcile`: the ledger recomputes every balance from its postings and finds nothing wrong;
 * - `holdsBelongToLiveJobs`: every open hold is the escrow of a job that is still live (open,
 *   accepted, under review or disputed); an open hold of a finished job is stuck money;
 * - `escrowsMatchHolds`: an active escrow (held, frozen) has an open hold and a finished one a
 *   hold resolved its way (released escrows paid out, cancelled and refunded ones returned), and a
 *   finished bounty never has an active escrow;
 * - `noOverdueJobs`: after a sweep, no job is past its deadline in a non-terminal state (on
 *   PostgreSQL, a sweep skips records a concurrent command holds: run it when commands are quiet);
 * - `everyWaitHasADeadline`: no live job or open dispute lacks a deadline (it would wait for ever);
 * - `eventsMatchRecords`: every record has the events of its creation and status, none written twice;
 * - `conservation`: money that entered (world accounts' credits out) equals what participants and
 *   the platform hold plus what left, and the manual credits and debits equal the audit log's.
 *
 * Each check returns a {@link Result}; {@link check} runs them all and {@link assertAll} fails
 * (with every violation listed) when any does not hold.
 */
import { SqlClient } from "@effect/sql"
import { Ledger, Sums } from "@clawbounties/ledger"
import { MarketplaceConfig } from "@clawbounties/marketplace"
import { Data, DateTime, Effect, Option } from "effect"

export interface Result {
  readonly name: string
  readonly ok: boolean
  /** Up to 20 offending records, described. */
  readonly violations: ReadonlyArray<string>
  /** Counts or totals behind the verdict. */
  readonly facts?: Readonly<Record<string, string | number>>
}

export class InvariantViolated extends Data.TaggedError("InvariantViolated")<{ readonly results: ReadonlyArray<Result> }> {
  override get message() {
    return this.results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.violations.join("; ")}`).join("\n")
  }
}

const LIVE = ["open", "accepted", "pending_review", "disputed"] as const
const ACTIVE_ESCROW = ["held", "frozen"] as const
const sample = (rows: ReadonlyArray<string>) => rows.slice(0, 20)
const big = (value: unknown): bigint => (value === null || value === undefined ? 0n : BigInt(value as string | number | bigint))

const safe = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provideService(effect, SqlClient.SafeIntegers, true)

export const reconcile = Effect.gen(function* () {
  const ledger = yield* Ledger.Ledger
  const report = yield* ledger.reconcile
  return {
    name: "ledger_reconcile",
    ok: report.ok && report.discrepancies.length === 0,
    violations: sample(report.discrepancies.map((d) => `${d.kind}: ${d.detail}`)),
    facts: { accounts: report.accounts, entries: report.entries, postings: report.postings, holds: report.holds }
  } satisfies Result
})

export const holdsBelongToLiveJobs = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ id: string; amount: unknown; bounty_id: string | null; status: string | null }>`
    SELECT h.id, h.amount, b.bounty_id, b.status
    FROM ledger_holds h
    LEFT JOIN escrows e ON e.hold_id = h.id
    LEFT JOIN bounties b ON b.bounty_id = e.bounty_id
    WHERE h.status = 'open'`
  const stray = rows.filter((r) => r.status === null || !(LIVE as ReadonlyArray<string>).includes(r.status))
  return {
    name: "holds_belong_to_live_jobs",
    ok: stray.length === 0,
    violations: sample(stray.map((r) => r.bounty_id === null
      ? `hold ${r.id} (${big(r.amount)}) belongs to no escrow`
      : `hold ${r.id} (${big(r.amount)}) is open but bounty ${r.bounty_id} is ${r.status}`)),
    facts: { open_holds: rows.length, stray_holds: stray.length }
  } satisfies Result
}).pipe(safe)

export const escrowsMatchHolds = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ escrow_id: string; escrow_status: string; hold_status: string | null; bounty_status: string; worker_net_minor: unknown }>`
    SELECT e.escrow_id, e.status AS escrow_status, h.status AS hold_status, b.status AS bounty_status, b.worker_net_minor
    FROM escrows e
    JOIN bounties b ON b.bounty_id = e.bounty_id
    LEFT JOIN ledger_holds h ON h.id = e.hold_id`
  const violations: Array<string> = []
  for (const r of rows) {
    const active = (ACTIVE_ESCROW as ReadonlyArray<string>).includes(r.escrow_status)
    const live = (LIVE as ReadonlyArray<string>).includes(r.bounty_status)
    // How a finished escrow's hold must have gone: paid out (released) or returned whole (voided).
    // A split may do either (a share that rounds to nothing returns the hold), and so may a release
    // when there was no net to pay.
    const settledAs = r.escrow_status === "released" ? (big(r.worker_net_minor) === 0n ? null : "released")
      : r.escrow_status === "cancelled" || r.escrow_status === "refunded" ? "voided"
      : null
    if (r.hold_status === null) violations.push(`escrow ${r.escrow_id} has no ledger hold`)
    else if (active !== (r.hold_status === "open")) violations.push(`escrow ${r.escrow_id} is ${r.escrow_status} but its hold is ${r.hold_status}`)
    else if (settledAs !== null && r.hold_status !== settledAs) violations.push(`escrow ${r.escrow_id} is ${r.escrow_status} but its hold was ${r.hold_status}`)
    if (active && !live) violations.push(`escrow ${r.escrow_id} is ${r.escrow_status} but its bounty is ${r.bounty_status}`)
    if (!active && live) violations.push(`escrow ${r.escrow_id} is ${r.escrow_status} but its bounty is still ${r.bounty_status}`)
  }
  return {
    name: "escrows_match_holds",
    ok: violations.length === 0,
    violations: sample(violations),
    facts: { escrows: rows.length, active: rows.filter((r) => (ACTIVE_ESCROW as ReadonlyArray<string>).includes(r.escrow_status)).length }
  } satisfies Result
}).pipe(safe)

/** Run right after `Deadlines.sweep()` on the same clock: nothing due may be left behind. */
export const noOverdueJobs = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const now = yield* Effect.map(Effect.clockWith((clock) => clock.currentTimeMillis), (ms) => new Date(ms).toISOString())
  const bounties = yield* sql<{ bounty_id: string; status: string; deadline_at: string }>`
    SELECT bounty_id, status, deadline_at FROM bounties
    WHERE status IN ('open', 'accepted', 'pending_review') AND deadline_at <= ${now}`
  const disputes = yield* sql<{ dispute_id: string }>`
    SELECT dispute_id FROM disputes WHERE status = 'open' AND escalated = 0 AND deadline_at <= ${now}`
  return {
    name: "no_overdue_jobs_after_sweep",
    ok: bounties.length === 0 && disputes.length === 0,
    violations: sample([
      ...bounties.map((b) => `bounty ${b.bounty_id} is ${b.status} past its deadline ${b.deadline_at}`),
      ...disputes.map((d) => `dispute ${d.dispute_id} is past its deadline and not escalated`)
    ]),
    facts: { checked_at: now }
  } satisfies Result
})

/**
 * Conservation. World accounts are the only ones that may go negative: a credit (mint) posts a
 * negative amount on a world account, a debit (burn) a positive one. So
 * `entered - left = -(sum of world balances) = sum of every other balance`. That much follows from
 * balanced entries (reconcile checks them); what makes this check independent is the second half:
 * money moved through `world:manual` must equal what the audit log says operators credited and
 * debited, a record the ledger does not write.
 */
export const conservation = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  // Summed in halves (`Sums.halves`): totals across accounts pass 2^63, where SQLite's SUM fails.
  const flows = yield* sql<Record<string, unknown>>`
    SELECT ${sql.literal(Sums.halves("CASE WHEN amount < 0 THEN -amount ELSE 0 END", "entered_"))},
           ${sql.literal(Sums.halves("CASE WHEN amount > 0 THEN amount ELSE 0 END", "left_"))},
           ${sql.literal(Sums.halves("CASE WHEN amount < 0 AND account = 'world:manual' THEN -amount ELSE 0 END", "manual_in_"))},
           ${sql.literal(Sums.halves("CASE WHEN amount > 0 AND account = 'world:manual' THEN amount ELSE 0 END", "manual_out_"))}
    FROM ledger_postings WHERE account LIKE 'world:%'`
  const held = yield* sql<Record<string, unknown>>`
    SELECT ${sql.literal(Sums.halves("amount"))} FROM ledger_balances WHERE account NOT LIKE 'world:%'`
  const audited = yield* sql<{ action: string; after_state: string }>`
    SELECT action, after_state FROM audit_log WHERE action IN ('ledger.manual_credit', 'ledger.manual_debit')`
  const auditedTotal = (action: string) =>
    audited.filter((row) => row.action === action).reduce((sum, row) => sum + big((JSON.parse(row.after_state) as { amount_minor: string }).amount_minor), 0n)
  const entered = Sums.whole(flows[0]!, "entered_")
  const left = Sums.whole(flows[0]!, "left_")
  const inside = Sums.whole(held[0]!)
  const manualIn = Sums.whole(flows[0]!, "manual_in_")
  const manualOut = Sums.whole(flows[0]!, "manual_out_")
  const credited = auditedTotal("ledger.manual_credit")
  const debited = auditedTotal("ledger.manual_debit")
  const violations = [
    ...(entered === inside + left ? [] : [`entered ${entered} != balances ${inside} + left ${left}`]),
    ...(manualIn === credited ? [] : [`world:manual put in ${manualIn}, but operators credited ${credited} (audit log)`]),
    ...(manualOut === debited ? [] : [`world:manual took out ${manualOut}, but operators debited ${debited} (audit log)`])
  ]
  return {
    name: "conservation",
    ok: violations.length === 0,
    violations,
    facts: {
      entered: entered.toString(),
      balances: inside.toString(),
      left: left.toString(),
      audited_credits: credited.toString(),
      audited_debits: debited.toString()
    }
  } satisfies Result
}).pipe(safe)

/**
 * Every state that waits has a deadline: a live bounty (open, accepted, under review) or an open
 * dispute without one would wait for ever, and the overdue check could never see it.
 */
export const everyWaitHasADeadline = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const bounties = yield* sql<{ bounty_id: string; status: string }>`
    SELECT bounty_id, status FROM bounties WHERE status IN ('open', 'accepted', 'pending_review') AND deadline_at IS NULL`
  const disputes = yield* sql<{ dispute_id: string }>`
    SELECT dispute_id FROM disputes WHERE status = 'open' AND deadline_at IS NULL`
  return {
    name: "every_wait_has_a_deadline",
    ok: bounties.length === 0 && disputes.length === 0,
    violations: sample([
      ...bounties.map((b) => `bounty ${b.bounty_id} is ${b.status} with no deadline`),
      ...disputes.map((d) => `dispute ${d.dispute_id} is open with no deadline`)
    ])
  } satisfies Result
})

/** The events that announce each status of a bounty: `bounty.<status>`, and open is posted or reopened. */
const bountyEvents = (status: string): ReadonlyArray<string> =>
  status === "open" ? ["bounty.posted", "bounty.reopened"] : [`bounty.${status}`]

/**
 * Events a subject goes through at most once: its creation, its one-way steps and its terminal
 * states. (Others repeat: a reopened bounty is accepted again, by the same worker even.)
 */
const ONCE_PER_SUBJECT = new Set([
  "bounty.posted", "bounty.pending_review", "bounty.approved", "bounty.disputed", "bounty.rejected", "bounty.expired", "bounty.cancelled",
  "bounty.resolved",
  "escrow.held", "escrow.frozen", "escrow.released", "escrow.cancelled", "escrow.refunded", "escrow.split",
  "submission.created", "submission.approved", "submission.invalid", "submission.disputed", "submission.rejected", "submission.resolved",
  "dispute.opened", "dispute.escalated", "dispute.resolved"
])

/** Subjects whose repeatable events each carry the time of their step, so an exact repeat is a replay. */
const JOB_SUBJECTS = new Set(["bounty", "escrow", "submission", "dispute"])

/**
 * Events match the records, exactly once (ARCHITECTURE §5: every state change writes its events in
 * its transaction): every bounty, escrow, submission and dispute has the event of its creation and of
 * the status it is in (for a bounty, its latest event), and no event that happens once per subject
 * was written twice (a replayed command that appended again).
 */
export const eventsMatchRecords = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const events = yield* sql<{ type: string; subject_type: string; subject_id: string; payload: string }>`
    SELECT type, subject_type, subject_id, payload FROM outbox ORDER BY seq`
  const onceCounts = new Map<string, number>()
  const typesOf = new Map<string, Set<string>>()
  const lastOf = new Map<string, string>()
  for (const event of events) {
    lastOf.set(event.subject_id, event.type)
    // Once-per-subject events are counted whatever their payload; a job's other events are counted
    // to the byte (a replayed command appends the same event again).
    const exact = JOB_SUBJECTS.has(event.subject_type) && !ONCE_PER_SUBJECT.has(event.type)
    if (ONCE_PER_SUBJECT.has(event.type) || exact) {
      const key = `event ${event.type} of ${event.subject_id}${exact ? `\u0000${event.payload}` : ""}`
      onceCounts.set(key, (onceCounts.get(key) ?? 0) + 1)
    }
    const types = typesOf.get(event.subject_id) ?? new Set<string>()
    types.add(event.type)
    typesOf.set(event.subject_id, types)
  }
  const violations: Array<string> = []
  for (const [key, count] of onceCounts) {
    if (count > 1) violations.push(`${key.split("\u0000")[0]} was written ${count} times`)
  }
  const has = (subject: string, types: ReadonlyArray<string>) => types.some((type) => typesOf.get(subject)?.has(type) === true)
  const expect = (kind: string, id: string, types: ReadonlyArray<string>) => {
    if (!has(id, types)) violations.push(`${kind} ${id} has no ${types.join(" or ")} event`)
  }
  // The sweep deletes events past EVENT_RETENTION: a record created before that may have lost its
  // events lawfully. A later record's events all came after it, and are all still there.
  const settings = yield* Effect.serviceOption(MarketplaceConfig.MarketplaceConfig)
  const retainedFrom = Option.isNone(settings)
    ? ""
    : DateTime.formatIso(DateTime.subtractDuration(yield* DateTime.now, settings.value.eventRetention))
  for (const b of yield* sql<{ bounty_id: string; status: string }>`SELECT bounty_id, status FROM bounties WHERE created_at >= ${retainedFrom}`) {
    expect("bounty", b.bounty_id, ["bounty.posted"])
    // Every bounty event announces a status, so the latest must announce the one it is in: a
    // reopened bounty whose last event is still `bounty.accepted` is told to everyone as accepted.
    const last = lastOf.get(b.bounty_id)
    if (last !== undefined && !bountyEvents(b.status).includes(last)) {
      violations.push(`bounty ${b.bounty_id} is ${b.status} but its last event is ${last}`)
    }
  }
  for (const e of yield* sql<{ escrow_id: string; status: string }>`SELECT escrow_id, status FROM escrows WHERE created_at >= ${retainedFrom}`) {
    expect("escrow", e.escrow_id, ["escrow.held"])
    expect("escrow", e.escrow_id, [`escrow.${e.status}`])
  }
  const submissions = yield* sql<{ submission_id: string; status: string }>`
    SELECT submission_id, status FROM submissions WHERE created_at >= ${retainedFrom} ORDER BY submission_id`
  for (const row of submissions) {
    expect("submission", row.submission_id, ["submission.created"])
    // Its worker follows it by its events: each status after creation is announced as `submission.<status>`.
    if (row.status !== "pending_review") expect("submission", row.submission_id, [`submission.${row.status}`])
  }
  for (const d of yield* sql<{ dispute_id: string; status: string; escalated: unknown }>`SELECT dispute_id, status, escalated FROM disputes WHERE created_at >= ${retainedFrom}`) {
    expect("dispute", d.dispute_id, ["dispute.opened"])
    // Escalation is a flag, not a status, but the operators learn of it only by its event.
    if (Number(d.escalated) !== 0) expect("dispute", d.dispute_id, ["dispute.escalated"])
    if (d.status === "resolved") expect("dispute", d.dispute_id, ["dispute.resolved"])
  }
  return {
    name: "events_match_records",
    ok: violations.length === 0,
    violations: sample(violations),
    facts: { events: events.length }
  } satisfies Result
})

/**
 * Nothing in the store is still live: every bounty terminal, every escrow resolved, no hold open.
 * For the end of a run that owns its database (an in-process simulation), where every job has
 * reached its end: it sees records the runner never knew of (a retried post that made a second
 * bounty, say), which checks of the runner's own jobs cannot.
 */
export const nothingLive = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const bounties = yield* sql<{ bounty_id: string; status: string }>`
    SELECT bounty_id, status FROM bounties WHERE status IN ('open', 'accepted', 'pending_review', 'disputed')`
  const escrows = yield* sql<{ escrow_id: string; status: string }>`
    SELECT escrow_id, status FROM escrows WHERE status IN ('held', 'frozen')`
  const holds = yield* sql<{ id: string; amount: unknown }>`SELECT id, amount FROM ledger_holds WHERE status = 'open'`
  return {
    name: "nothing_live_after_run",
    ok: bounties.length + escrows.length + holds.length === 0,
    violations: sample([
      ...bounties.map((b) => `bounty ${b.bounty_id} is still ${b.status}`),
      ...escrows.map((e) => `escrow ${e.escrow_id} is still ${e.status}`),
      ...holds.map((h) => `hold ${h.id} still holds ${big(h.amount)}`)
    ]),
    facts: { live_bounties: bounties.length, active_escrows: escrows.length, open_holds: holds.length }
  } satisfies Result
}).pipe(safe)

/** Every check (`noOverdueJobs` only when `afterSweep`). */
export const check = (options: { readonly afterSweep?: boolean } = {}) =>
  Effect.all([
    reconcile,
    holdsBelongToLiveJobs,
    escrowsMatchHolds,
    conservation,
    everyWaitHasADeadline,
    eventsMatchRecords,
    ...(options.afterSweep === true ? [noOverdueJobs] : [])
  ])

/** Fails with every violation when any invariant does not hold. */
export const assertAll = (options: { readonly afterSweep?: boolean } = {}) =>
  Effect.flatMap(check(options), (results) =>
    results.every((r) => r.ok) ? Effect.succeed(results) : Effect.fail(new InvariantViolated({ results })))
