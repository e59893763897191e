/**
 * The lookups every command makes are index searches on SQLite, never a scan of a whole table: a
 * scan costs nothing in a test database and grows with every job in a real one (reading a bounty's
 * tags scanned `bounty_tags` until an index was added). So are the deletions the sweeps make,
 * foreign key checks included: deleting a parent row looks for rows that still reference it, and
 * without an index that read the whole referencing table once per deleted row (the retention sweep
 * read all of `outbox_recipients` for each event it purged).
 */
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Engine from "../src/Engine.js"

const lookups: ReadonlyArray<string> = [
  // A bounty with its tags (BountyStore.findBounty).
  "SELECT b.*, (SELECT json_group_array(t.tag ORDER BY t.tag) FROM bounty_tags t WHERE t.bounty_id = b.bounty_id) AS tags FROM bounties b WHERE b.bounty_id = 'b'",
  "SELECT * FROM escrows WHERE bounty_id = 'b'",
  "SELECT * FROM escrows WHERE escrow_id = 'e'",
  "SELECT * FROM submissions WHERE bounty_id = 'b' ORDER BY created_at, submission_id",
  "SELECT * FROM submissions WHERE submission_id = 's'",
  "SELECT * FROM disputes WHERE bounty_id = 'b' AND status = 'open'",
  "SELECT request_hash FROM command_idempotency WHERE principal = 'p' AND command = 'c' AND idempotency_key = 'k'",
  "SELECT token_id FROM auth_tokens WHERE token_hash = 'h'",
  // Revocation finds a rotation line's live token (Tokens.revoke).
  "SELECT token_id FROM auth_tokens WHERE root_token_id = 'r' AND revoked_at IS NULL",
  // A DID's live tokens, and its newest revoked ones (Tokens.list, Tokens.supersede).
  "SELECT token_id FROM auth_tokens WHERE did = 'd' AND revoked_at IS NULL ORDER BY role, created_at, token_id",
  "SELECT token_id FROM auth_tokens WHERE did = 'd' AND role = 'worker' AND revoked_at IS NULL ORDER BY created_at, token_id",
  "SELECT token_id FROM auth_tokens WHERE did = 'd' AND revoked_at IS NOT NULL ORDER BY created_at DESC, token_id DESC LIMIT 100",
  // A DID's open challenges, and all of them (Identities.challenge).
  "SELECT challenge_id FROM identity_challenges WHERE did = 'd' AND consumed_at IS NULL AND expires_at > 't' ORDER BY expires_at, challenge_id",
  "SELECT COUNT(*) AS n FROM identity_challenges WHERE consumed_at IS NULL AND expires_at > 't'",
  "SELECT worker_id FROM workers WHERE worker_did = 'd'",
  "SELECT seq FROM outbox WHERE subject_id = 's' ORDER BY seq",
  // The event feed: a poll for unacknowledged events, a replay, and an acknowledgement's lookup.
  "SELECT o.seq FROM outbox_recipients r JOIN outbox o ON o.seq = r.event_seq WHERE r.did = 'd' AND r.event_seq > 0 AND r.acked_at IS NULL ORDER BY r.event_seq LIMIT 51",
  "SELECT o.seq FROM outbox_recipients r JOIN outbox o ON o.seq = r.event_seq WHERE r.did = 'd' AND r.event_seq > 0 ORDER BY r.event_seq LIMIT 51",
  "SELECT o.event_id FROM outbox o JOIN outbox_recipients r ON r.event_seq = o.seq AND r.did = 'd' WHERE o.event_id IN ('e')",
  "SELECT amount FROM ledger_balances WHERE (account, currency, bucket) IN (VALUES ('a', 'USD', 'A'))",
  "SELECT result FROM ledger_idempotency WHERE key IN ('k')",
  "SELECT status FROM ledger_holds WHERE id IN ('h')",
  // A statement line's fees paid to others (Ledger.statement): the entry's postings, not all of them.
  "SELECT COALESCE(SUM(f.amount), 0) FROM ledger_postings f WHERE f.entry_id = 'e' AND f.bucket = 'F' AND f.account <> 'd'",
  // A party's bounties in a status other than open (Bounties.list): its own, not every bounty in it.
  "SELECT b.* FROM bounties b WHERE b.status = 'accepted' AND b.requester_did = 'x' UNION ALL SELECT b.* FROM bounties b WHERE b.status = 'accepted' AND b.worker_did = 'x' AND b.requester_did <> 'x' ORDER BY created_at, bounty_id LIMIT 51",
  // The deadline sweep (Deadlines.sweep), the retention sweep (Outbox.purgeOlderThan,
  // WebhookQueue.purgeEvents) and the challenge sweep.
  "SELECT bounty_id FROM bounties INDEXED BY bounties_due WHERE deadline_at <= 't' AND status IN ('open', 'accepted', 'pending_review') ORDER BY deadline_at, bounty_id LIMIT 500",
  "DELETE FROM outbox_recipients WHERE event_seq IN (1, 2)",
  "DELETE FROM outbox WHERE seq IN (1, 2)",
  "SELECT delivery_seq FROM webhook_deliveries WHERE event_seq IN (1, 2)",
  "DELETE FROM webhook_attempts WHERE delivery_seq IN (1, 2)",
  "DELETE FROM webhook_deliveries WHERE delivery_seq IN (1, 2)",
  "DELETE FROM identity_challenges WHERE consumed_at IS NULL AND challenge_id IN ('c')"
]

