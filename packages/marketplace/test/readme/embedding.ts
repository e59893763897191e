import { Sqlite } from "@clawbounties/adapter-sqlite"   // or Postgres.layer({ url, migrations: Engine.migrations })
import { type Actor, Bounties, Engine, Operators, Tokens } from "@clawbounties/marketplace"
import { Ledger } from "@clawbounties/ledger"
import { Effect } from "effect"

const engine = Engine.layer(
  Sqlite.layer({ filename: "./market.db", migrations: Engine.migrations }),
  { ...Engine.liveParts, operatorToken: Tokens.layerNoOperator }   // settings from Config (env)
)
const buyer: Actor.Actor = { did: "did:key:z6MkneMkZqwqRiU5mJzSG3kDwzt9P8C59N4NGTfBLfSGE7c7", role: "requester" }
const operator: Actor.Actor = { did: Tokens.OPERATOR_DID, role: "operator" }

export const program = Effect.gen(function* () {
  yield* Operators.credit(operator, { did: buyer.did, amount_minor: 10_000n, currency: "USD", reason: "top-up", idempotency_key: "topup-1" })
  const posted = yield* Bounties.post(buyer, { idempotency_key: "post-1", title: "Compare three libraries", description: "Recommend one.",
    reward: { amount_minor: 5000n, currency: "USD" }, closure_type: "requester", difficulty_scalar: 1,
    is_code_bounty: false, min_proof_tier: "self", tags: ["research"], metadata: {} })
  return { bounty: posted.bounty_id, balances: yield* (yield* Ledger.Ledger).balances(buyer.did) }
}).pipe(Effect.provide(engine))   // failures are typed: Effect.catchTag("InsufficientFunds", ...)
