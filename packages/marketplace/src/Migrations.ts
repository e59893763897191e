/**
 * The marketplace's tables, after the ledger's. Each migration is one Effect that says where the
 * dialects differ, so the same record serves SQLite and PostgreSQL.
 */
import type { Migrations as LedgerMigrations } from "@clawbounties/ledger"
import events from "./migrations/0001_events.js"
import identities from "./migrations/0002_identities.js"
import bounties from "./migrations/0003_bounties.js"
import bountyTagsByBounty from "./migrations/0004_bounty_tags_by_bounty.js"
import submissionEvidence from "./migrations/0005_submission_evidence.js"
import submissionAgentPack from "./migrations/0006_submission_agent_pack.js"
import eventAcks from "./migrations/0007_event_acks.js"
import openChallenges from "./migrations/0008_open_challenges.js"
import tokenLineage from "./migrations/0009_token_lineage.js"
import tokenListing from "./migrations/0010_token_listing.js"
import webhooks from "./migrations/0011_webhooks.js"
import sweepIndexes from "./migrations/0012_sweep_indexes.js"
import listingIndexes from "./migrations/0013_listing_indexes.js"
import resolvedDisputes from "./migrations/0014_resolved_disputes.js"

const record = {
  "0001_events": events,
  "0002_identities": identities,
  "0003_bounties": bounties,
  "0004_bounty_tags_by_bounty": bountyTagsByBounty,
  "0005_submission_evidence": submissionEvidence,
  "0006_submission_agent_pack": submissionAgentPack,
  "0007_event_acks": eventAcks,
  "0008_open_challenges": openChallenges,
  "0009_token_lineage": tokenLineage,
  "0010_token_listing": tokenListing,
  "0011_webhooks": webhooks,
  "0012_sweep_indexes": sweepIndexes,
  "0013_listing_indexes": listingIndexes,
  "0014_resolved_disputes": resolvedDisputes
}

export const marketplace: LedgerMigrations.MigrationSet = {
  name: "marketplace",
  table: "marketplace_migrations",
  sqlite: record,
  pg: record
}
