/**
 * Before the wave: the run's principals registered (keys derived from the run's key seed), and the
 * funding preflight: each requester credited what its jobs will cost (as the fee policy quotes
 * them, times `funding.factor`) and its balance read back, so a shortfall is known, and reported,
 * before a single bounty is posted.
 */
import { Quote } from "@clawbounties/fees"
import { Effect, Either } from "effect"
import { nowMs } from "./JobSteps.js"
import * as Keys from "./Keys.js"
import type * as Simulation from "./Simulation.js"
import type { Principal, Target, TargetError } from "./Target.js"

export interface Principals {
  readonly operator: Principal
  readonly requesters: ReadonlyArray<Principal>
  readonly workers: ReadonlyArray<Principal>
  /** Each worker's signing key: it signs every proof of its jobs with it. */
  readonly workerKeys: ReadonlyArray<Keys.Key>
}

/** Registers the run's requesters and workers, and takes the operator; the first failure ends it. */
export const register = (target: Target, config: Simulation.Config, keySeed: string): Effect.Effect<Principals, TargetError> => {
  const workerKeys = Array.from({ length: config.workers }, (_, i) => Keys.derive(keySeed, `worker/${i}`))
  return Effect.gen(function* () {
    const operator = yield* target.operator
    const requesters = yield* Effect.forEach(
      Array.from({ length: config.requesters }, (_, i) => i),
      (i) => target.register(Keys.derive(keySeed, `requester/${i}`), "requester"),
      { concurrency: Math.min(4, config.maxConcurrency) }
    )
    const workers = yield* Effect.forEach(
      Array.from({ length: config.workers }, (_, i) => i),
      (i) => target.register(workerKeys[i]!, "worker"),
      { concurrency: Math.min(4, config.maxConcurrency) }
    )
    return { operator, requesters, workers, workerKeys }
  })
}

export interface Funding {
  /** Every requester holds what its jobs need, and every credit succeeded. */
  readonly ok: boolean
  /** What each requester was credited, by index. */
  readonly credited: ReadonlyArray<bigint>
  /** The summary's `funding_preflight`. */
  readonly report: Record<string, unknown>
}

/** Credits each requester what the plan needs of it (unless funding is off) and checks it holds that much. */
export const fund = (input: {
  readonly target: Target
  readonly config: Simulation.Config
  readonly plan: ReadonlyArray<Simulation.JobPlan>
  readonly principals: Principals
  readonly ns: string
  /** When the preflight started (registration included), for its `ms`. */
  readonly startedMs: number
}): Effect.Effect<Funding> =>
  Effect.gen(function* () {
    const { config, ns, target } = input
    const { operator, requesters } = input.principals
    const need = requesters.map(() => 0n)
    for (const job of input.plan) {
      const quoted = Quote.quote({
        product: "clawbounties",
        policy_id: "bounties_v1",
        amount_minor: BigInt(job.reward_minor),
        currency: "USD",
        params: { is_code_bounty: false, closure_type: job.closure_type, min_proof_tier: "self" }
      })
      need[job.requester]! += Either.isRight(quoted) ? quoted.right.quote.buyer_total_minor : BigInt(job.reward_minor)
    }
    const credited = requesters.map(() => 0n)
    const errors: Array<string> = []
    if (config.funding.enabled) {
      yield* Effect.forEach(requesters, (r, i) => {
        const amount = (need[i]! * BigInt(Math.round(config.funding.factor * 1000))) / 1000n
        if (amount <= 0n) return Effect.void
        return Effect.match(target.credit(operator, r.did, amount, `${ns}:fund:${i}`), {
          onFailure: (e) => void errors.push(`${r.did}: ${e.code}`),
          onSuccess: () => void (credited[i] = amount)
        })
      }, { concurrency: Math.min(4, config.maxConcurrency), discard: true })
    }
    const available = yield* Effect.forEach(requesters, (r) =>
      Effect.match(target.balances(r, r.did), { onFailure: () => -1n, onSuccess: (b) => b.A }), { concurrency: 4 })
    const shortfalls = requesters.flatMap((r, i) =>
      available[i]! < need[i]! ? [{ did: r.did, required_minor: need[i]!.toString(), available_minor: available[i]!.toString() }] : [])
    const ok = shortfalls.length === 0 && errors.length === 0
    return {
      ok,
      credited,
      report: {
        ok,
        policy: config.funding.policy,
        decision: ok ? "proceed" : config.funding.policy === "abort" ? "aborted" : "continued",
        funded: config.funding.enabled,
        factor: config.funding.factor,
        required_minor: need.reduce((a, b) => a + b, 0n).toString(),
        credited_minor: credited.reduce((a, b) => a + b, 0n).toString(),
        shortfalls: shortfalls.slice(0, 20),
        shortfall_count: shortfalls.length,
        errors: errors.slice(0, 20),
        ms: Math.round(((yield* nowMs) - input.startedMs) * 100) / 100
      }
    }
  })
