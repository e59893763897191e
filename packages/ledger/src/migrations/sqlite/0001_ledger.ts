/**
 * The ledger's tables on SQLite. Amounts are INTEGER (64-bit), read with safe integers as bigint.
 * The non-negative rule is a CHECK, not only application code: a balance row carries
 * `may_go_negative`, tied to its account by a foreign key, and the account's flag is tied to its
 * name (`world:*`), so no code path can make an ordinary balance negative.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE ledger_accounts (
    account TEXT NOT NULL,
    currency TEXT NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    may_go_negative INTEGER NOT NULL CHECK (may_go_negative IN (0, 1)),
    opened_at INTEGER NOT NULL,
    PRIMARY KEY (account, currency),
    UNIQUE (account, currency, may_go_negative),
    CHECK (may_go_negative = (substr(account, 1, 6) = 'world:'))
  )`
  yield* sql`CREATE TABLE ledger_balances (
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    bucket TEXT NOT NULL CHECK (bucket IN ('A', 'H', 'B', 'F', 'P')),
    amount INTEGER NOT NULL DEFAULT 0,
    may_go_negative INTEGER NOT NULL,
    PRIMARY KEY (account, currency, bucket),
    FOREIGN KEY (account, currency, may_go_negative) REFERENCES ledger_accounts (account, currency, may_go_negative),
    CONSTRAINT ledger_balances_non_negative CHECK (may_go_negative = 1 OR amount >= 0)
  ) WITHOUT ROWID`
  yield* sql`CREATE TABLE ledger_entries (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    currency TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    hold_id TEXT,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID`
  // `id` is the rowid: postings are numbered in the order they were applied, which is what the
  // balance_after chain and history cursors rely on.
  yield* sql`CREATE TABLE ledger_postings (
    id INTEGER PRIMARY KEY,
    entry_id TEXT NOT NULL REFERENCES ledger_entries (id),
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    bucket TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount <> 0),
    balance_after INTEGER NOT NULL,
    FOREIGN KEY (account, currency, bucket) REFERENCES ledger_balances (account, currency, bucket)
  )`
  yield* sql`CREATE INDEX ledger_postings_by_account ON ledger_postings (account, currency, id)`
  yield* sql`CREATE TABLE ledger_holds (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    remaining INTEGER NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
    status TEXT NOT NULL CHECK (status IN ('open', 'released', 'voided')),
    created_entry_id TEXT NOT NULL REFERENCES ledger_entries (id),
    resolved_entry_id TEXT REFERENCES ledger_entries (id),
    FOREIGN KEY (account, currency) REFERENCES ledger_accounts (account, currency),
    CHECK ((status = 'open') = (resolved_entry_id IS NULL)),
    CHECK (status = 'open' OR remaining = 0),
    CHECK (status <> 'open' OR remaining = amount)
  ) WITHOUT ROWID`
  // A rowid table: its rows (request and result JSON) are too large for WITHOUT ROWID to pay off.
  yield* sql`CREATE TABLE ledger_idempotency (
    key TEXT PRIMARY KEY,
    op TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    request TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('pending', 'ok', 'failed')),
    result TEXT NOT NULL,
    entry_id TEXT REFERENCES ledger_entries (id),
    created_at INTEGER NOT NULL
  )`
  // Entries and postings are append-only: a correction is a reversing entry, never an edit.
  for (const table of ["ledger_entries", "ledger_postings"]) {
    for (const event of ["UPDATE", "DELETE"]) {
      yield* sql.unsafe(
        `CREATE TRIGGER ${table}_no_${event.toLowerCase()} BEFORE ${event} ON ${table}
         BEGIN SELECT RAISE(ABORT, '${table} is append-only'); END`
      )
    }
  }
})
