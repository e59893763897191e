/**
 * The engine as a platform team embeds it: `Engine.layer` over a store with the production parts.
 * Commands keep their typed errors (the `catchTag` below compiles only if they do).
 */
import { assert, describe, it } from "@effect/vitest"
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { Effect } from "effect"
import { Bounties, Engine, Tokens } from "../src/index.js"

describe("Engine.layer with the live parts", () => {
  it.effect("assembles on SQLite, and a command's failure is still a typed, catchable error", () =>
    Effect.gen(function* () {
      const engine = Engine.layer(Sqlite.layerMemory(Engine.migrations), { ...Engine.liveParts, operatorToken: Tokens.layerNoOperator })
      const missing = Bounties.get({ did: "did:key:z6MkneMkZqwqRiU5mJzSG3kDwzt9P8C59N4NGTfBLfSGE7c7", role: "requester" }, "bty_01jz0000000000000000000000")
      const answer = yield* missing.pipe(
        Effect.as("found"),
        Effect.provide(engine),
        // Compiles only while the provided effect's error channel is a union of tagged errors.
        Effect.catchTag("NotFound", (error) => Effect.succeed(`not found: ${error.entity}`))
      )
      assert.strictEqual(answer, "not found: bounty")
    }))
})
