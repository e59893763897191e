/**
 * Actors for tests on the in-process engine: a requester, a worker, a reviewer and an operator,
 * each with the common steps as one call. Keys come from fixed seeds ({@link Keys}), registration
 * goes through a real signed DID challenge, funding through an operator credit, and submissions
 * carry signed proof bundles, so a test reads as the story it checks:
 *
 * ```ts
 * const alice = yield* Actors.requester(Keys.key(1), { fund: 10_000n })
 * const bob = yield* Actors.worker(Keys.key(2))
 * const posted = yield* alice.post()
 * yield* bob.accept(posted.bounty_id)
 * const submitted = yield* bob.submit(posted.bounty_id)
 * yield* alice.approve(posted.bounty_id, submitted.submission_id)
 * ```
 */
import { Ledger } from "@clawbounties/ledger"
import {
  Bounties,
  Closure,
  Deadlines,
  Disputes,
  Identities,
  Operators,
  type Requests,
  Submissions,
  Workers
} from "@clawbounties/marketplace"
import type { Actor } from "@clawbounties/marketplace/Actor"
import { Effect, Schema } from "effect"
import * as Builders from "./Builders.js"
import * as Deterministic from "./Deterministic.js"
import type { Key } from "./Keys.js"
import { defaultWorkerProfile, emptyBuckets } from "./Target.js"

export const operatorActor: Actor = { did: "operator", role: "operator" }

/** A research bounty with a 50.00 reward and requester closure, posted under `idempotency_key`; override any field. */
export const bountyInput = (overrides: Partial<Requests.PostBounty> & Pick<Requests.PostBounty, "idempotency_key">): Requests.PostBounty => ({
  title: "Research best approach",
  description: "Summarise the options and recommend one.",
  reward: { amount_minor: 5000n, currency: "USD" },
  closure_type: "requester",
  difficulty_scalar: 1,
  is_code_bounty: false,
  min_proof_tier: "self",
  tags: ["research"],
  metadata: {},
  ...overrides
})

/** The balances of `did` in USD (zeros for an account never opened). */
export const balances = (did: string) =>
  Effect.gen(function* () {
    const ledger = yield* Ledger.Ledger
    const all = yield* Effect.catchTag(ledger.balances(did), "UnknownAccount", () => Effect.succeed({} as Ledger.Balances))
    return all.USD ?? emptyBuckets
  })

/** Challenge, signed answer, register: the DID holds `role` afterwards. Returns the token. */
export const registerIdentity = (key: Key, role: Identities.RegistrableRole) =>
  Effect.gen(function* () {
    const challenge = yield* Identities.challenge({ did: key.did, purpose: "register" })
    const issuedAt = yield* Deterministic.nowIso
    const registered = yield* Identities.register({
      did: key.did,
      role,
      challenge_id: challenge.challenge_id,
      proof: Builders.challengeAnswer(key, challenge, role, { issuedAt })
    })
    return registered.auth.token
  })

export const operator = {
  actor: operatorActor,
  /** Credits `did`'s available balance (idempotent per `did` and amount unless a key is given). */
  credit: (did: string, amountMinor: bigint, idempotencyKey = `fund:${did}:${amountMinor}`) =>
    Operators.credit(operatorActor, { did, amount_minor: amountMinor, currency: "USD", reason: "test funding", idempotency_key: idempotencyKey }),
  resolve: (disputeId: string, outcome: Requests.ResolveDispute["outcome"], workerShareBps?: number) =>
    Disputes.resolve(operatorActor, disputeId, { outcome, ...(workerShareBps === undefined ? {} : { worker_share_bps: workerShareBps }) }),
  queue: Disputes.queue(operatorActor, {}),
  sweep: Deadlines.sweep()
}

