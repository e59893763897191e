/**
 * Bounties: post (fees quoted and snapshotted, `buyer_total` held in escrow, all in one
 * transaction), list, get, cancel, and accept (exactly one worker wins a race; the escrow names that
 * worker in the same transaction).
 */
import { SqlClient } from "@effect/sql"
import { ErrorCatalogue, Ids } from "@clawbounties/domain"
import { Ledger } from "@clawbounties/ledger"
import { Tier } from "@clawbounties/verify"
import { Duration, Effect, Option, Schema } from "effect"
import { type Actor, requireRole } from "./Actor.js"
import * as Audit from "./Audit.js"
import * as BountyStore from "./BountyStore.js"
import * as Cursor from "./Cursor.js"
import * as Evidence from "./Evidence.js"
import { addSeconds, nowIso, transaction } from "./Command.js"
import * as FeeSnapshot from "./FeeSnapshot.js"
import * as Idempotency from "./Idempotency.js"
import * as Json from "./Json.js"
import { MarketplaceConfig } from "./MarketplaceConfig.js"
import * as Outbox from "./Outbox.js"
import * as Requests from "./Requests.js"
import * as Transitions from "./Transitions.js"
import * as Wire from "./Wire.js"
import * as WorkerEligibility from "./WorkerEligibility.js"

/** Closure types that can be posted: only those whose decision path pays out today. */
export const postableClosureTypes: ReadonlyArray<Requests.PostBounty["closure_type"]> = ["requester"]

export const PostResponse = Schema.Struct({
  schema_version: Schema.Literal("2"),
  bounty_id: Schema.String,
  escrow_id: Schema.String,
  status: Schema.Literal("open"),
  all_in_cost: Schema.Struct({
    principal_minor: Schema.String,
    platform_fee_minor: Schema.String,
    total_minor: Schema.String,
    currency: Schema.String
  }),
  fee_policy_version: Schema.String,
  created_at: Schema.String,
  // Engine extensions: the full fee snapshot and the acceptance deadline.
  fee_policy: Schema.Struct({ id: Schema.String, version: Schema.String, hash_b64u: Schema.String }),
  worker_net_minor: Schema.String,
  expires_at: Schema.String
}).annotations({ identifier: "PostBountyResponse" })
export type PostResponse = typeof PostResponse.Type

/** Resolves the bounty's deadlines from its overrides and the configured defaults and bounds. */
const deadlinesFor = (input: Requests.PostBounty) =>
  Effect.gen(function* () {
    const config = yield* MarketplaceConfig
    const min = Duration.toSeconds(config.minDeadline)
    const max = Duration.toSeconds(config.maxDeadline)
    const pick = (field: string, override: number | undefined, fallback: Duration.Duration) => {
      if (override === undefined) return Effect.succeed(Duration.toSeconds(fallback))
      if (override < min || override > max) {
        return Effect.fail(new ErrorCatalogue.InvalidRequest({
          message: `deadlines.${field} must be between ${min} and ${max} seconds`,
          issues: [{ path: `deadlines.${field}`, message: `between ${min} and ${max}` }]
        }))
      }
      return Effect.succeed(override)
    }
    return {
      open: yield* pick("accept_within_seconds", input.deadlines?.accept_within_seconds, config.deadlines.open),
      work: yield* pick("work_within_seconds", input.deadlines?.work_within_seconds, config.deadlines.work),
      review: yield* pick("review_within_seconds", input.deadlines?.review_within_seconds, config.deadlines.review),
      dispute: Duration.toSeconds(config.deadlines.dispute)
    }
  })

const validPost = Requests.validate(Requests.PostBounty)

/**
 * The bounty's proof floor, from spec B2's `min_proof_tier` or post_bounty_request.v2's
 * `minimum_proof_tier` (`none` is `self`): the stricter when both are given, so no floor a client
 * asked for is ever lowered, with the field that set it (errors name what the client sent).
 */
const proofFloorOf = (input: Requests.PostBounty): { readonly tier: Requests.ProofTierFloor; readonly field: string } => {
  const minimum = input.minimum_proof_tier === undefined ? undefined : input.minimum_proof_tier === "none" ? "self" : input.minimum_proof_tier
  return minimum !== undefined && Tier.precedence(minimum) > Tier.precedence(input.min_proof_tier)
    ? { tier: minimum, field: "minimum_proof_tier" }
    : { tier: input.min_proof_tier, field: "min_proof_tier" }
}

