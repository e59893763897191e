/**
 * The gate's session with a deployment: how a check runs and is recorded (a failure is a
 * `CheckFailed` with its detail; an answer the check cannot read fails that check, never the gate),
 * the raw requests checks make, and the bounties the gate opened, which its cleanup settles.
 */
import { DateTime, Effect, Either, Schedule } from "effect"
import { randomBytes } from "node:crypto"
import * as Http from "./Http.js"
import type * as Keys from "./Keys.js"
import { DEFAULT_RATE_LIMIT_WAIT_MS, type Principal, type Target, type TargetError } from "./Target.js"

export interface Options {
  readonly url: string
  readonly operatorToken?: string | undefined
  /**
   * Prefix of the gate's key derivation and idempotency keys (a test pins it to know the DIDs). By
   * default the idempotency keys use the start time and the keys a fresh secret seed.
   */
  readonly namespace?: string | undefined
  readonly timeoutMs?: number | undefined
  /** How long one request to a rate-limited server may wait in all for its `Retry-After`, 5 minutes by default. */
  readonly rateLimitWaitMs?: number | undefined
}

export type CheckStatus = "pass" | "fail" | "skip"

export interface Check {
  readonly id: string
  readonly title: string
  /** A failed required check is a blocker. */
  readonly required: boolean
  readonly status: CheckStatus
  readonly ms: number
  readonly detail: string
}

export class CheckFailed {
  readonly _tag = "CheckFailed"
  constructor(readonly detail: string) {}
}

/** The gate's requester and worker, and the key the worker signs its proofs with. */
export interface Parties {
  readonly requester: Principal
  readonly worker: Principal
  readonly workerKey: Keys.Key
}

export const fail = (detail: string) => Effect.fail(new CheckFailed(detail))
export const expect = (condition: boolean, detail: string) => (condition ? Effect.void : fail(detail))

/**
 * A server that answered 5xx or 429 is asked again, twice, with the same request (every gate
 * mutation carries an idempotency key); no reply at all is not retried, so an unreachable target is
 * reported at once.
 */
export const retried = <A>(effect: Effect.Effect<A, TargetError>) =>
  Effect.retry(effect, { while: (e) => e.retryable && e.status !== null, schedule: Schedule.exponential("200 millis"), times: 2 })

/** A target call as a check step. */
export const fromTarget = <A>(effect: Effect.Effect<A, TargetError>, what: string) =>
  Effect.mapError(retried(effect), (e) => new CheckFailed(`${what}: ${e.code} (${e.status ?? "no reply"}) ${e.message}`))

export const nowMs = Effect.map(DateTime.now, DateTime.toEpochMillis)

/** The body of a bounty the gate posts: the smallest research bounty, keyed by the run and `label`. */
export const bountyBody = (ns: string, label: string) => ({
  title: `Gate check ${label}`,
  description: `Readiness gate ${ns}: ${label}.`,
  reward: { amount_minor: "1000", currency: "USD" },
  closure_type: "requester",
  difficulty_scalar: 1,
  is_code_bounty: false,
  min_proof_tier: "self",
  tags: ["research", "gate"],
  idempotency_key: `${ns}:${label}:post`
})

const describe = (value: unknown): string => (typeof value === "string" ? value : "ok")

export const make = (options: Options, startedIso: string) => {
  const ns = options.namespace ?? `gate-${startedIso}`
  // The gate's requester keeps its unspent funding and the worker its pay: keys derived from the
  // start time (in the report, and in the bounties' public descriptions) would hand both to anyone.
  const keySeed = options.namespace ?? randomBytes(32).toString("hex")
  const target: Target = Http.make({ url: options.url, operatorToken: options.operatorToken, timeoutMs: options.timeoutMs, rateLimitWaitMs: options.rateLimitWaitMs })
  const base = options.url.endsWith("/") ? options.url : `${options.url}/`
  const rateLimit = { maxWaitMs: options.rateLimitWaitMs ?? DEFAULT_RATE_LIMIT_WAIT_MS }
  const checks: Array<Check> = []
  /** Every bounty the gate opened, for its cleanup. */
  const opened: Array<string> = []

  /** An HTTP request as a check step; any status is an answer, only no reply fails. */
  const raw = (method: "GET" | "POST", path: string, token?: string | null, body?: unknown) =>
    Effect.mapError(Http.request(base, method, path.replace(/^\//, ""), { token, body, timeoutMs: options.timeoutMs, rateLimit }), (e) => new CheckFailed(`${method} ${path}: ${e.code} ${e.message}`))

  /** An operator request the target has no call for: its answer must be 2xx. */
  const operatorPost = (operator: Principal, path: string, body: unknown) =>
    retried(Effect.flatMap(Http.request(base, "POST", path, { token: operator.token, body, timeoutMs: options.timeoutMs, rateLimit }), Http.expectOk))

  /** Runs `body` as the check `id` and records it; its value when it passed. */
  const check = <A>(id: string, title: string, required: boolean, body: Effect.Effect<A, CheckFailed>) =>
    Effect.gen(function* () {
      const t0 = yield* nowMs
      // An answer the check cannot read (a missing field, a malformed amount) throws: that fails
      // this check, rather than ending the gate with no report and its bounties left open.
      const outcome = yield* Effect.either(Effect.catchAllDefect(body, (defect) => fail(`unreadable answer: ${String(defect)}`)))
      const ms = (yield* nowMs) - t0
      checks.push({ id, title, required, status: Either.isRight(outcome) ? "pass" : "fail", ms, detail: Either.isRight(outcome) ? describe(outcome.right) : outcome.left.detail })
      return Either.getRight(outcome)
    })
  const skip = (id: string, title: string, detail: string) => Effect.sync(() => void checks.push({ id, title, required: false, status: "skip", ms: 0, detail }))

  return { options, ns, keySeed, target, checks, opened, raw, operatorPost, check, skip }
}

export type Session = ReturnType<typeof make>
