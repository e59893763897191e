/**
 * The API's routes (spec B3, A3.2, A3.3; issue 6). Each handler decodes nothing itself (the app
 * does, with the route's Schemas) and runs one engine command; party checks live in the commands.
 */
import { ErrorCatalogue } from "@clawbounties/domain"
import { Quote } from "@clawbounties/fees"
import { Ledger } from "@clawbounties/ledger"
import {
  Audit,
  Bounties,
  BountyStore,
  Closure,
  Disputes,
  EventFeed,
  Identities,
  MarketplaceConfig,
  Operators,
  Requests,
  Submissions,
  Tokens,
  Webhooks,
  Wire,
  Workers
} from "@clawbounties/marketplace"
import { CommitProof, Envelope, ProofBundle } from "@clawbounties/verify"
import { Clock, DateTime, Effect, Option } from "effect"
import * as Engine from "./Engine.js"
import { route, type Route } from "./Route.js"
import { Scheduler } from "./Scheduler.js"
import * as Schemas from "./Schemas.js"

const anyRole = ["worker", "requester", "operator"] as const
const nowIso = Effect.map(DateTime.now, DateTime.formatIso)
const notFound = (entity: string, id: string) => new ErrorCatalogue.NotFound({ entity, id })

// -------------------------------------------------------------------------------------------------
// Health

const health = route({
  method: "GET",
  path: "/health",
  operationId: "health",
  tag: "Health",
  summary: "Liveness: the process is serving requests.",
  auth: "public",
  status: 200,
  response: Schemas.Health,
  errors: [],
  handler: () => Effect.succeed({ status: "ok" as const })
})

const ready = route({
  method: "GET",
  path: "/ready",
  operationId: "ready",
  tag: "Health",
  summary: "Readiness: the database answers.",
  auth: "public",
  status: 200,
  response: Schemas.Ready,
  errors: ["ServiceUnavailable"],
  handler: () =>
    Engine.ping.pipe(
      Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => new ErrorCatalogue.ServiceUnavailable({ reason: "the database did not answer in time" }) }),
      Effect.catchTag("SqlError", () => Effect.fail(new ErrorCatalogue.ServiceUnavailable({ reason: "the database is unreachable" }))),
      Effect.as({ status: "ready" as const, database: "ok" as const })
    )
})

// -------------------------------------------------------------------------------------------------
// Identities and tokens

const challenge = route({
  method: "POST",
  path: "/v1/auth/challenge",
  operationId: "createChallenge",
  tag: "Identities",
  summary: "Issue a single-use challenge for a DID to sign (registration).",
  description: "Sign `messages.<role>` in a `message_signature` envelope (payload: message_version \"1\", message_type \"challenge_response\", message, nonce, audience \"clawbounties\") with the DID's key, then register.",
  auth: "public",
  body: Identities.ChallengeRequest,
  status: 201,
  response: Identities.ChallengeResponse,
  errors: ["InvalidRequest", "ChallengeCapacityReached"],
  handler: ({ body }) => Identities.challenge(body)
})

const registerRequester = route({
  method: "POST",
  path: "/v1/requesters/register",
  operationId: "registerRequester",
  tag: "Identities",
  summary: "Register a requester DID by its signed challenge; returns a requester token (shown once).",
  auth: "public",
  body: Schemas.RegisterRequesterRequest,
  status: 201,
  response: Identities.RegisterResponse,
  errors: ["InvalidRequest", "ChallengeNotFound", "DidMismatch", "ChallengeUsed", "ChallengeExpired", "DidProofInvalid"],
  handler: ({ body }) =>
    Identities.register({ did: body.requester_did, role: "requester", challenge_id: body.challenge_id, proof: body.proof })
})

const registerWorker = route({
  method: "POST",
  path: "/v1/workers/register",
  operationId: "registerWorker",
  tag: "Workers",
  summary: "Register a worker DID and its profile by its signed challenge; returns a worker token (shown once).",
  description: "A DID that already has a profile proves control again and gets a new token (`created: false`); its profile is unchanged (update it with PATCH /v1/workers/self). This is how a worker that lost or revoked its token recovers.",
  auth: "public",
  body: Schemas.RegisterWorkerRequest,
  status: 201,
  response: Workers.RegisterWorkerResponse,
  errors: ["InvalidRequest", "ChallengeNotFound", "DidMismatch", "ChallengeUsed", "ChallengeExpired", "DidProofInvalid", "WorkerAlreadyRegistered"],
  handler: ({ body }) => Workers.register(body)
})