export const post = Effect.fn("Bounties.post")(function* (actor: Actor, request: Requests.PostBounty) {
  yield* requireRole(actor, "requester")
  yield* validPost(request)
  const floor = proofFloorOf(request)
  const { minimum_proof_tier: _alias, ...rest } = request
  // One floor from here on; the idempotency record keeps the request as sent.
  const input: Requests.PostBounty = { ...rest, min_proof_tier: floor.tier }
  if (input.reward.currency !== "USD") {
    return yield* new ErrorCatalogue.UnsupportedCurrency({ currency: input.reward.currency })
  }
  if (!postableClosureTypes.includes(input.closure_type)) {
    return yield* new ErrorCatalogue.ClosureTypeNotSupported({ closure_type: input.closure_type, supported: postableClosureTypes })
  }
  if (input.metadata.requested_worker_did === actor.did) {
    return yield* new ErrorCatalogue.InvalidRequest({
      message: "a requester cannot direct-hire itself",
      issues: [{ path: "metadata.requested_worker_did", message: "must differ from the requester" }]
    })
  }
  const command = Effect.gen(function* () {
    // Inside the command, so after the replay check: a retry of a committed post replays it even
    // when the lane minimums or deadline bounds changed in between (a redeploy with new settings).
    const snapshot = yield* FeeSnapshot.forBounty(input)
    const deadlines = yield* deadlinesFor(input)
    const reachable = yield* Evidence.reachableTiers
    if (!reachable.includes(input.min_proof_tier)) {
      return yield* new ErrorCatalogue.InvalidRequest({
        message: `${floor.field} '${input.min_proof_tier}' cannot be met here: submissions reach ${reachable.join(" or ")}`,
        issues: [{ path: floor.field, message: `must be one of ${reachable.join(", ")} on this deployment` }]
      })
    }
    const sql = yield* SqlClient.SqlClient
    const ledger = yield* Ledger.Ledger
    const ids = yield* Ids.IdGen
    const bountyId = yield* ids.make("bounty")
    const escrowId = yield* ids.make("escrow")
    const now = yield* nowIso
    const expiresAt = addSeconds(now, deadlines.open)
    const currency = input.reward.currency

    yield* ledger.openAccount({ account: actor.did, currency })
    const held = yield* ledger.hold({
      account: actor.did,
      currency,
      amount: snapshot.buyerTotal,
      idempotencyKey: `bounty:${bountyId}:escrow:hold`,
      metadata: { bounty_id: bountyId, escrow_id: escrowId, reason: "escrow_hold" }
    })

    yield* sql`INSERT INTO bounties ${sql.insert({
      bounty_id: bountyId,
      requester_did: actor.did,
      title: input.title,
      description: input.description,
      reward_minor: input.reward.amount_minor,
      currency,
      closure_type: input.closure_type,
      difficulty_scalar: String(input.difficulty_scalar),
      is_code_bounty: input.is_code_bounty ? 1 : 0,
      min_proof_tier: input.min_proof_tier,
      test_harness_id: input.test_harness_id ?? null,
      requested_worker_did: input.metadata.requested_worker_did ?? null,
      metadata: Json.canonical(input.metadata),
      task_spec: input.task_spec === undefined ? null : Json.canonical(input.task_spec),
      status: "open",
      escrow_id: escrowId,
      worker_did: null,
      fee_policy_id: snapshot.policy.id,
      fee_policy_version: snapshot.policy.version,
      fee_policy_hash: snapshot.policy.hash_b64u,
      fee_quote: Json.canonical(snapshot.quote),
      principal_minor: snapshot.principal,
      platform_fee_minor: snapshot.platformFee,
      total_minor: snapshot.buyerTotal,
      worker_net_minor: snapshot.workerNet,
      deadlines: Json.canonical(deadlines),
      deadline_at: expiresAt,
      submission_attempts: 0,
      resolution: null,
      created_at: now,
      accepted_at: null,
      updated_at: now
    })}`
    for (const tag of new Set(input.tags)) {
      yield* sql`INSERT INTO bounty_tags (bounty_id, tag) VALUES (${bountyId}, ${tag})`
    }
    yield* sql`INSERT INTO escrows ${sql.insert({
      escrow_id: escrowId,
      bounty_id: bountyId,
      requester_did: actor.did,
      worker_did: null,
      hold_id: held.hold.id,
      amount_minor: snapshot.buyerTotal,
      currency,
      status: "held",
      created_at: now,
      updated_at: now,
      released_at: null
    })}`

    const response: PostResponse = {
      schema_version: "2",
      bounty_id: bountyId,
      escrow_id: escrowId,
      status: "open",
      all_in_cost: {
        principal_minor: snapshot.principal.toString(),
        platform_fee_minor: snapshot.platformFee.toString(),
        total_minor: snapshot.buyerTotal.toString(),
        currency
      },
      fee_policy_version: snapshot.policy.version,
      created_at: now,
      fee_policy: snapshot.policy,
      worker_net_minor: snapshot.workerNet.toString(),
      expires_at: expiresAt
    }
    const recipients = [actor.did, ...(input.metadata.requested_worker_did ? [input.metadata.requested_worker_did] : [])]
    yield* Outbox.append(
      { type: "bounty.posted", subjectType: "bounty", subjectId: bountyId, recipients, payload: response },
      {
        type: "escrow.held",
        subjectType: "escrow",
        subjectId: escrowId,
        recipients: [actor.did],
        payload: { escrow_id: escrowId, bounty_id: bountyId, amount_minor: snapshot.buyerTotal.toString(), currency, hold_id: held.hold.id }
      }
    )
    yield* Audit.record({ actor: actor.did, action: "bounty.post", entityType: "bounty", entityId: bountyId, before: null, after: response })
    return response
  })

  return yield* transaction(
    Idempotency.once({ principal: actor.did, command: "bounty.post", key: request.idempotency_key, request, response: PostResponse })(command)
  )
})

