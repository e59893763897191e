/**
 * What the simulation runner and the gate drive: the marketplace through its public operations,
 * either the in-process engine ({@link InProcess}) or a running server ({@link Http}), behind one
 * interface. Bodies and responses are the wire forms (snake_case JSON, money as digit strings), so
 * a scenario is written once and means the same thing against both.
 */
import { Data, type Effect } from "effect"
import type * as Faults from "./Faults.js"
import type { Key } from "./Keys.js"

export type Role = "worker" | "requester" | "operator"

/** An authenticated principal: its DID, role, and (over HTTP) bearer token. */
export interface Principal {
  readonly did: string
  readonly role: Role
  readonly token: string | null
}

export interface Buckets {
  readonly A: bigint
  readonly H: bigint
  readonly B: bigint
  readonly F: bigint
  readonly P: bigint
}

export const emptyBuckets: Buckets = { A: 0n, H: 0n, B: 0n, F: 0n, P: 0n }

/**
 * A failed call, classified. `code` is the catalogue's wire code (`INSUFFICIENT_FUNDS`, ...) or
 * one of the transport codes below; `retryable` says whether the same request (same idempotency
 * key) may be sent again.
 */
export class TargetError extends Data.TaggedError("TargetError")<{
  readonly code: string
  readonly status: number | null
  readonly message: string
  readonly retryable: boolean
  readonly details?: unknown
  /** The server's `Retry-After` on a 429, in milliseconds, when it sent one. */
  readonly retryAfterMs?: number | undefined
}> {}

/**
 * How long one request to a rate-limited server may wait in all for its `Retry-After` by default:
 * five minutes, past a per-minute limit's window, so a run outlasts any burst a server allows.
 */
export const DEFAULT_RATE_LIMIT_WAIT_MS = 5 * 60_000

/** Transport-level codes (not in the engine's catalogue). */
export const transportCodes = {
  /** The database failed (in-process) or the server answered 5xx. */
  DB_ERROR: "DB_ERROR",
  /** The server could not be reached or the connection dropped. */
  NETWORK: "NETWORK_ERROR",
  /** The call took longer than the client's timeout. */
  TIMEOUT: "TIMEOUT",
  /** An unexpected defect (a bug): never retried. */
  DEFECT: "DEFECT",
  /** The response did not have the expected shape. */
  BAD_RESPONSE: "BAD_RESPONSE"
} as const

/**
 * The class of an error code, for the summary's classified buckets (the raw codes are kept too).
 * `INSUFFICIENT_FUNDS` is its own class so a funding problem is never lost among others.
 */
export const classify = (code: string): string => {
  if (code === "INSUFFICIENT_FUNDS") return "INSUFFICIENT_FUNDS"
  if (code === "UNAUTHORIZED" || code === "FORBIDDEN" || code.startsWith("TOKEN_")) return "AUTH_CONTRACT"
  if (code === transportCodes.DB_ERROR || code === "INTERNAL_ERROR" || code === "COMMIT_OUTCOME_UNKNOWN") return "DB_ERROR"
  if (code === transportCodes.NETWORK || code === transportCodes.TIMEOUT || code === "SERVICE_UNAVAILABLE" || code === "DATABASE_TIMEOUT") return "UPSTREAM_UNAVAILABLE"
  if (code === "RATE_LIMITED") return "RATE_LIMITED"
  if (code.startsWith("SUBMISSION_") || code.includes("PROOF")) return "VERIFY_PIPELINE"
  if (code === "INVALID_REQUEST" || code.startsWith("MALFORMED") || code === "IDEMPOTENCY_CONFLICT") return "CLIENT_CONTRACT"
  if (code === transportCodes.DEFECT || code === transportCodes.BAD_RESPONSE) return "UNCAUGHT"
  return "STATE_CONFLICT"
}

export interface SweepReport {
  readonly expired: number
  readonly reopened: number
  readonly cancelled: number
  readonly autoApproved: number
  readonly escalated: number
}