const listTokens = route({
  method: "GET",
  path: "/v1/auth/tokens",
  operationId: "listTokens",
  tag: "Identities",
  summary: "The caller's tokens (never the tokens themselves): every live one and the newest 100 revoked ones, oldest first.",
  auth: anyRole,
  status: 200,
  response: Schemas.TokenList,
  errors: [],
  handler: ({ actor }) => Effect.map(Tokens.list(actor), (tokens) => ({ tokens }))
})

const rotateToken = route({
  method: "POST",
  path: "/v1/auth/tokens/rotate",
  operationId: "rotateToken",
  tag: "Identities",
  summary: "Replace the presented token: a new one is issued (shown once) and the old one revoked.",
  auth: ["worker", "requester"],
  body: Schemas.Empty,
  status: 201,
  response: Schemas.RotateResponse,
  errors: ["Unauthorized", "Forbidden"],
  handler: ({ actor }) => Tokens.rotate(actor)
})

const revokeToken = route({
  method: "POST",
  path: "/v1/auth/tokens/{token_id}/revoke",
  operationId: "revokeToken",
  tag: "Identities",
  summary: "Revoke one of the caller's tokens (operators: any token).",
  description: "Every token it was rotated into is revoked with it, so a stolen token that was rotated leaves no live replacement.",
  auth: anyRole,
  body: Schemas.RevokeRequest,
  status: 200,
  response: Schemas.TokenInfo,
  errors: ["NotFound", "InvalidRequest"],
  handler: ({ actor, params, body }) =>
    Tokens.revoke(actor, { token_id: params.token_id!, ...(body.reason === undefined ? {} : { reason: body.reason }) })
})

// -------------------------------------------------------------------------------------------------
// Workers

const listWorkers = route({
  method: "GET",
  path: "/v1/workers",
  operationId: "listWorkers",
  tag: "Workers",
  summary: "Worker profiles, filtered by job type, tag and status (buyer discovery).",
  auth: anyRole,
  query: Workers.ListWorkersQuery,
  status: 200,
  response: Workers.ListWorkersResponse,
  errors: ["InvalidRequest"],
  handler: ({ query }) => Workers.list(query)
})

const workerSelf = route({
  method: "GET",
  path: "/v1/workers/self",
  operationId: "getWorkerSelf",
  tag: "Workers",
  summary: "The caller's own worker profile.",
  auth: ["worker"],
  status: 200,
  response: Workers.Worker,
  errors: ["NotFound", "Forbidden"],
  handler: ({ actor }) => Workers.self(actor)
})

const updateWorkerSelf = route({
  method: "PATCH",
  path: "/v1/workers/self",
  operationId: "updateWorkerSelf",
  tag: "Workers",
  summary: "Update the caller's profile (status, listing, capabilities, offers, pricing, availability).",
  auth: ["worker"],
  body: Workers.UpdateWorkerRequest,
  status: 200,
  response: Workers.Worker,
  errors: ["NotFound", "Forbidden", "InvalidRequest"],
  handler: ({ actor, body }) => Workers.update(actor, body)
})

const getWorker = route({
  method: "GET",
  path: "/v1/workers/{worker_id}",
  operationId: "getWorker",
  tag: "Workers",
  summary: "One worker profile.",
  auth: anyRole,
  status: 200,
  response: Workers.Worker,
  errors: ["NotFound"],
  handler: ({ params }) => Workers.get(params.worker_id!)
})

// -------------------------------------------------------------------------------------------------
// Bounties

const bountyErrors = ["NotFound", "IdempotencyConflict"] as const

const postBounty = route({
  method: "POST",
  path: "/v1/bounties",
  operationId: "postBounty",
  tag: "Bounties",
  summary: "Post a bounty: fees are quoted and snapshotted, and the buyer total is held in escrow.",
  auth: ["requester"],
  body: Requests.PostBounty,
  idempotent: true,
  status: 201,
  response: Bounties.PostResponse,
  errors: [
    "Forbidden", "UnsupportedCurrency", "ClosureTypeNotSupported", "InvalidRequest", "RewardBelowMinimum", "PolicyNotFound",
    "RuleNotFound", "IdempotencyConflict", "InsufficientFunds", "UnknownAccount", "InvalidAccount", "CurrencyMismatch",
    "HoldNotFound", "HoldAlreadyResolved", "HoldOverspent", "AmountOutOfRange", "UnbalancedEntry", "InvalidPosting"
  ],
  handler: ({ actor, body }) => Bounties.post(actor, body)
})