/**
 * Open bounties are public to every authenticated caller; the rest only to their parties and
 * operators. `BountyStore.listBounties`' `visibleTo` is the same rule in SQL.
 */
export const canSee = (actor: Actor, bounty: BountyStore.BountyRow): boolean =>
  actor.role === "operator" || bounty.status === "open" || bounty.requester_did === actor.did ||
  bounty.worker_did === actor.did

export const get = Effect.fn("Bounties.get")(function* (actor: Actor, bountyId: string) {
  const bounty = yield* BountyStore.findBounty(bountyId)
  if (Option.isNone(bounty) || !canSee(actor, bounty.value)) {
    return yield* new ErrorCatalogue.NotFound({ entity: "bounty", id: bountyId })
  }
  return Wire.bounty(bounty.value)
})

export interface ListInput {
  readonly status?: string | undefined
  readonly isCodeBounty?: boolean | undefined
  readonly tag?: string | undefined
  /** Only the caller's own bounties (as requester), of any status. */
  readonly mine?: boolean | undefined
  readonly cursor?: string | undefined
  readonly limit?: number | undefined
}

const encodeCursor = (row: BountyStore.BountyRow) => Cursor.encode([row.created_at, row.bounty_id])

/** Only a cursor this API returned: a timestamp and a bounty id. */
const decodeCursor = (cursor: string) =>
  Effect.map(Cursor.decode(cursor, [Cursor.isTimestamp, Schema.is(Ids.BountyId)]), ([createdAt, bountyId]) => ({ createdAt: createdAt!, bountyId: bountyId! }))

/**
 * Workers see open bounties (filters `is_code_bounty`, `tag`); a requester with `mine` sees its own
 * bounties of any status; operators see everything. Anyone else asking for a non-open status gets
 * only the bounties they are a party to. Visibility is part of the query, so neither a page nor its
 * cursor says anything about a bounty the caller may not see.
 */
export const list = Effect.fn("Bounties.list")(function* (actor: Actor, input: ListInput) {
  const limit = Requests.pageSize(input.limit, 50, 200)
  const after = input.cursor === undefined ? undefined : yield* decodeCursor(input.cursor)
  const status = input.status ?? (input.mine || actor.role === "operator" ? undefined : "open")
  const requesterDid = input.mine ? actor.did : undefined
  const rows = yield* BountyStore.listBounties({
    ...(status === undefined ? {} : { status }),
    ...(requesterDid === undefined ? {} : { requesterDid }),
    ...(actor.role === "operator" ? {} : { visibleTo: actor.did }),
    ...(input.isCodeBounty === undefined ? {} : { isCodeBounty: input.isCodeBounty }),
    ...(input.tag === undefined ? {} : { tag: input.tag }),
    ...(after === undefined ? {} : { after }),
    limit: limit + 1
  })
  const { page, next_cursor } = Cursor.paginate(rows, limit, encodeCursor)
  return { bounties: page.map(Wire.bounty), next_cursor }
})

