/** Bounties, their escrows, submissions and disputes. */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE bounties (
    bounty_id TEXT PRIMARY KEY,
    requester_did TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    reward_minor BIGINT NOT NULL CHECK (reward_minor > 0),
    currency TEXT NOT NULL,
    closure_type TEXT NOT NULL,
    difficulty_scalar TEXT NOT NULL,
    is_code_bounty INTEGER NOT NULL,
    min_proof_tier TEXT NOT NULL,
    test_harness_id TEXT,
    requested_worker_did TEXT,
    metadata TEXT NOT NULL,
    task_spec TEXT,
    status TEXT NOT NULL,
    escrow_id TEXT NOT NULL UNIQUE,
    worker_did TEXT,
    fee_policy_id TEXT NOT NULL,
    fee_policy_version TEXT NOT NULL,
    fee_policy_hash TEXT NOT NULL,
    fee_quote TEXT NOT NULL,
    principal_minor BIGINT NOT NULL,
    platform_fee_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    worker_net_minor BIGINT NOT NULL,
    deadlines TEXT NOT NULL,
    deadline_at TEXT,
    submission_attempts INTEGER NOT NULL DEFAULT 0,
    resolution TEXT,
    created_at TEXT NOT NULL,
    accepted_at TEXT,
    updated_at TEXT NOT NULL
  )`
  yield* sql`CREATE INDEX bounties_status ON bounties (status, created_at)`
  yield* sql`CREATE INDEX bounties_requester ON bounties (requester_did, created_at)`
  yield* sql`CREATE INDEX bounties_deadline ON bounties (deadline_at)`
  yield* sql`CREATE TABLE bounty_tags (
    bounty_id TEXT NOT NULL REFERENCES bounties (bounty_id),
    tag TEXT NOT NULL,
    PRIMARY KEY (tag, bounty_id)
  )`
  yield* sql`CREATE TABLE escrows (
    escrow_id TEXT PRIMARY KEY,
    bounty_id TEXT NOT NULL UNIQUE REFERENCES bounties (bounty_id),
    requester_did TEXT NOT NULL,
    worker_did TEXT,
    hold_id TEXT NOT NULL UNIQUE,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    released_at TEXT
  )`
  yield* sql`CREATE TABLE submissions (
    submission_id TEXT PRIMARY KEY,
    bounty_id TEXT NOT NULL REFERENCES bounties (bounty_id),
    worker_did TEXT NOT NULL,
    status TEXT NOT NULL,
    proof_tier TEXT,
    proof_bundle_hash TEXT,
    proof_bundle_envelope TEXT NOT NULL,
    commit_proof_envelope TEXT,
    artifacts TEXT NOT NULL,
    result_summary TEXT,
    verification TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  )`
  yield* sql`CREATE INDEX submissions_bounty ON submissions (bounty_id, created_at)`
  // At most one submission under review per bounty, enforced by the store itself.
  yield* sql`CREATE UNIQUE INDEX submissions_one_under_review ON submissions (bounty_id) WHERE status = 'pending_review'`
  yield* sql`CREATE TABLE disputes (
    dispute_id TEXT PRIMARY KEY,
    bounty_id TEXT NOT NULL REFERENCES bounties (bounty_id),
    submission_id TEXT NOT NULL REFERENCES submissions (submission_id),
    opened_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    escalated INTEGER NOT NULL DEFAULT 0,
    deadline_at TEXT NOT NULL,
    outcome TEXT,
    worker_share_bps INTEGER,
    resolved_by TEXT,
    resolution_note TEXT,
    created_at TEXT NOT NULL,
    resolved_at TEXT
  )`
  yield* sql`CREATE UNIQUE INDEX disputes_one_open ON disputes (bounty_id) WHERE status = 'open'`
})
