/**
 * Submissions: the assigned worker submits signed evidence; it is verified in strict mode before
 * anything is stored. A valid submission puts the bounty under review; an invalid one is stored as
 * invalid with its reasons (so the worker sees why) and the worker may try again while attempts
 * remain. At most one submission is under review per bounty (a unique index enforces it too).
 */
import { SqlClient } from "@effect/sql"
import { ErrorCatalogue, Ids } from "@clawbounties/domain"
import { Effect, Option, Schema } from "effect"
import { type Actor, requireRole } from "./Actor.js"
import { requireBeforeDeadline, requireBounty } from "./Bounties.js"
import * as BountyStore from "./BountyStore.js"
import { addSeconds, nowIso, transaction } from "./Command.js"
import * as Evidence from "./Evidence.js"
import * as Idempotency from "./Idempotency.js"
import * as Json from "./Json.js"
import { MarketplaceConfig } from "./MarketplaceConfig.js"
import * as Outbox from "./Outbox.js"
import * as Requests from "./Requests.js"
import * as Transitions from "./Transitions.js"
import * as Wire from "./Wire.js"

export const SubmitResponse = Schema.Struct({
  submission_id: Schema.String,
  bounty_id: Schema.String,
  status: Schema.Literal("pending_review", "invalid"),
  verification: Schema.Struct({
    status: Schema.Literal("valid", "invalid"),
    reasons: Schema.Array(Schema.Struct({ code: Schema.String, message: Schema.String })),
    proof_tier: Schema.NullOr(Schema.String)
  }),
  /** When the requester's review window ends (auto-approval), for a valid submission. */
  review_deadline_at: Schema.NullOr(Schema.String),
  attempts_remaining: Schema.Number
})
export type SubmitResponse = typeof SubmitResponse.Type

const validSubmit = Requests.validate(Requests.Submit)

