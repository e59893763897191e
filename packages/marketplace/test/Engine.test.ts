/**
 * The engine as a platform team embeds it: the README's "Embedding the engine" example, kept
 * verbatim in `readme/embedding.ts` (imports by package name, `Engine.layer` over a SQLite file with
 * the production parts), run here; commands called directly with the caller's `Actor`, typed errors
 * caught by tag.
 */
import { assert, describe, it } from "@effect/vitest"
import { PgTestDatabase, Postgres } from "@clawbounties/adapter-postgres"
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { Ledger } from "@clawbounties/ledger"
import { Bounties, Engine, Operators, Tokens } from "@clawbounties/marketplace"
import { Ids } from "@clawbounties/domain"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { program } from "./readme/embedding.js"

/** The example's `./market.db` lands in a temporary directory, the working one while the test runs. */
const inTempDir = Effect.acquireRelease(
  Effect.sync(() => {
    const previous = process.cwd()
    const dir = mkdtempSync(join(tmpdir(), "engine-readme-"))
    process.chdir(dir)
    return { previous, dir }
  }),
  ({ dir, previous }) => Effect.sync(() => {
    process.chdir(previous)
    rmSync(dir, { recursive: true, force: true })
  })
)

describe("Engine.layer with the live parts", () => {
  it("the README's embedding example is readme/embedding.ts, verbatim", () => {
    const readme = readFileSync(join(import.meta.dirname, "../../../README.md"), "utf8")
    const section = readme.slice(readme.indexOf("## Embedding the engine"))
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1]
    assert.strictEqual(block, readFileSync(join(import.meta.dirname, "readme/embedding.ts"), "utf8"))
  })

  it.scoped("the README's embedding example runs: fund, post, read balances; run again it replays on the same file", () =>
    Effect.gen(function* () {
      yield* inTempDir
      const first = yield* program
      assert.deepStrictEqual([first.balances.USD!.A, first.balances.USD!.H], [10_000n - 5375n, 5375n])
      // A second run opens the file again: its keys replay the credit and the post.
      const again = yield* program
      assert.strictEqual(again.bounty, first.bounty)
      assert.deepStrictEqual(again.balances, first.balances)
    }))

  it.effect("a failure is a typed error, caught by its tag", () =>
    Effect.gen(function* () {
      const engine = Engine.layer(
        Sqlite.layer({ filename: ":memory:", migrations: Engine.migrations }),
        { ...Engine.liveParts, operatorToken: Tokens.layerNoOperator }
      )
      const buyer = { did: "did:key:z6MkneMkZqwqRiU5mJzSG3kDwzt9P8C59N4NGTfBLfSGE7c7", role: "requester" } as const
      // Compiles only while the provided effect's error channel is a union of tagged errors.
      const missing = Bounties.get(buyer, "bty_01jz0000000000000000000000").pipe(
        Effect.as("found"),
        Effect.provide(engine),
        Effect.catchTag("NotFound", (error) => Effect.succeed(`not found: ${error.entity}`))
      )
      assert.strictEqual(yield* missing, "not found: bounty")
    }))
})