const listBounties = route({
  method: "GET",
  path: "/v1/bounties",
  operationId: "listBounties",
  tag: "Bounties",
  summary: "Bounties: open ones by default (filters status, is_code_bounty, tag); `mine=true` for those the caller posted.",
  description: "Without `status` (and without `mine`), workers and requesters get open bounties; operators get bounties of every status. `mine=true` lists the bounties the caller posted, of every status unless `status` is given (a worker's are empty: it finds the bounties it holds with `status`). Other callers see a bounty that is not open only when they are its requester or its worker.",
  auth: anyRole,
  query: Schemas.ListBountiesQuery,
  status: 200,
  response: Schemas.BountyList,
  errors: ["InvalidRequest"],
  handler: ({ actor, query }) =>
    Bounties.list(actor, {
      status: query.status,
      isCodeBounty: query.is_code_bounty,
      tag: query.tag,
      mine: query.mine,
      cursor: query.cursor,
      limit: query.limit
    })
})

const getBounty = route({
  method: "GET",
  path: "/v1/bounties/{bounty_id}",
  operationId: "getBounty",
  tag: "Bounties",
  summary: "One bounty: open ones to everyone, others to their parties and operators.",
  auth: anyRole,
  status: 200,
  response: Schemas.Bounty,
  errors: ["NotFound"],
  handler: ({ actor, params }) => Bounties.get(actor, params.bounty_id!)
})

const ledgerErrors = [
  "InsufficientFunds", "UnknownAccount", "InvalidAccount", "CurrencyMismatch", "HoldNotFound", "HoldAlreadyResolved",
  "HoldOverspent", "AmountOutOfRange", "UnbalancedEntry", "InvalidPosting", "UnsupportedCurrency", "InvalidRequest"
] as const

const cancelBounty = route({
  method: "POST",
  path: "/v1/bounties/{bounty_id}/cancel",
  operationId: "cancelBounty",
  tag: "Bounties",
  summary: "Cancel an open bounty (its requester, before anyone accepts): the hold is voided.",
  auth: ["requester"],
  body: Requests.Cancel,
  idempotent: true,
  status: 200,
  response: Schemas.CancelResponse,
  errors: [...bountyErrors, ...ledgerErrors, "Forbidden", "BountyNotOpen", "InvalidTransition"],
  handler: ({ actor, params, body }) => Bounties.cancel(actor, params.bounty_id!, body)
})

const acceptBounty = route({
  method: "POST",
  path: "/v1/bounties/{bounty_id}/accept",
  operationId: "acceptBounty",
  tag: "Bounties",
  summary: "Accept an open bounty (one worker wins a race; eligibility is checked against the profile).",
  auth: ["worker"],
  body: Requests.Accept,
  idempotent: true,
  status: 200,
  response: Bounties.AcceptResponse,
  errors: [
    // Idempotent by state: a key is validated, never stored, so it cannot conflict. Accepting
    // moves no money, so none of the ledger's errors applies.
    "NotFound", "InvalidAccount", "UnsupportedCurrency", "InvalidRequest", "Forbidden", "BountyNotOpen", "DeadlinePassed", "BountyAlreadyAccepted", "WorkerNotEligible",
    "WorkerNotRegistered", "InvalidTransition"
  ],
  handler: ({ actor, params, body }) => Bounties.accept(actor, params.bounty_id!, body)
})

