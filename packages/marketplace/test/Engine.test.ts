/**
 * The engine as a platform team embeds it (the README's "Embedding the engine" example, kept
 * compiling and passing here): `Engine.layer` over a store with the production parts, commands
 * called directly with the caller's `Actor`, typed errors caught by tag.
 */
import { assert, describe, it } from "@effect/vitest"
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { Ledger } from "@clawbounties/ledger"
import { Effect } from "effect"
import { type Actor, Bounties, Engine, Operators, Tokens } from "../src/index.js"

describe("Engine.layer with the live parts", () => {
  it.effect("the README's embedding example: fund, post, read balances; a failure is a typed error", () =>
    Effect.gen(function* () {
      // --- README example -----------------------------------------------------------------------
      const engine = Engine.layer(
        Sqlite.layer({ filename: ":memory:", migrations: Engine.migrations }),
        { ...Engine.liveParts, operatorToken: Tokens.layerNoOperator }
      )
      // Your service authenticates its callers: the engine trusts the Actor it is handed.
      const buyer: Actor.Actor = { did: "did:key:z6MkneMkZqwqRiU5mJzSG3kDwzt9P8C59N4NGTfBLfSGE7c7", role: "requester" }
      const operator: Actor.Actor = { did: Tokens.OPERATOR_DID, role: "operator" }

      const program = Effect.gen(function* () {
        yield* Operators.credit(operator, { did: buyer.did, amount_minor: 10_000n, currency: "USD", reason: "top-up", idempotency_key: "topup-1" })
        const posted = yield* Bounties.post(buyer, {
          idempotency_key: "post-1",
          title: "Summarise the options",
          description: "Compare the three libraries and recommend one.",
          reward: { amount_minor: 5000n, currency: "USD" },
          closure_type: "requester",
          difficulty_scalar: 1,
          is_code_bounty: false,
          min_proof_tier: "self",
          tags: ["research"],
          metadata: {}
        })
        const ledger = yield* Ledger.Ledger
        return { posted, balances: yield* ledger.balances(buyer.did) }
      })
      // --------------------------------------------------------------------------------------------
      const { balances, posted } = yield* Effect.provide(program, engine)
      assert.strictEqual(posted.status, "open")
      assert.deepStrictEqual([balances.USD!.A, balances.USD!.H], [10_000n - 5375n, 5375n])

      // Compiles only while the provided effect's error channel is a union of tagged errors.
      const missing = Bounties.get(buyer, "bty_01jz0000000000000000000000").pipe(
        Effect.as("found"),
        Effect.provide(engine),
        Effect.catchTag("NotFound", (error) => Effect.succeed(`not found: ${error.entity}`))
      )
      assert.strictEqual(yield* missing, "not found: bounty")
    }))
})