/** A registered requester, funded with `fund` (minor units) when given. */
export const requester = (key: Key, options: { readonly fund?: bigint } = {}) =>
  Effect.gen(function* () {
    const token = yield* registerIdentity(key, "requester")
    const actor: Actor = { did: key.did, role: "requester" }
    if (options.fund !== undefined && options.fund > 0n) yield* operator.credit(key.did, options.fund)
    let posts = 0
    return {
      key,
      actor,
      token,
      /** Each call is a new bounty (keys `post-1`, `post-2`, ...); running its effect again replays it. */
      post: (overrides: Partial<Requests.PostBounty> = {}) =>
        Bounties.post(actor, bountyInput({ idempotency_key: `post-${++posts}`, ...overrides })),
      get: (bountyId: string) => Bounties.get(actor, bountyId),
      cancel: (bountyId: string, reason?: string) => Bounties.cancel(actor, bountyId, reason === undefined ? {} : { reason }),
      submissions: (bountyId: string) => Submissions.listForBounty(actor, bountyId),
      approve: (bountyId: string, submissionId: string) => Closure.approve(actor, bountyId, { submission_id: submissionId }),
      reject: (bountyId: string, submissionId: string, reason = "does not meet the brief") =>
        Closure.reject(actor, bountyId, { submission_id: submissionId, reason }),
      balances: balances(key.did)
    }
  })
export type Requester = Effect.Effect.Success<ReturnType<typeof requester>>

/** A registered worker with the default profile (all job types, no price floor, available). */
export const worker = (key: Key, profile: Record<string, unknown> = {}) =>
  Effect.gen(function* () {
    const challenge = yield* Identities.challenge({ did: key.did, purpose: "register" })
    const issuedAt = yield* Deterministic.nowIso
    const request = yield* Schema.decodeUnknown(Workers.RegisterWorkerRequest)({
      worker_did: key.did,
      challenge_id: challenge.challenge_id,
      proof: Builders.challengeAnswer(key, challenge, "worker", { issuedAt }),
      ...defaultWorkerProfile(`worker ${key.did.slice(-6)}`),
      ...profile
    }).pipe(Effect.orDie)
    const registered = yield* Workers.register(request)
    const actor: Actor = { did: key.did, role: "worker" }
    return {
      key,
      actor,
      token: registered.auth.token,
      accept: (bountyId: string) => Bounties.accept(actor, bountyId, {}),
      /** Submits a signed proof bundle (valid unless `tamper`), with a commit proof for code bounties. */
      submit: (bountyId: string, options: Builders.ProofBundleOptions & { readonly code?: boolean; readonly idempotencyKey?: string } = {}) =>
        Effect.flatMap(Deterministic.nowIso, (issuedAt) =>
          Submissions.submit(actor, bountyId, {
            // Envelopes are passed as the JSON a client sends; the command verifies them itself.
            proof_bundle_envelope: Builders.proofBundle(key, { issuedAt, runId: `run_${bountyId}`, ...options }) as unknown as Requests.Submit["proof_bundle_envelope"],
            ...(options.code === true
              ? { commit_proof_envelope: Builders.commitProof(key, { issuedAt }) as unknown as Requests.Submit["proof_bundle_envelope"] }
              : {}),
            ...(options.idempotencyKey === undefined ? {} : { idempotency_key: options.idempotencyKey }),
            artifacts: []
          })),
      balances: balances(key.did)
    }
  })
export type Worker = Effect.Effect.Success<ReturnType<typeof worker>>

/**
 * A reviewer acting for a requester: finds the submission under review and decides, in one call.
 */
export const reviewer = (forRequester: Requester) => ({
  review: (bountyId: string, decision: "approve" | "reject", reason = "does not meet the brief") =>
    Effect.gen(function* () {
      const { submissions } = yield* forRequester.submissions(bountyId)
      const pending = submissions.find((s) => s.status === "pending_review")
      if (pending === undefined) return yield* Effect.dieMessage(`bounty ${bountyId} has no submission under review`)
      return decision === "approve"
        ? { decision, approved: yield* forRequester.approve(bountyId, pending.submission_id) }
        : { decision, rejected: yield* forRequester.reject(bountyId, pending.submission_id, reason) }
    })
})