const submitWork = route({
  method: "POST",
  path: "/v1/bounties/{bounty_id}/submit",
  operationId: "submitWork",
  tag: "Bounties",
  summary: "Submit signed evidence (proof bundle; commit proof for code bounties; artifacts for agent packs).",
  description: "Verified in strict mode before anything is stored. An invalid submission is stored with its reasons (SUBMISSION_INVALID) and counts as an attempt.",
  auth: ["worker"],
  body: Schemas.SubmitRequest,
  idempotent: true,
  status: 201,
  response: Submissions.SubmitResponse,
  errors: [
    ...bountyErrors, "Forbidden", "BountyNotAssigned", "SubmissionAlreadyUnderReview", "InvalidTransition", "DeadlinePassed",
    "SubmissionLimitReached", "SubmissionInvalid", "InvalidRequest"
  ],
  handler: ({ actor, params, body }) => Submissions.submit(actor, params.bounty_id!, body)
})

const approveSubmission = route({
  method: "POST",
  path: "/v1/bounties/{bounty_id}/approve",
  operationId: "approveSubmission",
  tag: "Bounties",
  summary: "Approve the submission under review: the worker is paid from the escrow, the fee goes to the platform.",
  auth: ["requester"],
  body: Requests.Approve,
  idempotent: true,
  status: 200,
  response: Closure.ApproveResponse,
  errors: [...bountyErrors, ...ledgerErrors, "Forbidden", "SubmissionNotPendingReview", "InvalidTransition"],
  handler: ({ actor, params, body }) => Closure.approve(actor, params.bounty_id!, body)
})

const rejectSubmission = route({
  method: "POST",
  path: "/v1/bounties/{bounty_id}/reject",
  operationId: "rejectSubmission",
  tag: "Bounties",
  summary: "Reject the submission under review: a dispute opens and the escrow stays held.",
  auth: ["requester"],
  body: Requests.Reject,
  idempotent: true,
  status: 200,
  response: Closure.RejectResponse,
  errors: [...bountyErrors, "Forbidden", "SubmissionNotPendingReview", "InvalidTransition", "DeadlinePassed", "InvalidRequest"],
  handler: ({ actor, params, body }) => Closure.reject(actor, params.bounty_id!, body)
})

const listSubmissions = route({
  method: "GET",
  path: "/v1/bounties/{bounty_id}/submissions",
  operationId: "listSubmissions",
  tag: "Submissions",
  summary: "A bounty's submissions: all to its requester and operators, its own to a worker.",
  auth: anyRole,
  status: 200,
  response: Schemas.SubmissionList,
  errors: ["NotFound"],
  handler: ({ actor, params }) => Submissions.listForBounty(actor, params.bounty_id!)
})

const getSubmission = route({
  method: "GET",
  path: "/v1/submissions/{submission_id}",
  operationId: "getSubmission",
  tag: "Submissions",
  summary: "One submission, to the bounty's requester, the submitting worker and operators.",
  auth: anyRole,
  status: 200,
  response: Schemas.Submission,
  errors: ["NotFound"],
  handler: ({ actor, params }) => Submissions.get(actor, params.submission_id!)
})

// -------------------------------------------------------------------------------------------------
// Escrows, balances, history, fees

const getEscrow = route({
  method: "GET",
  path: "/v1/escrows/{escrow_id}",
  operationId: "getEscrow",
  tag: "Money",
  summary: "One escrow, to its requester, its worker and operators.",
  auth: anyRole,
  status: 200,
  response: Schemas.Escrow,
  errors: ["NotFound"],
  handler: ({ actor, params }) =>
    Effect.gen(function* () {
      const escrow = yield* BountyStore.findEscrow(params.escrow_id!)
      const visible = Option.filter(escrow, (row) =>
        actor.role === "operator" || row.requester_did === actor.did || row.worker_did === actor.did)
      if (Option.isNone(visible)) return yield* notFound("escrow", params.escrow_id!)
      return Wire.escrow(visible.value)
    })
})

/** A participant reads its own account; operators read any (system accounts included). */
const requireAccountAccess = (actor: Tokens.Principal, did: string) =>
  actor.role === "operator" || actor.did === did ? Effect.void : Effect.fail(notFound("account", did))

