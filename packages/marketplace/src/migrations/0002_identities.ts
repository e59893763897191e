/**
 * Identities (DIDs that proved control of their key, per role), registration challenges, bearer
 * tokens (hashes only) and worker profiles with their job-type and tag join tables.
 *
 * Portable SQL: TEXT timestamps (ISO-8601 UTC, which sort as text), BIGINT money, CHECKs for enums.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  // A challenge is answered at most once: `consumed_at` is set by a conditional UPDATE in the
  // registering transaction, so two concurrent answers cannot both succeed.
  yield* sql`CREATE TABLE identity_challenges (
    challenge_id TEXT PRIMARY KEY,
    did TEXT NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('register')),
    nonce TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    consumed_at TEXT,
    consumed_role TEXT
  )`
  yield* sql`CREATE INDEX identity_challenges_expires ON identity_challenges (expires_at)`

  // One row per (DID, role): a person may be both requester and worker under one DID.
  yield* sql`CREATE TABLE identities (
    did TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('worker', 'requester')),
    challenge_id TEXT NOT NULL REFERENCES identity_challenges (challenge_id),
    registered_at TEXT NOT NULL,
    PRIMARY KEY (did, role)
  )`

  // Only SHA-256 of the token is stored (base64url). The raw token is shown once and never kept.
  yield* sql`CREATE TABLE auth_tokens (
    token_id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    did TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('worker', 'requester', 'operator')),
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    revoked_reason TEXT,
    replaced_by TEXT
  )`
  yield* sql`CREATE INDEX auth_tokens_did ON auth_tokens (did)`

  // The profile documents (listing, capabilities, offers, availability) are canonical JSON; what
  // listings filter on has its own column or join table, so filters are plain indexed SQL.
  yield* sql`CREATE TABLE workers (
    worker_id TEXT PRIMARY KEY,
    worker_did TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('online', 'offline', 'paused')),
    worker_version TEXT,
    listing TEXT NOT NULL,
    capabilities TEXT NOT NULL,
    offers TEXT NOT NULL,
    availability TEXT NOT NULL,
    price_floor_minor BIGINT NOT NULL CHECK (price_floor_minor >= 0),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  )`
  yield* sql`CREATE INDEX workers_status ON workers (status)`
  yield* sql`CREATE TABLE worker_job_types (
    worker_id TEXT NOT NULL REFERENCES workers (worker_id),
    job_type TEXT NOT NULL CHECK (job_type IN ('code', 'research', 'agent_pack')),
    PRIMARY KEY (worker_id, job_type)
  )`
  yield* sql`CREATE INDEX worker_job_types_job_type ON worker_job_types (job_type, worker_id)`
  // Tags are stored lower-cased here (the listing keeps the worker's spelling): filters ignore case.
  yield* sql`CREATE TABLE worker_tags (
    worker_id TEXT NOT NULL REFERENCES workers (worker_id),
    tag TEXT NOT NULL,
    PRIMARY KEY (worker_id, tag)
  )`
  yield* sql`CREATE INDEX worker_tags_tag ON worker_tags (tag, worker_id)`
})
