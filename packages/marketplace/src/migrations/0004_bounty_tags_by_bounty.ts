/**
 * Tags by bounty. The primary key (tag, bounty_id) serves the tag filter, but reading a bounty's
 * tags, which every bounty view does, scanned the whole table: 76 µs at 600 bounties and growing
 * with every one posted.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE INDEX bounty_tags_by_bounty ON bounty_tags (bounty_id, tag)`
})