const requireBounty = (bountyId: string, options?: { readonly lock?: boolean }) =>
  Effect.flatMap(BountyStore.findBounty(bountyId, options), Option.match({
    onNone: () => Effect.fail(new ErrorCatalogue.NotFound({ entity: "bounty", id: bountyId })),
    onSome: Effect.succeed
  }))
export { requireBounty }

/**
 * Refuses a step taken at or after the deadline of the bounty's state (the sweep's own `<=`): from
 * then on its default exit is due, and who gets the money must not depend on when the sweep runs.
 */
export const requireBeforeDeadline = (bounty: BountyStore.BountyRow, now: string): Effect.Effect<void, ErrorCatalogue.DeadlinePassed> =>
  bounty.deadline_at !== null && bounty.deadline_at <= now
    ? Effect.fail(new ErrorCatalogue.DeadlinePassed({ bounty_id: bounty.bounty_id, status: bounty.status, deadline_at: bounty.deadline_at }))
    : Effect.void

/**
 * Who hears that an open bounty ended (cancelled or expired): its requester, and the worker it was
 * offered to by direct hire, who was told of it at post and may be waiting to accept it.
 */
export const openBountyRecipients = (bounty: BountyStore.BountyRow): ReadonlyArray<string> =>
  [bounty.requester_did, ...(bounty.requested_worker_did === null ? [] : [bounty.requested_worker_did])]

export const CancelResponse = Schema.Struct({
  bounty_id: Schema.String,
  status: Schema.Literal("cancelled"),
  escrow_id: Schema.String,
  escrow_status: Schema.Literal("cancelled"),
  refunded_minor: Schema.String
})

/** Cancel an open bounty (requester only, before anyone accepts): the hold is voided, nothing charged. */
const validCancel = Requests.validate(Requests.Cancel)

export const cancel = Effect.fn("Bounties.cancel")(function* (actor: Actor, bountyId: string, input: Requests.Cancel) {
  yield* requireRole(actor, "requester")
  yield* BountyStore.requireIdForm("bounty", bountyId)
  yield* validCancel(input)
  const command = Effect.gen(function* () {
    const ledger = yield* Ledger.Ledger
    const bounty = yield* requireBounty(bountyId, { lock: true })
    if (bounty.requester_did !== actor.did) return yield* new ErrorCatalogue.NotFound({ entity: "bounty", id: bountyId })
    if (bounty.status !== "open") return yield* new ErrorCatalogue.BountyNotOpen({ bounty_id: bountyId, status: bounty.status })
    const escrow = yield* BountyStore.escrowOfBounty(bountyId)
    const voided = yield* ledger.voidHold({
      holdId: escrow.hold_id,
      idempotencyKey: `escrow:${escrow.escrow_id}:void`,
      metadata: { bounty_id: bountyId, escrow_id: escrow.escrow_id, reason: "bounty_cancelled" }
    })
    yield* Transitions.bounty(bounty, "cancel", { deadline_at: null })
    yield* Transitions.escrow(escrow, "void")
    const response: typeof CancelResponse.Type = {
      bounty_id: bountyId,
      status: "cancelled",
      escrow_id: escrow.escrow_id,
      escrow_status: "cancelled",
      refunded_minor: voided.returned.toString()
    }
    const payload = { ...response, currency: bounty.currency, reason: input.reason ?? null }
    yield* Outbox.append(
      { type: "bounty.cancelled", subjectType: "bounty", subjectId: bountyId, recipients: openBountyRecipients(bounty), payload },
      { type: "escrow.cancelled", subjectType: "escrow", subjectId: escrow.escrow_id, recipients: [actor.did], payload }
    )
    yield* Audit.record({ actor: actor.did, action: "bounty.cancel", entityType: "bounty", entityId: bountyId, before: { status: bounty.status }, after: { status: "cancelled", reason: input.reason ?? null } })
    return response
  })
  const key = input.idempotency_key ?? `bounty:${bountyId}:cancel`
  return yield* transaction(
    Idempotency.once({ principal: actor.did, command: "bounty.cancel", key, request: { bountyId, ...input }, response: CancelResponse })(command)
  )
})