export interface ReconcileSummary {
  readonly ok: boolean
  readonly discrepancies: ReadonlyArray<{ readonly kind: string; readonly detail: string }>
}

export interface Capabilities {
  /** `manual`: the runner moves time; `wall`: deadlines pass in real time. */
  readonly clock: "manual" | "wall"
  /** The runner may trigger a deadline sweep. */
  readonly sweep: boolean
  /** An operator principal is available (funding, dispute decisions, reconcile). */
  readonly operator: boolean
  /** Faults this target can inject. */
  readonly faults: ReadonlyArray<Faults.Kind>
  /** The engine's own records can be read (in-process): invariants on the database. */
  readonly records: boolean
}

type Json = Record<string, unknown>
type Call<A = Json> = Effect.Effect<A, TargetError>

export interface Target {
  readonly kind: "in-process" | "http"
  /** Where it runs: `in-process (sqlite :memory:)`, `http://127.0.0.1:8787`. */
  readonly label: string
  readonly capabilities: Capabilities
  /** The operator principal (fails when the target has none). */
  readonly operator: Call<Principal>
  /** `GET /health`-like liveness: resolves when the target answers. */
  readonly health: Call<Json>
  /** Challenge + signed answer + register; a worker gets a default profile. */
  readonly register: (key: Key, role: "worker" | "requester") => Call<Principal>
  /** Operator credit of `did`'s available balance (funding). */
  readonly credit: (operator: Principal, did: string, amountMinor: bigint, idempotencyKey: string) => Call
  readonly balances: (viewer: Principal, did: string) => Call<Buckets>
  readonly post: (requester: Principal, body: Json) => Call
  readonly getBounty: (viewer: Principal, bountyId: string) => Call
  readonly cancel: (requester: Principal, bountyId: string, body: Json) => Call
  readonly accept: (worker: Principal, bountyId: string, body: Json) => Call
  readonly submit: (worker: Principal, bountyId: string, body: Json) => Call
  readonly listSubmissions: (viewer: Principal, bountyId: string) => Call
  readonly getSubmission: (viewer: Principal, submissionId: string) => Call
  readonly approve: (requester: Principal, bountyId: string, body: Json) => Call
  readonly reject: (requester: Principal, bountyId: string, body: Json) => Call
  readonly resolveDispute: (operator: Principal, disputeId: string, body: Json) => Call
  readonly getEscrow: (viewer: Principal, escrowId: string) => Call
  /** Applies every due deadline now (operator). */
  readonly sweep: (operator: Principal) => Call<SweepReport>
  readonly reconcile: (operator: Principal) => Call<ReconcileSummary>
  /** Moves time forward: the manual clock in-process, a real wait over HTTP. */
  readonly advance: (seconds: number) => Effect.Effect<void>
  /** The target's current time (ISO), for `issued_at` of envelopes. */
  readonly now: Effect.Effect<string>
  /** Runs `call` with a database fault armed (in-process only; others run it unchanged). */
  readonly withFault: <A>(fault: { readonly kind: Faults.DbKind; readonly at: number } | undefined, call: Call<A>) => Effect.Effect<{ readonly result: import("effect").Exit.Exit<A, TargetError>; readonly fired: boolean }>
  /** Restarts the server (HTTP targets the runner started itself). */
  readonly restart?: Effect.Effect<void, TargetError>
  /** The waits for a rate-limited server so far (HTTP targets): how many, and how long in all. */
  readonly rateLimitWaits?: () => RateLimitWaits
}

export interface RateLimitWaits {
  readonly waits: number
  readonly waitedMs: number
}

/** The default worker profile the runner and the gate register. */
export const defaultWorkerProfile = (label: string) => ({
  worker_version: "testkit/1.0.0",
  listing: { name: label, headline: "testkit simulated worker", tags: ["testkit"] },
  capabilities: { job_types: ["code", "research", "agent_pack"], languages: ["ts"], max_minutes: 60 },
  offers: { skills: [], mcp: [] },
  pricing: { price_floor_minor: "0" },
  availability: { mode: "manual", paused: false }
})
