/**
 * The whole marketplace over a real store for tests: ledger and marketplace migrations, the live
 * ledger, deterministic ids and entropy, and actors with the common steps as one call each.
 */
import { SqlClient } from "@effect/sql"
import { Did, Ids } from "@clawbounties/domain"
import { Limits } from "@clawbounties/fees"
import { Ledger } from "@clawbounties/ledger"
import { EventChain, Hash, Sign } from "@clawbounties/verify"
import { Effect, Layer } from "effect"
import type { Actor } from "../../src/Actor.js"
import * as Bounties from "../../src/Bounties.js"
import { Entropy } from "../../src/Entropy.js"
import * as Identities from "../../src/Identities.js"
import { MarketplaceConfig, type Settings } from "../../src/MarketplaceConfig.js"
import * as Engine from "../../src/Engine.js"
import * as Operators from "../../src/Operators.js"
import type * as Requests from "../../src/Requests.js"
import * as Tokens from "../../src/Tokens.js"
import * as Workers from "../../src/Workers.js"
import { answer, key, type Key } from "./identity.js"

export { key, type Key }

export const migrationSets = Engine.migrations

/** The engine's services over a given `SqlClient` layer (already migrated), deterministic parts. */
export const engineOver = <E, R>(sqlLayer: Layer.Layer<SqlClient.SqlClient, E, R>, settings: Partial<Settings> = {}) =>
  Engine.layer(sqlLayer, {
    ids: Ids.IdGen.layerCounter,
    entropy: Entropy.layerSeeded,
    settings: MarketplaceConfig.layer(settings),
    limits: Limits.Limits.layer,
    identities: Identities.layerWith(),
    operatorToken: Tokens.layerNoOperator
  })

export const operator: Actor = { did: Tokens.OPERATOR_DID, role: "operator" }

/** Registers `k` in `role` through a signed challenge and returns its actor. */
export const registerIdentity = (k: Key, role: "worker" | "requester") =>
  Effect.gen(function* () {
    const challenge = yield* Identities.challenge({ did: k.did, purpose: "register" })
    yield* Identities.register({ did: k.did, role, challenge_id: challenge.challenge_id, proof: answer(k, challenge, role) })
    return { did: k.did as string, role } satisfies Actor
  })

export const requester = (n: number, fundedMinor = 1_000_000n) =>
  Effect.gen(function* () {
    const k = key(n)
    const actor = yield* registerIdentity(k, "requester")
    if (fundedMinor > 0n) {
      yield* Operators.credit(operator, {
        did: actor.did,
        amount_minor: fundedMinor,
        currency: "USD",
        reason: "test funding",
        idempotency_key: `fund:${actor.did}:${fundedMinor}`
      })
    }
    return { key: k, actor }
  })

export const worker = (n: number, profile: Partial<{ priceFloor: string; jobTypes: ReadonlyArray<"code" | "research" | "agent_pack">; status: "online" | "offline" | "paused" }> = {}) =>
  Effect.gen(function* () {
    const k = key(n)
    const challenge = yield* Identities.challenge({ did: k.did, purpose: "register" })
    yield* Workers.register({
      worker_did: k.did,
      challenge_id: challenge.challenge_id,
      proof: answer(k, challenge, "worker"),
      worker_version: "test/1.0.0",
      listing: { name: `worker ${n}`, headline: "tests", tags: ["typescript"] },
      capabilities: { job_types: [...(profile.jobTypes ?? ["code", "research", "agent_pack"])], languages: ["ts"], max_minutes: 30 },
      offers: { skills: [], mcp: [] },
      pricing: { price_floor_minor: BigInt(profile.priceFloor ?? "0") },
      availability: { mode: "manual", paused: profile.status === "paused" }
    })
    return { key: k, actor: { did: k.did as string, role: "worker" } satisfies Actor }
  })

let posts = 0
/** A research bounty under a fresh idempotency key (each call is a new post unless a key is given). */
export const researchBounty = (overrides: Partial<Requests.PostBounty> = {}): Requests.PostBounty => ({
  idempotency_key: `post-${++posts}`,
  title: "Research best approach",
  description: "Summarise the options and recommend one.",
  reward: { amount_minor: 5000n, currency: "USD" },
  closure_type: "requester",
  difficulty_scalar: 1,
  is_code_bounty: false,
  min_proof_tier: "self",
  tags: ["research"],
  metadata: {},
  ...overrides
})

let runs = 0

/**
 * A signed `proof_bundle` envelope for a run by `k`, with a two-event chain (verify's own builder).
 * Each call is a new run unless `runId` is given: one run backs one submission (`EVIDENCE_REUSED`).
 */
export const proofBundle = (k: Key, options: { readonly runId?: string; readonly issuedAt?: string; readonly tamper?: boolean } = {}) => {
  const issuedAt = options.issuedAt ?? "1970-01-01T00:00:00.000Z"
  const runId = options.runId ?? `run_${++runs}`
  const event_chain = EventChain.build(runId, [
    { event_id: "evt_1", event_type: "run_start", timestamp: issuedAt, payload_hash_b64u: Hash.sha256B64uOfString("start") },
    { event_id: "evt_2", event_type: "run_end", timestamp: issuedAt, payload_hash_b64u: Hash.sha256B64uOfString("end") }
  ])
  const envelope = Sign.proofBundle({ ...k.keyPair, did: k.did }, { bundle_id: `bundle_${runId}`, event_chain }, { issuedAt })
  return options.tamper ? { ...envelope, payload: { ...envelope.payload, bundle_id: "tampered" } } : envelope
}

/** Posts a bounty, accepts it and submits a valid proof: the bounty ends under review. */
export const underReview = (requesterActor: Actor, workerKey: Key, input: Requests.PostBounty = researchBounty()) =>
  Effect.gen(function* () {
    const posted = yield* Bounties.post(requesterActor, input)
    const workerActor: Actor = { did: workerKey.did, role: "worker" }
    yield* Bounties.accept(workerActor, posted.bounty_id, {})
    const { submit } = yield* Effect.promise(() => import("../../src/Submissions.js"))
    const submitted = yield* submit(workerActor, posted.bounty_id, { proof_bundle_envelope: proofBundle(workerKey), artifacts: [] })
    return { posted, submitted, workerActor }
  })

export const balances = (account: string) =>
  Effect.gen(function* () {
    const ledger = yield* Ledger.Ledger
    const all = yield* ledger.balances(account)
    return all.USD ?? { A: 0n, H: 0n, B: 0n, F: 0n, P: 0n }
  })

export const reconcileClean = Effect.gen(function* () {
  const ledger = yield* Ledger.Ledger
  const report = yield* ledger.reconcile
  return report
})

export const didOf = (k: Key): string => Did.fromPublicKey(k.keyPair.publicKey)