export const AcceptResponse = Schema.Struct({
  bounty_id: Schema.String,
  escrow_id: Schema.String,
  worker_did: Schema.String,
  status: Schema.Literal("accepted"),
  accepted_at: Schema.String,
  /** What the worker will be paid on approval (from the fee snapshot). */
  worker_net_minor: Schema.String,
  currency: Schema.String,
  /** By when a valid submission must be under review. */
  deadline_at: Schema.String
}).annotations({ identifier: "AcceptBountyResponse" })
export type AcceptResponse = typeof AcceptResponse.Type

const acceptance = (bounty: BountyStore.BountyRow, escrowId: string, workerDid: string, acceptedAt: string, deadlineAt: string): AcceptResponse => ({
  bounty_id: bounty.bounty_id,
  escrow_id: escrowId,
  worker_did: workerDid,
  status: "accepted",
  accepted_at: acceptedAt,
  worker_net_minor: bounty.worker_net_minor.toString(),
  currency: bounty.currency,
  deadline_at: deadlineAt
})

/**
 * Accept an open bounty. Eligibility is checked against the worker's profile; one worker wins a race.
 * The assigned worker accepting again is answered with the acceptance in force, so accept is
 * idempotent by state, with or without an `idempotency_key`. A key (validated, then not used) would
 * outlive its acceptance round: the spec's `bounty:<id>:accept:<worker_did>` replayed the first
 * round's acceptance after the bounty reopened, even once another worker held it.
 */
const validAccept = Requests.validate(Requests.Accept)

export const accept = Effect.fn("Bounties.accept")(function* (actor: Actor, bountyId: string, input: Requests.Accept) {
  yield* requireRole(actor, "worker")
  yield* BountyStore.requireIdForm("bounty", bountyId)
  yield* validAccept(input)
  if (input.worker_did !== undefined && input.worker_did !== actor.did) {
    return yield* new ErrorCatalogue.Forbidden({ reason: "worker_did must be the caller's own DID" })
  }
  const command = Effect.gen(function* () {
    const ledger = yield* Ledger.Ledger
    const bounty = yield* requireBounty(bountyId, { lock: true })
    if (bounty.status === "accepted" && bounty.worker_did === actor.did) {
      // Past the work deadline the acceptance is no longer in force: the reopening is due.
      yield* requireBeforeDeadline(bounty, yield* nowIso)
      const escrow = yield* BountyStore.escrowOfBounty(bountyId)
      // Both are set by the transition to `accepted`; without them the row is corrupt.
      if (bounty.accepted_at === null || bounty.deadline_at === null) return yield* Effect.dieMessage(`accepted bounty ${bountyId} has no acceptance time or deadline`)
      return acceptance(bounty, escrow.escrow_id, actor.did, bounty.accepted_at, bounty.deadline_at)
    }
    if (bounty.status === "accepted" || (bounty.worker_did !== null && bounty.worker_did !== actor.did)) {
      return yield* new ErrorCatalogue.BountyAlreadyAccepted({ bounty_id: bountyId })
    }
    if (bounty.status !== "open") return yield* new ErrorCatalogue.BountyNotOpen({ bounty_id: bountyId, status: bounty.status })
    const now = yield* nowIso
    yield* requireBeforeDeadline(bounty, now)
    yield* WorkerEligibility.check(actor.did, bounty)

    const escrow = yield* BountyStore.escrowOfBounty(bountyId)
    const deadlineAt = addSeconds(now, bounty.deadlines.work)
    yield* ledger.openAccount({ account: actor.did, currency: bounty.currency })
    yield* Transitions.bounty(bounty, "accept", { worker_did: actor.did, accepted_at: now, deadline_at: deadlineAt, submission_attempts: 0 })
    yield* Transitions.escrow(escrow, "assign", { worker_did: actor.did })

    const response = acceptance(bounty, escrow.escrow_id, actor.did, now, deadlineAt)
    const recipients = [bounty.requester_did, actor.did]
    yield* Outbox.append(
      { type: "bounty.accepted", subjectType: "bounty", subjectId: bountyId, recipients, payload: response },
      { type: "escrow.assigned", subjectType: "escrow", subjectId: escrow.escrow_id, recipients, payload: { escrow_id: escrow.escrow_id, bounty_id: bountyId, worker_did: actor.did, assigned_at: now } }
    )
    yield* Audit.record({
      actor: actor.did,
      action: "bounty.accept",
      entityType: "bounty",
      entityId: bountyId,
      before: { status: bounty.status, worker_did: bounty.worker_did },
      after: { status: "accepted", worker_did: actor.did, deadline_at: deadlineAt }
    })
    return response
  })
  return yield* transaction(command)
})