const getBalances = route({
  method: "GET",
  path: "/v1/balances",
  operationId: "getBalances",
  tag: "Money",
  summary: "Balances of an account per bucket: A available, H held, B bonded, F fees, P promo (spec A3.2).",
  auth: anyRole,
  query: Schemas.BalancesQuery,
  status: 200,
  response: Schemas.BalancesResponse,
  errors: ["NotFound"],
  handler: ({ actor, query }) =>
    Effect.gen(function* () {
      yield* requireAccountAccess(actor, query.did)
      const ledger = yield* Ledger.Ledger
      const currency = query.currency ?? "USD"
      // A participant that never held money has no account yet: all its buckets are zero.
      const all = yield* ledger.balances(query.did).pipe(
        Effect.catchTag("UnknownAccount", () => Effect.succeed({} as Ledger.Balances))
      )
      const buckets = all[currency] ?? { A: 0n, H: 0n, B: 0n, F: 0n, P: 0n }
      return {
        did: query.did,
        currency,
        buckets: { A: `${buckets.A}`, H: `${buckets.H}`, B: `${buckets.B}`, F: `${buckets.F}`, P: `${buckets.P}` },
        as_of: yield* nowIso
      }
    })
})

const getHistory = route({
  method: "GET",
  path: "/v1/balances/history",
  operationId: "getAccountHistory",
  tag: "Money",
  summary: "An account's postings, newest first, with the balance after each (cursor paging).",
  auth: anyRole,
  query: Schemas.HistoryQuery,
  status: 200,
  response: Schemas.HistoryResponse,
  errors: ["NotFound", "InvalidRequest"],
  handler: ({ actor, query }) =>
    Effect.gen(function* () {
      yield* requireAccountAccess(actor, query.did)
      const ledger = yield* Ledger.Ledger
      const page = yield* ledger.history({ account: query.did, currency: query.currency, cursor: query.cursor, limit: query.limit })
      return {
        did: query.did,
        items: page.items.map((item) => ({
          entry_id: item.entryId,
          kind: item.kind,
          created_at: DateTime.formatIso(DateTime.unsafeMake(item.createdAt)),
          bucket: item.bucket,
          currency: item.currency,
          amount_minor: item.amount.toString(),
          balance_after_minor: item.balanceAfter.toString(),
          metadata: item.metadata,
          cursor: item.cursor
        })),
        next_cursor: page.nextCursor
      }
    })
})

const simulateFees = route({
  method: "POST",
  path: "/v1/fees/simulate",
  operationId: "simulateFees",
  tag: "Money",
  summary: "Quote a job's fees under a policy (spec A3.3): principal, buyer total, worker net, each fee.",
  auth: anyRole,
  body: Quote.SimulateRequest,
  status: 200,
  response: Quote.SimulateResponse,
  errors: ["PolicyNotFound", "RuleNotFound", "InvalidRequest"],
  handler: ({ body }) => Quote.quote(body)
})

// -------------------------------------------------------------------------------------------------
// Verification: results are values (VALID or INVALID with a code), verified at the server's Clock.

const verificationOptions = Effect.gen(function* () {
  const config = yield* MarketplaceConfig.MarketplaceConfig
  return {
    mode: "strict" as const,
    verifyAt: yield* Clock.currentTimeMillis,
    ttlSkewMs: config.verification.clockSkewMs,
    gatewaySignerDids: config.verification.gatewaySignerDids
  }
})

const verifyEnvelope = route({
  method: "POST",
  path: "/v1/verify",
  operationId: "verifyEnvelope",
  tag: "Verification",
  summary: "Verify one signed envelope (artifact, message, commit proof, event chain), strict mode.",
  auth: anyRole,
  body: Schemas.VerifyRequest,
  status: 200,
  response: Schemas.VerificationResult,
  errors: [],
  handler: ({ body }) =>
    Effect.map(verificationOptions, (options) => ({
      ...Envelope.verifyEnvelope(body.envelope, { ...options, ...(body.expected_type === undefined ? {} : { expectedType: body.expected_type }) })
    }))
})

const verifyBundle = route({
  method: "POST",
  path: "/v1/verify/bundle",
  operationId: "verifyProofBundle",
  tag: "Verification",
  summary: "Verify a proof bundle envelope and compute its proof tier, strict mode, with the marketplace's trusted gateway signers.",
  auth: anyRole,
  body: Schemas.VerifyBundleRequest,
  status: 200,
  response: Schemas.VerificationResult,
  errors: [],
  handler: ({ body }) =>
    Effect.map(verificationOptions, (options) => ({
      ...ProofBundle.verify(body.envelope, {
        ...options,
        ...(body.urm === undefined ? {} : { urm: body.urm }),
        ...(body.execution_attestations === undefined ? {} : { executionAttestations: body.execution_attestations })
      })
    }))
})

