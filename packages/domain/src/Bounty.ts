/** The bounty: a claim-mode job. (Entity schema follows; the closure types are used by fees too.) */
import { Schema } from "effect"

/** How a bounty is verified and closed: a test harness, the requester, or a quorum of reviewers. */
export const ClosureType = Schema.Literal("test", "requester", "quorum")
export type ClosureType = typeof ClosureType.Type

/** The requester's floor for proof tiers (spec B5): `self | gateway | sandbox`. */
export const MinProofTier = Schema.Literal("self", "gateway", "sandbox")
export type MinProofTier = typeof MinProofTier.Type
