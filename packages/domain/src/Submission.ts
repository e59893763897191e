/**
 * Submissions (spec B2, B3 "Submit work"), wire form. The reference has no JSON Schema for them; the
 * fields follow the spec's submit request and entity list. Signed envelopes are JSON objects here:
 * `@clawbounties/verify` decodes and checks them.
 *
 * Differences from the spec's entity list: `status` is the SubmissionMachine's state (the spec's
 * `pending | valid | invalid` maps to `pending_review`, then `approved`/`rejected`/..., and `invalid`);
 * there is no `acceptance_id`, since a bounty has at most one accepted worker at a time and the
 * submission names it (`worker_did`).
 */
import { Schema } from "effect"
import * as Did from "./Did.js"
import * as Ids from "./Ids.js"
import * as SubmissionMachine from "./SubmissionMachine.js"
import { JsonObject, Timestamp } from "./Wire.js"

/** Proof tiers (spec B5), lowest to highest. */
export const ProofTier = Schema.Literal("unknown", "self", "gateway", "sandbox", "tee", "witnessed_web")
export type ProofTier = typeof ProofTier.Type

const B64u = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]+$/, { message: () => "expected base64url without padding" }))

export const Artifact = Schema.Struct({
  envelope: JsonObject,
  download_url: Schema.optional(Schema.String)
})

/** Required for agent-pack bounties (spec B6). */
export const AgentPackRef = Schema.Struct({
  bundle_url: Schema.String,
  bundle_sha256_b64u: B64u,
  manifest_path: Schema.optionalWith(Schema.String, { default: () => "agent-pack/manifest.json" })
})

/** `POST /v1/bounties/{bounty_id}/submit`. */
export const SubmitRequest = Schema.Struct({
  worker_did: Did.DidKey,
  proof_bundle_envelope: JsonObject,
  artifacts: Schema.optionalWith(Schema.Array(Artifact).pipe(Schema.maxItems(50)), { default: () => [] }),
  commit_proof_envelope: Schema.optional(JsonObject),
  result_summary: Schema.optional(Schema.String.pipe(Schema.maxLength(10_000))),
  agent_pack: Schema.optional(AgentPackRef),
  /** Appendix A: `bounty:<id>:submit:<submission_hash>`. */
  idempotency_key: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)))
}).annotations({ identifier: "SubmitRequest" })
export type SubmitRequest = typeof SubmitRequest.Type

/** Verification runs inside the submit command, so the answer is already `valid` or `invalid`. */
export const SubmitResponse = Schema.Struct({
  submission_id: Ids.SubmissionId,
  status: SubmissionMachine.Status,
  verification: Schema.Struct({
    status: Schema.Literal("pending", "valid", "invalid"),
    reason_code: Schema.optional(Schema.String)
  })
}).annotations({ identifier: "SubmitResponse" })
export type SubmitResponse = typeof SubmitResponse.Type

export const Submission = Schema.Struct({
  submission_id: Ids.SubmissionId,
  bounty_id: Ids.BountyId,
  worker_did: Did.DidKey,
  status: SubmissionMachine.Status,
  proof_bundle_envelope: JsonObject,
  artifacts: Schema.Array(Artifact),
  commit_proof_envelope: Schema.optional(JsonObject),
  agent_pack: Schema.optional(AgentPackRef),
  result_summary: Schema.optional(Schema.String),
  /** The tier verification established (spec B5). */
  proof_tier: ProofTier,
  /** Why verification refused it, for `invalid` submissions: a verify error code and its message. */
  invalid_reason: Schema.optional(Schema.Struct({ code: Schema.String, message: Schema.String })),
  idempotency_key: Schema.optional(Schema.String),
  created_at: Timestamp,
  updated_at: Timestamp,
  review_deadline_at: Schema.optional(Timestamp)
}).pipe(
  Schema.filter((submission) =>
    (submission.status === "invalid") === (submission.invalid_reason !== undefined) ||
    { path: ["invalid_reason"], message: "invalid_reason is present exactly when the submission is invalid" }
  )
).annotations({ identifier: "Submission" })
export type Submission = typeof Submission.Type