const verifyCommitProof = route({
  method: "POST",
  path: "/v1/verify/commit-proof",
  operationId: "verifyCommitProof",
  tag: "Verification",
  summary: "Verify a commit proof (envelope or legacy m1), strict mode.",
  description: "Repository claims are not checked against a registry yet (as in submission verification): any claim id is accepted.",
  auth: anyRole,
  body: Schemas.VerifyCommitProofRequest,
  status: 200,
  response: Schemas.VerificationResult,
  errors: [],
  handler: ({ body }) =>
    Effect.map(verificationOptions, (options) => ({
      ...CommitProof.verify(body.envelope, { ...options, repoClaimIds: () => true })
    }))
})

// -------------------------------------------------------------------------------------------------
// Disputes and operators

const getDispute = route({
  method: "GET",
  path: "/v1/disputes/{dispute_id}",
  operationId: "getDispute",
  tag: "Disputes",
  summary: "One dispute, to its parties and operators.",
  auth: anyRole,
  status: 200,
  response: Schemas.Dispute,
  errors: ["NotFound"],
  handler: ({ actor, params }) => Disputes.get(actor, params.dispute_id!)
})

const disputeQueue = route({
  method: "GET",
  path: "/v1/operator/disputes",
  operationId: "disputeQueue",
  tag: "Operators",
  summary: "The operators' dispute queue: open disputes escalated first, then oldest first; `status=resolved` lists the resolved ones, most recently resolved first.",
  auth: ["operator"],
  query: Schemas.DisputeQueueQuery,
  status: 200,
  response: Schemas.DisputeList,
  errors: ["InvalidRequest", "Forbidden"],
  handler: ({ actor, query }) =>
    Disputes.queue(actor, {
      ...(query.status === undefined ? {} : { status: query.status }),
      cursor: query.cursor,
      ...(query.limit === undefined ? {} : { limit: query.limit })
    })
})

const resolveDispute = route({
  method: "POST",
  path: "/v1/operator/disputes/{dispute_id}/resolve",
  operationId: "resolveDispute",
  tag: "Operators",
  summary: "Resolve a dispute: worker_award, requester_refund or split (worker_share_bps).",
  auth: ["operator"],
  body: Requests.ResolveDispute,
  idempotent: true,
  status: 200,
  response: Disputes.ResolveResponse,
  errors: [...bountyErrors, ...ledgerErrors, "Forbidden", "DisputeNotOpen", "InvalidTransition"],
  handler: ({ actor, params, body }) => Disputes.resolve(actor, params.dispute_id!, body)
})

const adjustmentErrors = [...ledgerErrors, "Forbidden", "IdempotencyConflict"] as const

const manualCredit = route({
  method: "POST",
  path: "/v1/operator/credits",
  operationId: "manualCredit",
  tag: "Operators",
  summary: "Credit a participant's available balance from world:manual, with a reason (audited).",
  description: "`purpose`: `deposit` (a top-up, the default) or `correction` (entry kind `adjustment`, shown on statements as its own line).",
  auth: ["operator"],
  body: Operators.Credit,
  idempotent: true,
  status: 201,
  response: Operators.AdjustmentResponse,
  errors: adjustmentErrors,
  handler: ({ actor, body }) => Operators.credit(actor, body)
})

const manualDebit = route({
  method: "POST",
  path: "/v1/operator/debits",
  operationId: "manualDebit",
  tag: "Operators",
  summary: "Debit a participant's available balance to world:manual, with a reason (audited).",
  description: "`purpose`: `payout` (money paid out outside the engine, the default; counted in statements' payouts) or `correction` (entry kind `adjustment`, its own line).",
  auth: ["operator"],
  body: Operators.Debit,
  idempotent: true,
  status: 201,
  response: Operators.AdjustmentResponse,
  errors: adjustmentErrors,
  handler: ({ actor, body }) => Operators.debit(actor, body)
})

const reconcile = route({
  method: "GET",
  path: "/v1/operator/reconcile",
  operationId: "reconcile",
  tag: "Operators",
  summary: "Recompute every balance from the postings and check every ledger invariant.",
  auth: ["operator"],
  status: 200,
  response: Schemas.ReconcileResponse,
  errors: [],
  handler: () => Effect.flatMap(Ledger.Ledger, (ledger) => ledger.reconcile)
})

