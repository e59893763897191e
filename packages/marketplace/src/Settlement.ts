/**
 * Money at the end of a job, always from the fee snapshot taken at post time (never recomputed), and
 * always out of the bounty's own hold, so one escrow can never spend another's money.
 */
import { Ledger } from "@clawbounties/ledger"
import { Effect } from "effect"
import type { BountyRow, EscrowRow } from "./BountyStore.js"

/** The platform's fee pool account (bucket `F`). */
export const PLATFORM_FEES = "platform:fees"

export interface Outcome {
  readonly entryId: string
  readonly workerAmount: bigint
  readonly platformFee: bigint
  readonly refund: bigint
}

const metadataOf = (bounty: BountyRow, escrow: EscrowRow, reason: string) => ({
  bounty_id: bounty.bounty_id,
  escrow_id: escrow.escrow_id,
  reason
})

/** Worker net to the worker's `A`, fees to `platform:fees` `F`; the hold is spent exactly. */
export const payWorker = Effect.fn("Settlement.payWorker")(function* (bounty: BountyRow, escrow: EscrowRow, reason: string) {
  return yield* split(bounty, escrow, 10_000, reason)
})

/**
 * Pays the worker `bps` of its net (rounded down) and charges the platform fee in proportion to what
 * the worker actually got (rounded up, as fees are, and never above the full fee): a share that
 * rounds to nothing pays no fee. Everything else in the hold returns to the requester.
 */
export const split = Effect.fn("Settlement.split")(function* (bounty: BountyRow, escrow: EscrowRow, bps: number, reason: string) {
  const ledger = yield* Ledger.Ledger
  if (escrow.worker_did === null) return yield* Effect.dieMessage(`escrow ${escrow.escrow_id} has no worker to pay`)
  const share = BigInt(bps)
  const workerAmount = (bounty.worker_net_minor * share) / 10_000n
  const net = bounty.worker_net_minor
  const feeShare = net === 0n ? 0n : (bounty.platform_fee_minor * workerAmount + net - 1n) / net
  const platformFee = feeShare > bounty.platform_fee_minor ? bounty.platform_fee_minor : feeShare
  // Nothing paid out at all (a share that rounds to zero): the whole hold goes back.
  if (workerAmount === 0n && platformFee === 0n) return yield* refund(bounty, escrow, reason)
  yield* ledger.openAccount({ account: PLATFORM_FEES, currency: bounty.currency })
  const destinations = [
    ...(workerAmount > 0n ? [{ account: escrow.worker_did, bucket: "A" as const, amount: workerAmount }] : []),
    ...(platformFee > 0n ? [{ account: PLATFORM_FEES, bucket: "F" as const, amount: platformFee }] : [])
  ]
  const released = yield* ledger.releaseHold({
    holdId: escrow.hold_id,
    destinations,
    idempotencyKey: `escrow:${escrow.escrow_id}:release`,
    metadata: { ...metadataOf(bounty, escrow, reason), worker_share_bps: bps }
  })
  return { entryId: released.entryId, workerAmount, platformFee, refund: released.returned } satisfies Outcome
})

/** The whole hold, fees included, back to the requester's `A`. */
export const refund = Effect.fn("Settlement.refund")(function* (bounty: BountyRow, escrow: EscrowRow, reason: string) {
  const ledger = yield* Ledger.Ledger
  const voided = yield* ledger.voidHold({
    holdId: escrow.hold_id,
    idempotencyKey: `escrow:${escrow.escrow_id}:refund`,
    metadata: metadataOf(bounty, escrow, reason)
  })
  return { entryId: voided.entryId, workerAmount: 0n, platformFee: 0n, refund: voided.returned } satisfies Outcome
})
