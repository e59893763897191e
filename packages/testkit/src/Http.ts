/**
 * The HTTP target: a running server, through its public API only (`/v1/...` with bearer tokens).
 * Every failure is classified by the catalogue code the server returns; a refused connection, a cut
 * connection or a 5xx is retryable, so the runner resends the same request with the same
 * idempotency key (and must then see exactly one effect).
 *
 * A 429 (`RATE_LIMITED`) is answered before the server reads the body or touches its database, so
 * resending it is always safe: a request waits the server's `Retry-After` and goes again, up to a
 * budget of waiting per request (`RateLimitPolicy`), and only then fails as `RATE_LIMITED`, not
 * retried (a 429 without a readable `Retry-After` is retried like a 5xx).
 */
import { Clock, DateTime, Effect, Exit } from "effect"
import * as Builders from "./Builders.js"
import type { Key } from "./Keys.js"
import type { Buckets, Principal, RateLimitWaits, ReconcileSummary, SweepReport, Target } from "./Target.js"
import { DEFAULT_RATE_LIMIT_WAIT_MS, defaultWorkerProfile, TargetError, transportCodes } from "./Target.js"

export interface Options {
  /** `http://127.0.0.1:8787` */
  readonly url: string
  /** The operator token (funding, dispute decisions, sweeps, reconcile); without it those are unavailable. */
  readonly operatorToken?: string | undefined
  /** Per-request timeout, 30 s by default. */
  readonly timeoutMs?: number | undefined
  /** Restarts the server (only when the caller runs it): enables the `server_restart` fault. */
  readonly restart?: (() => Promise<void>) | undefined
  /** How long one request may wait in all for a rate-limited server, {@link DEFAULT_RATE_LIMIT_WAIT_MS} by default. */
  readonly rateLimitWaitMs?: number | undefined
}

const MIN_RATE_LIMIT_WAIT_MS = 250

export interface RateLimitPolicy {
  /** How long the request may wait in all for `Retry-After` before its 429 is returned; 0 never waits. */
  readonly maxWaitMs: number
  /** Called before each wait, with its length. */
  readonly onWait?: ((ms: number) => void) | undefined
}

type Json = Record<string, unknown>

const nowIso = Effect.map(DateTime.now, DateTime.formatIso)

export interface Reply {
  readonly status: number
  readonly body: Json
  /** `Retry-After` in milliseconds, on a 429 that carried a readable one. */
  readonly retryAfterMs?: number | undefined
  /** A 429 returned because waiting its `Retry-After` would pass the request's budget. */
  readonly waitedOut?: boolean | undefined
}

/**
 * `Retry-After` as milliseconds from `now`: delta-seconds, or an HTTP date (in the past: 0).
 * Anything else is unreadable: undefined.
 */
export const retryAfterMs = (value: string | null, now: number): number | undefined => {
  if (value === null) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const at = /[a-z]/i.test(text) ? Date.parse(text) : Number.NaN
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined
}

