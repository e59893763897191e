/**
 * What the gate leaves behind: nothing. A check that failed part-way leaves its bounty open,
 * accepted or under review; the cleanup settles each the way its parties would (cancel, deliver,
 * approve), also when the gate is interrupted, then checks that every bounty it opened is terminal,
 * that its requester holds nothing, and gives its parties' unspent money back to where it came from.
 */
import { Effect } from "effect"
import * as Builders from "./Builders.js"
import { expect, fromTarget, type Parties, type Session } from "./GateSession.js"
import type { Principal, TargetError } from "./Target.js"

export interface Cleanup {
  readonly bounties: ReadonlyArray<{ readonly bounty_id: string; readonly status: string | null }>
  /** Bounties a failed check left part-way, and the state the gate settled each from. */
  readonly settled: ReadonlyArray<{ readonly bounty_id: string; readonly from: string }>
  readonly requester_held_minor: string | null
  /**
   * What the gate debited back from its requester (unspent funding) and its worker (its pay), so
   * that a run leaves only its fees behind; null without a usable operator token or when a debit
   * failed.
   */
  readonly returned_minor: { readonly requester: string; readonly worker: string } | null
  readonly ok: boolean
}

const TERMINAL = new Set(["approved", "rejected", "resolved", "cancelled", "expired"])

export const make = (s: Session) => {
  const { ns, opened, raw, target } = s
  const settled: Array<{ bounty_id: string; from: string }> = []

  // Each step moves the bounty one state on, the way its parties would: cancel an open bounty,
  // deliver an accepted one, approve what is under review. Failures are left to the cleanup check.
  const settle = ({ requester, worker, workerKey }: Parties, bountyId: string) => Effect.gen(function* () {
    for (let step = 0; step < 3; step++) {
      const status = String((yield* fromTarget(target.getBounty(requester, bountyId), "get bounty")).status)
      if (step === 0 && ["open", "accepted", "pending_review"].includes(status)) settled.push({ bounty_id: bountyId, from: status })
      const key = `${ns}:cleanup:${bountyId}:${status}`
      if (status === "open") {
        yield* fromTarget(target.cancel(requester, bountyId, { reason: "gate cleanup", idempotency_key: key }), "cancel")
      } else if (status === "accepted") {
        const issuedAt = yield* target.now
        yield* fromTarget(target.submit(worker, bountyId, {
          proof_bundle_envelope: Builders.proofBundle(workerKey, { runId: `${ns}-cleanup-${bountyId}`, issuedAt }),
          artifacts: [],
          idempotency_key: key
        }), "submit")
      } else if (status === "pending_review") {
        const listed = yield* fromTarget(target.listSubmissions(requester, bountyId), "list submissions")
        const pending = ((listed.submissions ?? []) as Array<{ submission_id: string; status: string }>).find((s) => s.status === "pending_review")
        if (pending === undefined) return
        yield* fromTarget(target.approve(requester, bountyId, { submission_id: pending.submission_id, idempotency_key: key }), "approve")
      } else return
    }
  })

  // The server may have made a bounty whose post answer the gate never got (a gateway lost it):
  // the requester is the gate's own, so its bounties on the server are all the gate opened.
  const adoptOwn = (requester: Principal) => Effect.gen(function* () {
    const listed = yield* raw("GET", "/v1/bounties?mine=true&limit=200", requester.token)
    for (const b of (listed.body.bounties ?? []) as Array<{ bounty_id: string }>) if (!opened.includes(b.bounty_id)) opened.push(b.bounty_id)
  })

  /** Settles every bounty the gate opened, as far as it can; never fails. */
  const settleOpened = (p: Parties) =>
    Effect.zipRight(
      Effect.ignore(Effect.catchAllDefect(adoptOwn(p.requester), () => Effect.void)),
      Effect.forEach(opened, (id) => Effect.ignore(Effect.catchAllDefect(settle(p, id), () => Effect.void)), { discard: true })
    )

  /** Settles what is left, returns the parties' money, and records the `cleanup` check. */
  const run = (parties: Parties, operator: Principal | undefined): Effect.Effect<Cleanup> =>
    Effect.gen(function* () {
      const { requester, worker } = parties
      yield* settleOpened(parties)
      // A refusal or an answer the gate cannot read (a malformed amount throws) is recorded as null:
      // the cleanup check fails on it, and the gate still writes its report.
      const orNull = <A>(effect: Effect.Effect<A, TargetError>) =>
        effect.pipe(Effect.orElseSucceed(() => null), Effect.catchAllDefect(() => Effect.succeed(null)))
      const bounties = yield* Effect.forEach(opened, (id) =>
        Effect.map(orNull(Effect.map(target.getBounty(requester, id), (b) => String(b.status))), (status) => ({ bounty_id: id, status })))
      const held = yield* orNull(Effect.map(target.balances(requester, requester.did), (b) => b.H))
      // The gate's keys are thrown away when it ends: money left with its parties could never be
      // spent again. What it was credited goes back where it came from, less the fees it paid.
      const giveBack = (role: string, did: string) => Effect.gen(function* () {
        const available = (yield* target.balances(operator!, did)).A
        if (available > 0n) {
          const body = { did, amount_minor: available.toString(), currency: "USD", reason: "gate cleanup: unspent test money returned", idempotency_key: `${ns}:return:${role}` }
          yield* s.operatorPost(operator!, "v1/operator/debits", body)
        }
        return available.toString()
      })
      const returned = operator === undefined
        ? null
        : yield* orNull(Effect.all({ requester: giveBack("requester", requester.did), worker: giveBack("worker", worker.did) }))
      const cleanup: Cleanup = {
        bounties,
        settled,
        requester_held_minor: held === null ? null : held.toString(),
        returned_minor: returned,
        ok: bounties.every((b) => b.status !== null && TERMINAL.has(b.status)) && held === 0n && (operator === undefined || returned !== null)
      }
      yield* s.check("cleanup", "Every bounty the gate opened is terminal, no hold is left, and its unspent money is returned", true,
        expect(cleanup.ok, `bounties ${JSON.stringify(bounties)}, held ${cleanup.requester_held_minor}, returned ${operator === undefined ? "n/a (no operator token)" : returned === null ? "nothing: a debit failed" : "all"}`))
      return cleanup
    })

  return { settleOpened, run }
}
