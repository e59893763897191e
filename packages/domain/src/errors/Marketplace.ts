/** Errors of bounties, escrow, submissions, closure and disputes. */
import { Schema } from "effect"
import type { Section } from "./Entry.js"

export class BountyNotOpen extends Schema.TaggedError<BountyNotOpen>()("BountyNotOpen", {
  bounty_id: Schema.String,
  status: Schema.String
}) {}

export type MarketplaceError = BountyNotOpen

export const marketplaceEntries = {
  BountyNotOpen: { code: "BOUNTY_NOT_OPEN", status: 409, summary: "The bounty is no longer open for this action." }
} as const satisfies Section<MarketplaceError>
