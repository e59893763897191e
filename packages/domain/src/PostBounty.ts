/**
 * `POST /v1/bounties`: the request (`post_bounty_request.v2.json`) and the response
 * (`post_bounty_response.v2.json`), wire form, with no extensions.
 *
 * Not supported (decoding drops them; a server that wants to refuse them decodes with
 * `onExcessProperty: "error"`): `assurance_requirements`, `min_poh_tier` (deprecated),
 * `require_owner_verified_votes`, `cwc_buyer_envelope` and `task_spec`. Direct hire uses
 * `metadata.requested_worker_did`, as the spec says.
 */
import { Schema } from "effect"
import * as Bounty from "./Bounty.js"
import * as Ids from "./Ids.js"
import { JsonObject, Timestamp } from "./Wire.js"

export const Request = Schema.Struct({
  title: Bounty.Title,
  description: Bounty.Description,
  reward: Bounty.Reward,
  closure_type: Bounty.ClosureType,
  difficulty_scalar: Bounty.DifficultyScalar,
  is_code_bounty: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  tags: Schema.optionalWith(Bounty.Tags, { default: () => [] }),
  min_proof_tier: Schema.optional(Bounty.MinProofTier),
  minimum_proof_tier: Schema.optional(Bounty.MinimumProofTier),
  test_harness_id: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  idempotency_key: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))),
  metadata: Schema.optional(JsonObject)
}).pipe(
  Schema.filter((request) =>
    request.closure_type !== "test" || request.test_harness_id !== undefined ||
    { path: ["test_harness_id"], message: "closure_type=test requires a test_harness_id" }
  )
).annotations({ identifier: "PostBountyRequest" })
export type Request = typeof Request.Type

export const Response = Schema.Struct({
  schema_version: Schema.Literal("2"),
  bounty_id: Ids.BountyId,
  escrow_id: Ids.EscrowId,
  status: Schema.Literal("open"),
  all_in_cost: Bounty.AllInCost,
  fee_policy_version: Schema.String,
  created_at: Timestamp
}).annotations({ identifier: "PostBountyResponse" })
export type Response = typeof Response.Type