const auditLog = route({
  method: "GET",
  path: "/v1/operator/audit",
  operationId: "auditLog",
  tag: "Operators",
  summary: "The audit log, newest first, optionally for one entity; `next_cursor` pages to older rows.",
  auth: ["operator"],
  query: Schemas.AuditQuery,
  status: 200,
  response: Schemas.AuditResponse,
  errors: ["InvalidRequest"],
  handler: ({ query }) =>
    Audit.list({
      ...(query.entity_id === undefined ? {} : { entityId: query.entity_id }),
      cursor: query.cursor,
      ...(query.limit === undefined ? {} : { limit: query.limit })
    })
})

// -------------------------------------------------------------------------------------------------
// Events

const pullEvents = route({
  method: "GET",
  path: "/v1/events",
  operationId: "pullEvents",
  tag: "Events",
  summary: "The caller's events not yet acknowledged, oldest first.",
  description: "Poll without a cursor, handle the page, acknowledge it with POST /v1/events/ack, and poll again: an event is delivered until its recipient acknowledges it, so a consumer that restarts loses nothing, and `event_id` tells a copy it already handled. `cursor` pages within one poll; `include_acked=true` replays acknowledged events too. With `wait_seconds` (up to 30) a poll that finds nothing waits for an event and answers as soon as one is there, or empty at the end of the wait.",
  auth: anyRole,
  query: Schemas.EventsQuery,
  status: 200,
  response: EventFeed.PullResponse,
  errors: ["InvalidRequest"],
  handler: ({ actor, closing, query }) => {
    const input = { cursor: query.cursor, limit: query.limit, includeAcked: query.include_acked }
    if (query.wait_seconds === undefined) return EventFeed.pull(actor, input)
    // A server that starts to stop answers a waiting poll with what is there, not 503 after its grace.
    return Effect.raceFirst(EventFeed.pull(actor, { ...input, waitSeconds: query.wait_seconds }), Effect.zipRight(closing, EventFeed.pull(actor, input)))
  }
})

const ackEvents = route({
  method: "POST",
  path: "/v1/events/ack",
  operationId: "ackEvents",
  tag: "Events",
  summary: "Acknowledge handled events: they leave the caller's feed.",
  description: "Acknowledging an event again changes nothing, so a retry needs no idempotency key. An id that is not one of the caller's events is NOT_FOUND, and then nothing is acknowledged.",
  auth: anyRole,
  body: EventFeed.AckRequest,
  status: 200,
  response: EventFeed.AckResponse,
  errors: ["InvalidRequest", "NotFound"],
  handler: ({ actor, body }) => EventFeed.ack(actor, body)
})

// -------------------------------------------------------------------------------------------------
// Webhooks

const createWebhook = route({
  method: "POST",
  path: "/v1/webhooks",
  operationId: "createWebhook",
  tag: "Webhooks",
  summary: "Register an endpoint for the caller's events; returns its signing secret (shown once).",
  description: "The caller's events (those of `event_types`, or all) are POSTed to `url`, signed (`Webhook-Signature: v1=` and the hex HMAC-SHA256 of `${Webhook-Timestamp}.${raw body}` keyed with the secret), and retried with backoff until a 2xx answer. The URL must be https, carry no credentials, and resolve only to public addresses; redirects are not followed. docs/webhooks.md gives the scheme and a verification snippet.",
  auth: anyRole,
  body: Webhooks.CreateRequest,
  status: 201,
  response: Webhooks.WebhookWithSecret,
  errors: ["InvalidRequest", "WebhookUrlRefused", "WebhookLimitReached"],
  handler: ({ actor, body }) => Webhooks.create(actor, body)
})

const listWebhooks = route({
  method: "GET",
  path: "/v1/webhooks",
  operationId: "listWebhooks",
  tag: "Webhooks",
  summary: "The caller's webhook endpoints, oldest first (never their secrets).",
  auth: anyRole,
  status: 200,
  response: Webhooks.WebhookList,
  errors: [],
  handler: ({ actor }) => Webhooks.list(actor)
})