export const submit = Effect.fn("Submissions.submit")(function* (actor: Actor, bountyId: string, input: Requests.Submit) {
  yield* requireRole(actor, "worker")
  yield* BountyStore.requireIdForm("bounty", bountyId)
  yield* validSubmit(input)
  if (input.worker_did !== undefined && input.worker_did !== actor.did) {
    return yield* new ErrorCatalogue.Forbidden({ reason: "worker_did must be the caller's own DID" })
  }
  const command = Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const ids = yield* Ids.IdGen
    const config = yield* MarketplaceConfig
    const bounty = yield* requireBounty(bountyId, { lock: true })
    if (bounty.worker_did !== actor.did) return yield* new ErrorCatalogue.BountyNotAssigned({ bounty_id: bountyId })
    if (bounty.status === "pending_review") {
      const underReview = (yield* BountyStore.submissionsOfBounty(bountyId)).find((s) => s.status === "pending_review")
      return yield* new ErrorCatalogue.SubmissionAlreadyUnderReview({ bounty_id: bountyId, submission_id: underReview?.submission_id ?? "" })
    }
    if (bounty.status !== "accepted") {
      return yield* new ErrorCatalogue.InvalidTransition({ machine: "bounty", from: bounty.status, event: "submit_valid" })
    }
    const now = yield* nowIso
    yield* requireBeforeDeadline(bounty, now)
    if (bounty.submission_attempts >= config.maxSubmissionAttempts) {
      return yield* new ErrorCatalogue.SubmissionLimitReached({ bounty_id: bountyId, max_attempts: config.maxSubmissionAttempts })
    }

    const verification = yield* Evidence.verifySubmission(bounty, input, now)
    const valid = verification.status === "valid"
    const submissionId = yield* ids.make("submission")
    const reviewDeadline = valid ? addSeconds(now, bounty.deadlines.review) : null
    yield* sql`INSERT INTO submissions ${sql.insert({
      submission_id: submissionId,
      bounty_id: bountyId,
      worker_did: actor.did,
      status: valid ? "pending_review" : "invalid",
      proof_tier: verification.proofTier,
      proof_bundle_hash: verification.proofBundleHash,
      proof_bundle_envelope: Json.canonical(input.proof_bundle_envelope),
      commit_proof_envelope: input.commit_proof_envelope === undefined ? null : Json.canonical(input.commit_proof_envelope),
      artifacts: Json.canonical(input.artifacts),
      result_summary: input.result_summary ?? null,
      verification: Json.canonical({ status: verification.status, reasons: verification.reasons, verified_at: now }),
      created_at: now,
      updated_at: now
    })}`
    const attempts = bounty.submission_attempts + 1
    if (valid) {
      yield* Transitions.bounty(bounty, "submit_valid", { submission_attempts: attempts, deadline_at: reviewDeadline })
    } else {
      yield* sql`UPDATE bounties SET submission_attempts = ${attempts}, updated_at = ${now}
        WHERE bounty_id = ${bountyId} AND status = 'accepted'`
    }
    const response: SubmitResponse = {
      submission_id: submissionId,
      bounty_id: bountyId,
      status: valid ? "pending_review" : "invalid",
      verification: { status: verification.status, reasons: verification.reasons, proof_tier: verification.proofTier },
      review_deadline_at: reviewDeadline,
      attempts_remaining: Math.max(config.maxSubmissionAttempts - attempts, 0)
    }
    const recipients = [bounty.requester_did, actor.did]
    yield* Outbox.append(
      { type: "submission.created", subjectType: "submission", subjectId: submissionId, recipients, payload: response },
      valid
        ? { type: "bounty.pending_review", subjectType: "bounty", subjectId: bountyId, recipients, payload: { bounty_id: bountyId, submission_id: submissionId, review_deadline_at: reviewDeadline } }
        : { type: "submission.invalid", subjectType: "submission", subjectId: submissionId, recipients, payload: response }
    )
    return response
  })
  const key = input.idempotency_key ?? `bounty:${bountyId}:submit:${Json.hash(input.proof_bundle_envelope)}`
  const response = yield* transaction(
    Idempotency.once({ principal: actor.did, command: "bounty.submit", key, request: { bountyId, ...input }, response: SubmitResponse })(command)
  )
  // The invalid submission is committed (the worker can read why); the caller still gets a failure.
  if (response.status === "invalid") {
    return yield* new ErrorCatalogue.SubmissionInvalid({ submission_id: response.submission_id, reasons: response.verification.reasons })
  }
  return response
})

/** Submissions of a bounty: the requester sees all, a worker its own, operators everything. */
export const listForBounty = Effect.fn("Submissions.listForBounty")(function* (actor: Actor, bountyId: string) {
  const bounty = yield* BountyStore.findBounty(bountyId)
  if (Option.isNone(bounty)) return yield* new ErrorCatalogue.NotFound({ entity: "bounty", id: bountyId })
  const isRequester = bounty.value.requester_did === actor.did
  const rows = yield* BountyStore.submissionsOfBounty(bountyId)
  const visible = rows.filter((row) => actor.role === "operator" || isRequester || row.worker_did === actor.did)
  if (visible.length === 0 && !(actor.role === "operator" || isRequester || bounty.value.worker_did === actor.did)) {
    return yield* new ErrorCatalogue.NotFound({ entity: "bounty", id: bountyId })
  }
  return { submissions: visible.map(Wire.submission) }
})

/** One submission, for the requester of its bounty, the submitting worker and operators. */
export const get = Effect.fn("Submissions.get")(function* (actor: Actor, submissionId: string) {
  const submission = yield* BountyStore.findSubmission(submissionId)
  if (Option.isNone(submission)) return yield* new ErrorCatalogue.NotFound({ entity: "submission", id: submissionId })
  const bounty = yield* requireBounty(submission.value.bounty_id)
  const visible = actor.role === "operator" || actor.did === bounty.requester_did || actor.did === submission.value.worker_did
  if (!visible) return yield* new ErrorCatalogue.NotFound({ entity: "submission", id: submissionId })
  return Wire.submission(submission.value)
})
