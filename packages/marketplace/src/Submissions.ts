/**
 * Submissions: the assigned worker submits signed evidence; it is verified in strict mode before
 * anything is stored. A valid submission puts the bounty under review; an invalid one is stored as
 * invalid with its reasons (so the worker sees why) and the worker may try again while attempts
 * remain. At most one submission is under review per bounty (a unique index enforces it too).
 */
import { SqlClient } from "@effect/sql"
import { ErrorCatalogue, Ids, Submission } from "@clawbounties/domain"
import { Effect, Option, Schema } from "effect"
import { type Actor, requireRole } from "./Actor.js"
import * as Audit from "./Audit.js"
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
    proof_tier: Schema.NullOr(Submission.ProofTier)
  }),
  /** When the requester's review window ends (auto-approval), for a valid submission. */
  review_deadline_at: Schema.NullOr(Schema.String),
  attempts_remaining: Schema.Int
}).annotations({ identifier: "SubmitWorkResponse" })
export type SubmitResponse = typeof SubmitResponse.Type

const validSubmit = Requests.validate(Requests.Submit)

/**
 * Uses up a valid submission's evidence, or finds it used: one run of work backs one submission,
 * so a bundle resubmitted on another bounty, or its run re-signed by another worker, is invalid
 * (`EVIDENCE_REUSED`). On PostgreSQL a concurrent claim of the same piece waits, then finds it taken.
 */
const claimEvidence = (verdict: Evidence.Verdict, submissionId: string, bountyId: string, now: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    if (verdict.evidenceKeys.length === 0) return verdict
    const rows = verdict.evidenceKeys.map((evidence_key) => ({ evidence_key, submission_id: submissionId, bounty_id: bountyId, created_at: now }))
    const claimed = yield* sql<{ evidence_key: string }>`INSERT INTO submission_evidence ${sql.insert(rows)}
      ON CONFLICT DO NOTHING RETURNING evidence_key`
    const claimedKeys = new Set(claimed.map((row) => row.evidence_key))
    const taken = verdict.evidenceKeys.filter((key) => !claimedKeys.has(key)).map((key) => key.slice(0, key.indexOf(":")))
    if (taken.length === 0) return verdict
    // An invalid submission uses nothing up: release what this one claimed before finding the rest taken.
    yield* sql`DELETE FROM submission_evidence WHERE submission_id = ${submissionId}`
    return {
      ...verdict,
      status: "invalid",
      reasons: [{ code: "EVIDENCE_REUSED", message: `this ${taken.join(" and ")} already backs another submission` }]
    } satisfies Evidence.Verdict
  })

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

    const verdict = yield* Evidence.verifySubmission(bounty, input, now)
    const submissionId = yield* ids.make("submission")
    const verification = verdict.status === "valid" ? yield* claimEvidence(verdict, submissionId, bountyId, now) : verdict
    const valid = verification.status === "valid"
    const reviewDeadline = valid ? addSeconds(now, bounty.deadlines.review) : null
    yield* sql`INSERT INTO submissions ${sql.insert({
      submission_id: submissionId,
      bounty_id: bountyId,
      worker_did: actor.did,
      status: valid ? "pending_review" : "invalid",
      proof_tier: verification.proofTier,
      proof_bundle_hash: verification.proofBundleHash,
      // As sent, not canonical: an envelope's hash is over its payload in the signer's key order,
      // so a sorted copy would no longer verify for the requester or an operator re-checking it.
      proof_bundle_envelope: JSON.stringify(input.proof_bundle_envelope),
      commit_proof_envelope: input.commit_proof_envelope === undefined ? null : JSON.stringify(input.commit_proof_envelope),
      artifacts: JSON.stringify(input.artifacts),
      result_summary: input.result_summary ?? null,
      // Kept for the requester's review: the bundle's URL and manifest path are where to look.
      agent_pack: input.agent_pack === undefined ? null : JSON.stringify(input.agent_pack),
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
        ? { type: "bounty.pending_review", subjectType: "bounty", subjectId: bountyId, recipients, payload: { bounty_id: bountyId, status: "pending_review", submission_id: submissionId, review_deadline_at: reviewDeadline! } }
        : { type: "submission.invalid", subjectType: "submission", subjectId: submissionId, recipients, payload: response }
    )
    // An invalid attempt is audited too: it used up one of the acceptance's attempts.
    yield* Audit.record({
      actor: actor.did,
      action: "bounty.submit",
      entityType: "bounty",
      entityId: bountyId,
      before: { status: bounty.status, submission_attempts: bounty.submission_attempts },
      after: {
        status: valid ? "pending_review" : bounty.status,
        submission_attempts: attempts,
        submission_id: submissionId,
        verification: verification.status,
        reasons: verification.reasons.map((reason) => reason.code),
        review_deadline_at: reviewDeadline
      }
    })
    return response
  })
  // Keyed by all the evidence, not the bundle alone: fixing an invalid submission (adding the commit
  // proof it lacked, say) with the same bundle is a new attempt, not a conflict.
  const key = input.idempotency_key ?? `bounty:${bountyId}:submit:${Json.hash({ ...input, idempotency_key: undefined, worker_did: undefined })}`
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