describe("Engine.layer closed with a command in flight", () => {
  it.scoped("a post half done when the engine closes leaves no hold and no bounty: the money is available on reopening", () =>
    Effect.gen(function* () {
      const { dir } = yield* inTempDir
      const filename = join(dir, "closing.db")
      const postWrote = yield* Deferred.make<void>()
      const resume = yield* Deferred.make<void>()
      // Ids that stop the post at its first event id: its hold is written, its COMMIT not run.
      let posting = false
      const live = Context.get(yield* Layer.build(Ids.IdGen.layer), Ids.IdGen)
      const ids = Layer.succeed(Ids.IdGen, {
        make: (kind) => {
          if (kind === "bounty") posting = true
          return posting && kind === "event"
            ? Effect.zipRight(Deferred.succeed(postWrote, undefined), Effect.zipRight(Deferred.await(resume), live.make(kind)))
            : live.make(kind)
        }
      })
      const engineWith = (parts: Partial<Engine.Parts<unknown>>) => Engine.layer(
        Sqlite.layer({ filename, migrations: Engine.migrations }),
        { ...Engine.liveParts, operatorToken: Tokens.layerNoOperator, ...parts }
      )
      const buyer = { did: "did:key:z6MkneMkZqwqRiU5mJzSG3kDwzt9P8C59N4NGTfBLfSGE7c7", role: "requester" } as const
      const operator = { did: Tokens.OPERATOR_DID, role: "operator" } as const

      const scope = yield* Scope.make()
      const engine = yield* Layer.buildWithScope(engineWith({ ids }), scope)
      yield* Effect.provide(
        Operators.credit(operator, { did: buyer.did, amount_minor: 10_000n, currency: "USD", reason: "top-up", idempotency_key: "topup-1" }),
        engine
      )
      const post = yield* Effect.fork(Effect.provide(Bounties.post(buyer, { idempotency_key: "post-1", title: "Compare three libraries",
        description: "Recommend one.", reward: { amount_minor: 5000n, currency: "USD" }, closure_type: "requester",
        difficulty_scalar: 1, is_code_bounty: false, min_proof_tier: "self", tags: ["research"], metadata: {} }), engine))
      yield* Deferred.await(postWrote)
      yield* Scope.close(scope, Exit.void)
      yield* Deferred.succeed(resume, undefined)
      assert.isTrue(Exit.isFailure(yield* Fiber.await(post)))

      const after = yield* Effect.provide(Effect.gen(function* () {
        const balances = yield* (yield* Ledger.Ledger).balances(buyer.did)
        const mine = yield* Bounties.list(buyer, { mine: true })
        return { available: balances.USD!.A, held: balances.USD!.H, bounties: mine.bounties.length }
      }), engineWith({}))
      assert.deepStrictEqual(after, { available: 10_000n, held: 0n, bounties: 0 })
    }))
})

const pg = await PgTestDatabase.probe()

describe.skipIf(!pg.available)(`Engine.layer on PostgreSQL ${pg.reason}`, () => {
  it.scoped("the README's alternative store: the same program on Postgres.layer, built twice on one database", () =>
    Effect.gen(function* () {
      const { url } = yield* PgTestDatabase.database("engine_readme")
      const engine = Engine.layer(
        Postgres.layer({ url, migrations: Engine.migrations }),
        { ...Engine.liveParts, operatorToken: Tokens.layerNoOperator }
      )
      const buyer = { did: "did:key:z6MkneMkZqwqRiU5mJzSG3kDwzt9P8C59N4NGTfBLfSGE7c7", role: "requester" } as const
      const operator = { did: Tokens.OPERATOR_DID, role: "operator" } as const
      const fundAndPost = Effect.gen(function* () {
        yield* Operators.credit(operator, { did: buyer.did, amount_minor: 10_000n, currency: "USD", reason: "top-up", idempotency_key: "topup-1" })
        const posted = yield* Bounties.post(buyer, { idempotency_key: "post-1", title: "Compare three libraries", description: "Recommend one.",
          reward: { amount_minor: 5000n, currency: "USD" }, closure_type: "requester", difficulty_scalar: 1,
          is_code_bounty: false, min_proof_tier: "self", tags: ["research"], metadata: {} })
        return { bounty: posted.bounty_id, balances: yield* (yield* Ledger.Ledger).balances(buyer.did) }
      })
      // Two engines at once on one database (two replicas), then a third after both closed.
      const [first, second] = yield* Effect.all([Effect.provide(fundAndPost, engine), Effect.provide(fundAndPost, engine)], { concurrency: 2 })
      assert.strictEqual(second.bounty, first.bounty)
      assert.deepStrictEqual([first.balances.USD!.A, first.balances.USD!.H], [10_000n - 5375n, 5375n])
      const third = yield* Effect.provide(fundAndPost, Layer.fresh(engine))
      assert.deepStrictEqual(third, first)
    }))
})
