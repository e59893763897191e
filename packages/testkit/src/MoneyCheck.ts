/**
 * The runner's own check of the money: what every participant's balances must be, given the jobs'
 * final states, derived from each job's fee snapshot with the settlement rule, never read back from
 * the engine's answers; and properties any correct settlement has, whatever its formula.
 */
import { Effect, Either } from "effect"
import type * as Invariants from "./Invariants.js"
import { type JobRecord, minor } from "./JobRecord.js"
import type { Principal, Target } from "./Target.js"

/** Money of a settled job, derived independently from the fee snapshot (the engine's rule). */
export const settle = (job: { readonly worker_net: bigint; readonly fee: bigint; readonly total: bigint }, bps: number) => {
  const share = BigInt(bps)
  const paid = (job.worker_net * share) / 10_000n
  // The fee follows what the worker got, rounded up: a share that rounds to nothing pays none.
  const feeShare = job.worker_net === 0n ? 0n : (job.fee * paid + job.worker_net - 1n) / job.worker_net
  const fee = feeShare > job.fee ? job.fee : feeShare
  return { paid, fee, refund: job.total - paid - fee }
}

/**
 * What any correct settlement satisfies, whatever its formula (the rule above restates the engine's
 * formula, so it alone cannot catch a wrong one): the worker gets at most its net, the fee at most the
 * snapshot's; nothing paid means no fee, the whole net means the whole fee; and the fee is never a
 * larger share of the full fee than the payout is of the net, plus one unit of rounding.
 */
export const settlementProperties = (jobId: string, net: bigint, fullFee: bigint, reported: { readonly paid: bigint; readonly fee: bigint }): ReadonlyArray<string> => {
  const { fee, paid } = reported
  const broken = (why: string) => [`${jobId}: paid ${paid}/fee ${fee} of net ${net}/fee ${fullFee}: ${why}`]
  if (paid < 0n || paid > net) return broken("the payout is outside 0..net")
  if (fee < 0n || fee > fullFee) return broken("the fee is outside 0..the snapshot's")
  if (paid === 0n && fee !== 0n) return broken("a fee on nothing paid")
  if (paid === net && fee !== fullFee) return broken("the whole net without the whole fee")
  if (net > 0n && (fee - 1n) * net >= fullFee * paid && fee > 0n) return broken("the fee is a larger share than the payout")
  return []
}

/** The share (bps) of the worker in a job's final status, or null when the money is still held. */
const workerShare = (job: JobRecord): number | null => {
  switch (job.outcome.bounty_status) {
    case "approved":
      return 10_000
    case "resolved":
      return job.plan.split_bps ?? 0
    case "rejected":
    case "cancelled":
    case "expired":
      return 0
    default:
      return null
  }
}

/**
 * Every participant's balances equal what the jobs' final states imply, derived here from the fee
 * snapshots with the settlement rule (not read back from the engine's answers), and the platform's
 * fee pool too when the store is ours alone.
 */
export const balancesMatch = (
  target: Target,
  operator: Principal,
  requesters: ReadonlyArray<Principal>,
  workers: ReadonlyArray<Principal>,
  funded: ReadonlyArray<bigint>,
  jobs: ReadonlyArray<JobRecord>,
  platformIsOurs: boolean
) =>
  Effect.gen(function* () {
    const expected = new Map<string, { A: bigint; H: bigint }>()
    const at = (did: string) => expected.get(did) ?? (expected.set(did, { A: 0n, H: 0n }), expected.get(did)!)
    requesters.forEach((r, i) => (at(r.did).A += funded[i]!))
    workers.forEach((w) => at(w.did))
    let fees = 0n
    const violations: Array<string> = []
    for (const job of jobs) {
      if (job.money.buyer_total_minor === null) continue
      const total = minor(job.money.buyer_total_minor)
      const share = workerShare(job)
      const requester = at(job.requester_did)
      if (share === null) {
        requester.A -= total
        requester.H += total
        continue
      }
      const settled = settle({ worker_net: minor(job.money.worker_net_minor), fee: minor(job.money.platform_fee_minor), total }, share)
      requester.A -= settled.paid + settled.fee
      at(job.worker_did).A += settled.paid
      fees += settled.fee
      const reported = { paid: minor(job.money.worker_paid_minor), fee: minor(job.money.fee_paid_minor) }
      if (job.outcome.status === "succeeded" && (reported.paid !== settled.paid || reported.fee !== settled.fee)) {
        violations.push(`${job.job_id}: engine reported paid ${reported.paid}/fee ${reported.fee}, settlement rule gives ${settled.paid}/${settled.fee}`)
      }
      if (job.outcome.status === "succeeded") violations.push(...settlementProperties(job.job_id, minor(job.money.worker_net_minor), minor(job.money.platform_fee_minor), reported))
    }
    for (const [did, want] of expected) {
      const got = yield* Effect.either(target.balances(operator, did))
      if (Either.isLeft(got)) {
        violations.push(`${did}: balances unavailable (${got.left.code})`)
        continue
      }
      if (got.right.A !== want.A || got.right.H !== want.H) {
        violations.push(`${did}: A ${got.right.A} H ${got.right.H}, expected A ${want.A} H ${want.H}`)
      }
    }
    if (platformIsOurs) {
      const platform = yield* Effect.either(target.balances(operator, "platform:fees"))
      const got = Either.isRight(platform) ? platform.right.F : -1n
      if (got !== fees) violations.push(`platform:fees F ${got}, expected ${fees}`)
    }
    return {
      name: "balances_match_outcomes",
      ok: violations.length === 0,
      violations: violations.slice(0, 20),
      facts: { participants: expected.size, expected_fees_minor: fees.toString() }
    } satisfies Invariants.Result
  })