describe("query plans", () => {
  it.effect("every per-command lookup searches an index", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      for (const query of lookups) {
        const plan = yield* sql.unsafe<{ detail: string }>(`EXPLAIN QUERY PLAN ${query}`)
        const scans = plan.map((step) => step.detail).filter((detail) => /^SCAN (?!CONSTANT)/.test(detail) && !/VALUES|LIST SUBQUERY/.test(detail))
        assert.deepStrictEqual(scans, [], query)
        // Not the whole history the recipient acknowledged: the partial index holds only what it has not.
        if (query.includes("acked_at IS NULL")) assert.isTrue(plan.some((step) => /USING (COVERING )?INDEX outbox_recipients_unacked/.test(step.detail)), query)
        // A DID's tokens by `did` alone would walk every token it ever rotated.
        if (query.includes("auth_tokens WHERE did")) assert.isFalse(plan.some((step) => /INDEX auth_tokens_did /.test(step.detail)), query)
        if (query.includes("UNION ALL")) {
          const searches = plan.map((step) => step.detail).filter((detail) => detail.startsWith("SEARCH"))
          assert.deepStrictEqual(searches.map((detail) => /INDEX (\w+)/.exec(detail)?.[1]), ["bounties_requester", "bounties_worker"], query)
        }
        // Only what is due, in order: no sort of every live bounty.
        if (query.includes("bounties_due")) assert.deepStrictEqual(plan.map((step) => step.detail), ["SEARCH bounties USING INDEX bounties_due (deadline_at<?)"], query)
        if (query.includes("bounty_tags")) assert.isTrue(plan.some((step) => /SEARCH t USING (COVERING )?INDEX bounty_tags_by_bounty/.test(step.detail)), query)
      }
    }).pipe(Effect.provide(Sqlite.layerMemory(Engine.migrations))))

  it.effect("reconcile joins each entry to its postings through an index, not a scan of every posting per entry", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      // SQLite builds an automatic index for this join, unless an index led by entry_id exists that it
      // cannot use (a partial one did exactly that, and reconcile went quadratic).
      const plan = yield* sql.unsafe<{ detail: string }>(
        "EXPLAIN QUERY PLAN SELECT e.id, COUNT(p.id) FROM ledger_entries e LEFT JOIN ledger_postings p ON p.entry_id = e.id GROUP BY e.id, e.currency"
      )
      assert.isTrue(plan.some((step) => /^SEARCH p USING/.test(step.detail)), JSON.stringify(plan.map((step) => step.detail)))
    }).pipe(Effect.provide(Sqlite.layerMemory(Engine.migrations))))

  it.effect("the operator's audit rows, newest or a page deep, are read in the order of an index, not by sorting the log", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const plan = yield* sql.unsafe<{ detail: string }>("EXPLAIN QUERY PLAN SELECT * FROM audit_log WHERE 1 = 1 ORDER BY created_at DESC, audit_id DESC LIMIT 100")
      assert.deepStrictEqual(plan.map((step) => step.detail), ["SCAN audit_log USING INDEX audit_log_by_time"])
      // An older page seeks to its cursor.
      const older = yield* sql.unsafe<{ detail: string }>(
        "EXPLAIN QUERY PLAN SELECT * FROM audit_log WHERE created_at <= 't' AND (created_at < 't' OR audit_id < 'a') ORDER BY created_at DESC, audit_id DESC LIMIT 101"
      )
      assert.deepStrictEqual(older.map((step) => step.detail), ["SEARCH audit_log USING INDEX audit_log_by_time (created_at<?)"])
    }).pipe(Effect.provide(Sqlite.layerMemory(Engine.migrations))))
  it.effect("a listing's page seeks to its place through an index and reads in its order, however deep the page", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const planOf = (query: string) => Effect.map(sql.unsafe<{ detail: string }>(`EXPLAIN QUERY PLAN ${query}`), (plan) => plan.map((step) => step.detail))
      const after = (column: string, id: string) => `${column}created_at >= 't' AND (${column}created_at > 't' OR ${column}${id} > 'x')`
      // Bounties.list: an operator's every bounty, a page deep into them, and a page deep into one status.
      assert.deepStrictEqual(yield* planOf("SELECT b.* FROM bounties b WHERE 1 = 1 ORDER BY b.created_at, b.bounty_id LIMIT 51"), [
        "SCAN b USING INDEX bounties_by_time"
      ])
      assert.deepStrictEqual(yield* planOf(`SELECT b.* FROM bounties b WHERE ${after("b.", "bounty_id")} ORDER BY b.created_at, b.bounty_id LIMIT 51`), [
        "SEARCH b USING INDEX bounties_by_time (created_at>?)"
      ])
      // Rows with one timestamp are sorted by id among themselves; never all of the status.
      assert.deepStrictEqual(yield* planOf(`SELECT b.* FROM bounties b WHERE b.status = 'open' AND ${after("b.", "bounty_id")} ORDER BY b.created_at, b.bounty_id LIMIT 51`), [
        "SEARCH b USING INDEX bounties_status (status=? AND created_at>?)",
        "USE TEMP B-TREE FOR LAST TERM OF ORDER BY"
      ])
      // Disputes.queue after an escalated dispute: the rest of the escalated, then the others, each
      // read in index order; only the two pages' rows are merged.
      const page = (escalated: string) => `SELECT * FROM (SELECT * FROM disputes WHERE status = 'open' AND ${escalated} ORDER BY created_at, dispute_id LIMIT 101) AS page`
      const queue = yield* planOf(`${page(`escalated = 1 AND ${after("", "dispute_id")}`)} UNION ALL ${page("escalated = 0")} ORDER BY escalated DESC, created_at, dispute_id LIMIT 101`)
      assert.deepStrictEqual(queue.filter((detail) => /disputes/.test(detail)), [
        "SEARCH disputes USING INDEX disputes_queue (status=? AND escalated=? AND created_at>?)",
        "SEARCH disputes USING INDEX disputes_queue (status=? AND escalated=?)"
      ], JSON.stringify(queue))
      // Disputes.queue of resolved ones, newest first: the first page and a deep one, in index order.
      assert.deepStrictEqual(yield* planOf("SELECT * FROM disputes WHERE status = 'resolved' ORDER BY resolved_at DESC, dispute_id DESC LIMIT 101"), [
        "SEARCH disputes USING INDEX disputes_resolved (status=?)"
      ])
      assert.deepStrictEqual(
        yield* planOf("SELECT * FROM disputes WHERE status = 'resolved' AND resolved_at <= 't' AND (resolved_at < 't' OR dispute_id < 'x') ORDER BY resolved_at DESC, dispute_id DESC LIMIT 101"),
        ["SEARCH disputes USING INDEX disputes_resolved (status=? AND resolved_at<?)"]
      )
    }).pipe(Effect.provide(Sqlite.layerMemory(Engine.migrations))))
})
