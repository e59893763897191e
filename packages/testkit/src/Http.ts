/**
 * The HTTP target: a running server, through its public API only (`/v1/...` with bearer tokens).
 * Every failure is classified by the catalogue code the server returns; a refused connection, a cut
 * connection or a 5xx is retryable, so the runner resends the same request with the same
 * idempotency key (and must then see exactly one effect).
 */
import { DateTime, Effect, Exit } from "effect"
import * as Builders from "./Builders.js"
import type { Key } from "./Keys.js"
import type { Buckets, Principal, ReconcileSummary, SweepReport, Target } from "./Target.js"
import { defaultWorkerProfile, TargetError, transportCodes } from "./Target.js"

export interface Options {
  /** `http://127.0.0.1:8787` */
  readonly url: string
  /** The operator token (funding, dispute decisions, sweeps, reconcile); without it those are unavailable. */
  readonly operatorToken?: string | undefined
  /** Per-request timeout, 30 s by default. */
  readonly timeoutMs?: number | undefined
  /** Restarts the server (only when the caller runs it): enables the `server_restart` fault. */
  readonly restart?: (() => Promise<void>) | undefined
}

type Json = Record<string, unknown>

const nowIso = Effect.map(DateTime.now, DateTime.formatIso)

export interface Reply {
  readonly status: number
  readonly body: Json
}

const networkError = (error: unknown, timeout: boolean) =>
  new TargetError({
    code: timeout ? transportCodes.TIMEOUT : transportCodes.NETWORK,
    status: null,
    message: error instanceof Error ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ""}` : String(error),
    retryable: true
  })

/** One request; resolves with any HTTP reply, fails only when no reply arrived. */
export const request = (
  base: string,
  method: "GET" | "POST" | "PATCH",
  path: string,
  options: { readonly token?: string | null | undefined; readonly body?: unknown; readonly timeoutMs?: number | undefined } = {}
): Effect.Effect<Reply, TargetError> =>
  Effect.tryPromise({
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
        return { status: response.status, body }
      } finally {
        clearTimeout(timer)
        signal.removeEventListener("abort", abort)
      }
    },
    catch: (error) => networkError(error, error instanceof Error && (error.message === "timeout" || (error as { cause?: Error }).cause?.message === "timeout"))
  })

/** A reply as a result: 2xx is the body, anything else a classified `TargetError`. */
export const expectOk = (reply: Reply): Effect.Effect<Json, TargetError> => {
  if (reply.status >= 200 && reply.status < 300) return Effect.succeed(reply.body)
  const code = typeof reply.body.error === "string" ? reply.body.error : reply.status >= 500 ? transportCodes.DB_ERROR : `HTTP_${reply.status}`
  return Effect.fail(new TargetError({
    code,
    status: reply.status,
    message: typeof reply.body.message === "string" ? reply.body.message : `HTTP ${reply.status}`,
    retryable: reply.status >= 500 || reply.status === 429,
    details: reply.body.details
  }))
}

const buckets = (body: Json): Buckets => {
  const b = (body.buckets ?? {}) as Record<string, string>
  return { A: BigInt(b.A ?? "0"), H: BigInt(b.H ?? "0"), B: BigInt(b.B ?? "0"), F: BigInt(b.F ?? "0"), P: BigInt(b.P ?? "0") }
}

export const make = (options: Options): Target => {
  const base = options.url.endsWith("/") ? options.url : `${options.url}/`
  const call = (method: "GET" | "POST" | "PATCH", path: string, token: string | null | undefined, body?: unknown) =>
    Effect.flatMap(request(base, method, path.replace(/^\//, ""), { token, body, timeoutMs: options.timeoutMs }), expectOk)
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