const deleteWebhook = route({
  method: "DELETE",
  path: "/v1/webhooks/{webhook_id}",
  operationId: "deleteWebhook",
  tag: "Webhooks",
  summary: "Delete one of the caller's endpoints, its pending deliveries and its delivery log.",
  auth: anyRole,
  status: 200,
  response: Webhooks.Deleted,
  errors: ["NotFound"],
  handler: ({ actor, params }) => Webhooks.remove(actor, params.webhook_id!)
})

const rotateWebhookSecret = route({
  method: "POST",
  path: "/v1/webhooks/{webhook_id}/rotate-secret",
  operationId: "rotateWebhookSecret",
  tag: "Webhooks",
  summary: "Replace the endpoint's signing secret; the new one is shown once and signs every later attempt.",
  auth: anyRole,
  body: Schemas.Empty,
  status: 200,
  response: Webhooks.WebhookWithSecret,
  errors: ["NotFound"],
  handler: ({ actor, params }) => Webhooks.rotateSecret(actor, params.webhook_id!)
})

const listWebhookDeliveries = route({
  method: "GET",
  path: "/v1/webhooks/{webhook_id}/deliveries",
  operationId: "listWebhookDeliveries",
  tag: "Webhooks",
  summary: "The endpoint's delivery log: every attempt (status code or error, duration), newest first.",
  auth: anyRole,
  query: Schemas.WebhookDeliveriesQuery,
  status: 200,
  response: Webhooks.DeliveryLog,
  errors: ["NotFound", "InvalidRequest"],
  handler: ({ actor, params, query }) => Webhooks.deliveries(actor, params.webhook_id!, { cursor: query.cursor, limit: query.limit })
})

const replayWebhook = route({
  method: "POST",
  path: "/v1/webhooks/{webhook_id}/replay",
  operationId: "replayWebhook",
  tag: "Webhooks",
  summary: "Deliver the caller's events after a feed cursor to this endpoint again, oldest first, at most `limit` (100 by default, 500 at most).",
  description: "`after` is an event's `cursor` from GET /v1/events (absent: from the oldest event kept). Pass the answer's `next_cursor` as `after` for the next events. An event already waiting for delivery to the endpoint is not added twice.",
  auth: anyRole,
  body: Webhooks.ReplayRequest,
  status: 200,
  response: Webhooks.ReplayResponse,
  errors: ["NotFound", "InvalidRequest"],
  handler: ({ actor, params, body }) => Webhooks.replay(actor, params.webhook_id!, body)
})

const sweepStatus = route({
  method: "GET",
  path: "/v1/operator/sweep",
  operationId: "sweepStatus",
  tag: "Operators",
  summary: "The deadline scheduler: runs, failures, the last sweep's report.",
  auth: ["operator"],
  status: 200,
  response: Schemas.SweepStatus,
  errors: [],
  handler: () => Effect.flatMap(Scheduler, (scheduler) => scheduler.status)
})

const runSweep = route({
  method: "POST",
  path: "/v1/operator/sweep",
  operationId: "runSweep",
  tag: "Operators",
  summary: "Run one deadline sweep now and return its report.",
  auth: ["operator"],
  body: Schemas.Empty,
  status: 200,
  response: Schemas.SweepReport,
  // A due transition the sweep cannot apply (a record the ledger disagrees with) fails the run.
  errors: [...ledgerErrors, "IdempotencyConflict", "InvalidTransition"],
  handler: () => Effect.flatMap(Scheduler, (scheduler) => scheduler.runNow)
})

/** Every route the API serves (besides `/openapi.json` and `/docs`, which describe these). */
export const routes: ReadonlyArray<Route> = [
  health, ready,
  challenge, registerRequester, registerWorker, listTokens, rotateToken, revokeToken,
  listWorkers, workerSelf, updateWorkerSelf, getWorker,
  postBounty, listBounties, getBounty, cancelBounty, acceptBounty, submitWork, approveSubmission, rejectSubmission,
  listSubmissions, getSubmission,
  getEscrow, getBalances, getHistory, simulateFees,
  verifyEnvelope, verifyBundle, verifyCommitProof,
  pullEvents, ackEvents,
  createWebhook, listWebhooks, deleteWebhook, rotateWebhookSecret, listWebhookDeliveries, replayWebhook,
  getDispute, disputeQueue, resolveDispute, manualCredit, manualDebit, reconcile, auditLog, sweepStatus, runSweep
]