const networkError = (error: unknown, timeout: boolean) =>
  new TargetError({
    code: timeout ? transportCodes.TIMEOUT : transportCodes.NETWORK,
    status: null,
    message: error instanceof Error ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ""}` : String(error),
    retryable: true
  })

interface RequestOptions {
  readonly token?: string | null | undefined
  readonly body?: unknown
  readonly timeoutMs?: number | undefined
  /** Waiting for a rate-limited server: up to {@link DEFAULT_RATE_LIMIT_WAIT_MS} in all by default. */
  readonly rateLimit?: RateLimitPolicy | undefined
}

/**
 * One request; resolves with any HTTP reply, fails only when no reply arrived. A 429 with a
 * `Retry-After` is sent again after that wait, while the waits fit the policy's budget.
 */
export const request = (
  base: string,
  method: "GET" | "POST" | "PATCH",
  path: string,
  options: RequestOptions = {}
): Effect.Effect<Reply, TargetError> => {
  const maxWaitMs = options.rateLimit?.maxWaitMs ?? DEFAULT_RATE_LIMIT_WAIT_MS
  const attempt = (waitedMs: number): Effect.Effect<Reply, TargetError> =>
    Effect.flatMap(send(base, method, path, options), (reply) => {
      if (reply.retryAfterMs === undefined) return Effect.succeed(reply)
      // At least a moment: a server answering `Retry-After: 0` for ever still uses up the budget.
      const wait = Math.max(MIN_RATE_LIMIT_WAIT_MS, reply.retryAfterMs)
      if (waitedMs + wait > maxWaitMs) return Effect.succeed({ ...reply, waitedOut: true })
      options.rateLimit?.onWait?.(wait)
      return Effect.zipRight(Effect.sleep(wait), attempt(waitedMs + wait))
    })
  return attempt(0)
}

const send = (base: string, method: "GET" | "POST" | "PATCH", path: string, options: RequestOptions): Effect.Effect<Reply, TargetError> =>
  Effect.flatMap(Effect.tryPromise({
    try: async (signal) => {
      const controller = new AbortController()
      const abort = () => controller.abort()
      signal.addEventListener("abort", abort)
      const timer = setTimeout(() => controller.abort(new Error("timeout")), options.timeoutMs ?? 30_000)
      try {
        const response = await fetch(new URL(path, base), {
          method,
          headers: {
            accept: "application/json",
            ...(options.body === undefined ? {} : { "content-type": "application/json" }),
            ...(options.token ? { authorization: `Bearer ${options.token}` } : {})
          },
          ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
          signal: controller.signal
        })
        const text = await response.text()
        let body: Json = {}
        try {
          body = text.length === 0 ? {} : (JSON.parse(text) as Json)
        } catch {
          body = { error: transportCodes.BAD_RESPONSE, message: text.slice(0, 200) }
        }
        return { status: response.status, body, retryAfter: response.status === 429 ? response.headers.get("retry-after") : null }
      } finally {
        clearTimeout(timer)
        signal.removeEventListener("abort", abort)
      }
    },
    catch: (error) => networkError(error, error instanceof Error && (error.message === "timeout" || (error as { cause?: Error }).cause?.message === "timeout"))
  }), ({ retryAfter, ...reply }) =>
    retryAfter === null ? Effect.succeed(reply) : Effect.map(Clock.currentTimeMillis, (now): Reply => ({ ...reply, retryAfterMs: retryAfterMs(retryAfter, now) })))

/** A reply as a result: 2xx is the body, anything else a classified `TargetError`. */
export const expectOk = (reply: Reply): Effect.Effect<Json, TargetError> => {
  if (reply.status >= 200 && reply.status < 300) return Effect.succeed(reply.body)
  const code = typeof reply.body.error === "string" ? reply.body.error : reply.status >= 500 ? transportCodes.DB_ERROR : `HTTP_${reply.status}`
  return Effect.fail(new TargetError({
    code,
    status: reply.status,
    message: typeof reply.body.message === "string" ? reply.body.message : `HTTP ${reply.status}`,
    // A request that waited out its budget is not sent again: that would only wait again.
    retryable: reply.status >= 500 || (reply.status === 429 && reply.waitedOut !== true),
    details: reply.body.details,
    retryAfterMs: reply.retryAfterMs
  }))
}

const buckets = (body: Json): Buckets => {
  const b = (body.buckets ?? {}) as Record<string, string>
  return { A: BigInt(b.A ?? "0"), H: BigInt(b.H ?? "0"), B: BigInt(b.B ?? "0"), F: BigInt(b.F ?? "0"), P: BigInt(b.P ?? "0") }
}

export const make = (options: Options): Target => {
  const base = options.url.endsWith("/") ? options.url : `${options.url}/`
  let waited: RateLimitWaits = { waits: 0, waitedMs: 0 }
  const rateLimit: RateLimitPolicy = {
    maxWaitMs: options.rateLimitWaitMs ?? DEFAULT_RATE_LIMIT_WAIT_MS,
    onWait: (ms) => (waited = { waits: waited.waits + 1, waitedMs: waited.waitedMs + ms })
  }
  const call = (method: "GET" | "POST" | "PATCH", path: string, token: string | null | undefined, body?: unknown) =>
    Effect.flatMap(request(base, method, path.replace(/^\//, ""), { token, body, timeoutMs: options.timeoutMs, rateLimit }), expectOk)
  const enc = encodeURIComponent
  const operator: Principal | undefined = options.operatorToken === undefined ? undefined : { did: "operator", role: "operator", token: options.operatorToken }

  const register = (key: Key, role: "worker" | "requester") =>
    Effect.gen(function* () {
      const challenge = yield* call("POST", "/v1/auth/challenge", null, { did: key.did, purpose: "register" })
      const issuedAt = yield* nowIso
      const proof = Builders.challengeAnswer(key, challenge as { challenge_id: string; nonce: string }, role, { issuedAt })
      const registered = role === "requester"
        ? yield* call("POST", "/v1/requesters/register", null, { requester_did: key.did, challenge_id: challenge.challenge_id, proof })
        : yield* call("POST", "/v1/workers/register", null, {
          worker_did: key.did,
          challenge_id: challenge.challenge_id,
          proof,
          ...defaultWorkerProfile(`worker ${key.did.slice(-8)}`)
        })
      const auth = registered.auth as { token: string }
      return { did: key.did as string, role, token: auth.token } satisfies Principal
    })

  return {
    kind: "http",
    label: options.url,
    capabilities: {
      clock: "wall",
      sweep: operator !== undefined,
      operator: operator !== undefined,
      faults: options.restart === undefined ? [] : ["server_restart"],
      records: false
    },
    operator: operator === undefined
      ? Effect.fail(new TargetError({ code: "OPERATOR_TOKEN_REQUIRED", status: null, message: "no operator token was given", retryable: false }))
      : Effect.succeed(operator),
    health: call("GET", "/health", null),
    register,
    credit: (op, did, amount, idempotencyKey) =>
      call("POST", "/v1/operator/credits", op.token, { did, amount_minor: amount.toString(), currency: "USD", reason: "simulation funding", idempotency_key: idempotencyKey }),
    balances: (viewer, did) => Effect.map(call("GET", `/v1/balances?did=${enc(did)}`, viewer.token), buckets),
    post: (p, body) => call("POST", "/v1/bounties", p.token, body),
    getBounty: (p, id) => call("GET", `/v1/bounties/${enc(id)}`, p.token),
    cancel: (p, id, body) => call("POST", `/v1/bounties/${enc(id)}/cancel`, p.token, body),
    accept: (p, id, body) => call("POST", `/v1/bounties/${enc(id)}/accept`, p.token, body),
    submit: (p, id, body) => call("POST", `/v1/bounties/${enc(id)}/submit`, p.token, body),
    listSubmissions: (p, id) => call("GET", `/v1/bounties/${enc(id)}/submissions`, p.token),
    getSubmission: (p, id) => call("GET", `/v1/submissions/${enc(id)}`, p.token),
    approve: (p, id, body) => call("POST", `/v1/bounties/${enc(id)}/approve`, p.token, body),
    reject: (p, id, body) => call("POST", `/v1/bounties/${enc(id)}/reject`, p.token, body),
    resolveDispute: (p, id, body) => call("POST", `/v1/operator/disputes/${enc(id)}/resolve`, p.token, body),
    getEscrow: (p, id) => call("GET", `/v1/escrows/${enc(id)}`, p.token),
    sweep: (p) => Effect.map(call("POST", "/v1/operator/sweep", p.token, {}), (body) => body as unknown as SweepReport),
    reconcile: (p) => Effect.map(call("GET", "/v1/operator/reconcile", p.token), (body) => body as unknown as ReconcileSummary),
    advance: (seconds) => Effect.sleep(`${seconds} seconds`),
    now: nowIso,
    withFault: (_fault, c) => Effect.map(Effect.exit(c), (result) => ({ result: result as Exit.Exit<never, TargetError>, fired: false })),
    rateLimitWaits: () => waited,
    ...(options.restart === undefined
      ? {}
      : {
        restart: Effect.tryPromise({
          try: options.restart,
          catch: (error) => new TargetError({ code: "RESTART_FAILED", status: null, message: String(error), retryable: false })
        })
      })
  }
}
