/** Errors of identities, challenges, tokens and worker profiles. */
import { Schema } from "effect"
import type { Section } from "./Entry.js"

/**
 * The DID-control proof did not verify. `reason` is the verifier's stable code (`SIGNATURE_INVALID`,
 * `CHALLENGE_MISMATCH`, `MALFORMED_ENVELOPE`, `EXPIRED`, ...), `field` the envelope field at fault.
 */
export class DidProofInvalid extends Schema.TaggedError<DidProofInvalid>()("DidProofInvalid", {
  reason: Schema.String,
  message: Schema.String,
  field: Schema.optional(Schema.String)
}) {}

/** No challenge with this id was ever issued (or it was issued for another purpose). */
export class ChallengeNotFound extends Schema.TaggedError<ChallengeNotFound>()("ChallengeNotFound", {
  challenge_id: Schema.String
}) {}

/** The challenge's lifetime ended before the proof arrived: ask for a new one. */
export class ChallengeExpired extends Schema.TaggedError<ChallengeExpired>()("ChallengeExpired", {
  challenge_id: Schema.String,
  expired_at: Schema.String
}) {}

/**
 * The server holds as many open (unanswered, unexpired) registration challenges as it is set to
 * (`IDENTITY_MAX_OPEN_CHALLENGES`): anyone may ask for one, so their number is bounded. Retry once
 * some are answered or expire.
 */
export class ChallengeCapacityReached extends Schema.TaggedError<ChallengeCapacityReached>()("ChallengeCapacityReached", {
  limit: Schema.Number
}) {}

/** The challenge was already answered once; a challenge is single-use. */
export class ChallengeUsed extends Schema.TaggedError<ChallengeUsed>()("ChallengeUsed", {
  challenge_id: Schema.String
}) {}

/**
 * A DID in the request does not match the one it must equal: the challenge was issued for another
 * DID (`field: "challenge_id"`), or the proof is signed by another DID (`field: "proof.signer_did"`).
 */
export class DidMismatch extends Schema.TaggedError<DidMismatch>()("DidMismatch", {
  expected_did: Schema.String,
  actual_did: Schema.String,
  field: Schema.String
}) {}

/** The DID has not proven control of its key for this role yet (register first). */
export class IdentityNotRegistered extends Schema.TaggedError<IdentityNotRegistered>()("IdentityNotRegistered", {
  did: Schema.String,
  role: Schema.String
}) {}

/**
 * The DID already has a worker profile: adding a second one (`registerProfile`), or a registration
 * that raced another which created it first (registering again then signs in with a new token).
 */
export class WorkerAlreadyRegistered extends Schema.TaggedError<WorkerAlreadyRegistered>()("WorkerAlreadyRegistered", {
  worker_did: Schema.String,
  worker_id: Schema.String
}) {}

export type IdentityError =
  | DidProofInvalid
  | ChallengeNotFound
  | ChallengeExpired
  | ChallengeUsed
  | ChallengeCapacityReached
  | DidMismatch
  | IdentityNotRegistered
  | WorkerAlreadyRegistered

export const identityEntries = {
  DidProofInvalid: { code: "DID_PROOF_INVALID", status: 401, summary: "The proof of DID control did not verify." },
  ChallengeNotFound: { code: "CHALLENGE_NOT_FOUND", status: 404, summary: "No such registration challenge." },
  ChallengeExpired: {
    code: "CHALLENGE_EXPIRED",
    status: 410,
    summary: "The registration challenge has expired; request a new one."
  },
  ChallengeUsed: { code: "CHALLENGE_USED", status: 409, summary: "The registration challenge was already used." },
  ChallengeCapacityReached: {
    code: "CHALLENGE_CAPACITY_REACHED",
    status: 503,
    summary: "The server holds as many open registration challenges as it allows; retry later."
  },
  DidMismatch: {
    code: "DID_MISMATCH",
    status: 403,
    summary: "The challenge or the proof belongs to a different DID than the one being registered."
  },
  IdentityNotRegistered: {
    code: "IDENTITY_NOT_REGISTERED",
    status: 403,
    summary: "The DID has not proven control of its key for this role."
  },
  WorkerAlreadyRegistered: {
    code: "WORKER_ALREADY_REGISTERED",
    status: 409,
    summary: "This DID already has a worker profile: update it with PATCH /v1/workers/self, or register again to get a new token."
  }
} as const satisfies Section<IdentityError>
