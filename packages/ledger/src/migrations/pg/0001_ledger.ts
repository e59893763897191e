/**
 * The ledger's tables on PostgreSQL. Amounts are BIGINT, which the driver returns as strings; every
 * read goes through `Money.fromDb`. The non-negative rule is a CHECK (see the SQLite twin).
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE ledger_accounts (
    account TEXT NOT NULL,
    currency TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    may_go_negative BOOLEAN NOT NULL,
    opened_at BIGINT NOT NULL,
    PRIMARY KEY (account, currency),
    UNIQUE (account, currency, may_go_negative),
    CHECK (may_go_negative = (substr(account, 1, 6) = 'world:'))
  )`
  yield* sql`CREATE TABLE ledger_balances (
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    bucket TEXT NOT NULL CHECK (bucket IN ('A', 'H', 'B', 'F', 'P')),
    amount BIGINT NOT NULL DEFAULT 0,
    may_go_negative BOOLEAN NOT NULL,
    PRIMARY KEY (account, currency, bucket),
    FOREIGN KEY (account, currency, may_go_negative) REFERENCES ledger_accounts (account, currency, may_go_negative),
    CONSTRAINT ledger_balances_non_negative CHECK (may_go_negative OR amount >= 0)
  )`
  yield* sql`CREATE TABLE ledger_entries (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    currency TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    hold_id TEXT,
    metadata TEXT NOT NULL,
    created_at BIGINT NOT NULL
  )`
  // Posting ids come from a sequence, taken while the balance rows are locked, so they follow the
  // order in which postings were applied to each balance (the balance_after chain relies on it).
  yield* sql`CREATE TABLE ledger_postings (
    id BIGSERIAL PRIMARY KEY,
    entry_id TEXT NOT NULL REFERENCES ledger_entries (id),
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    bucket TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount <> 0),
    balance_after BIGINT NOT NULL,
    FOREIGN KEY (account, currency, bucket) REFERENCES ledger_balances (account, currency, bucket)
  )`
  yield* sql`CREATE INDEX ledger_postings_by_account ON ledger_postings (account, currency, id)`
  yield* sql`CREATE TABLE ledger_holds (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    remaining BIGINT NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
    status TEXT NOT NULL CHECK (status IN ('open', 'released', 'voided')),
    created_entry_id TEXT NOT NULL REFERENCES ledger_entries (id),
    resolved_entry_id TEXT REFERENCES ledger_entries (id),
    FOREIGN KEY (account, currency) REFERENCES ledger_accounts (account, currency),
    CHECK ((status = 'open') = (resolved_entry_id IS NULL)),
    CHECK (status = 'open' OR remaining = 0),
    CHECK (status <> 'open' OR remaining = amount)
  )`
  yield* sql`CREATE TABLE ledger_idempotency (
    key TEXT PRIMARY KEY,
    op TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    request TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('pending', 'ok', 'failed')),
    result TEXT NOT NULL,
    entry_id TEXT REFERENCES ledger_entries (id),
    created_at BIGINT NOT NULL
  )`
  // Entries and postings are append-only: a correction is a reversing entry, never an edit.
  yield* sql`CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$`
  yield* sql`CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only()`
  yield* sql`CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only()`
})
