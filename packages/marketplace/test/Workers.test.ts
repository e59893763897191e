import { assert, describe, it } from "@effect/vitest"
import { ErrorCatalogue } from "@clawbounties/domain"
import { Effect, Either, Schema } from "effect"
import type { Actor } from "../src/Actor.js"
import * as Audit from "../src/Audit.js"
import * as Identities from "../src/Identities.js"
import * as Outbox from "../src/Outbox.js"
import * as Tokens from "../src/Tokens.js"
import * as Workers from "../src/Workers.js"
import { answer, counts, databases, failure, type Key, key, registerIdentity, TestLayer } from "./helpers/identity.js"

const alice = key(1)
const mallory = key(2)

/** The spec's B3 example body, less the DID and the proof. */
const specProfile = {
  worker_version: "openclaw-worker/0.1.0",
  listing: {
    name: "G’s Code Worker",
    headline: "Fast TypeScript fixes + reliable tests",
    tags: ["typescript", "testing", "openclaw"]
  },
  capabilities: { job_types: ["code", "research", "agent_pack"], languages: ["ts", "py"], max_minutes: 20 },
  offers: {
    skills: ["did-work", "moltbook"],
    mcp: [{ name: "github", description: "Reads repos/issues/PRs via MCP" }]
  },
  pricing: { price_floor_minor: "500" },
  availability: { mode: "manual", paused: false }
}

const decodeRequest = Schema.decodeUnknownEither(Workers.RegisterWorkerRequest)
const decodeProfile = Schema.decodeUnknownSync(Workers.WorkerProfile)

/** The HTTP route's flow: challenge, sign, decode the body, register. */
const registerWorker = (who: Key, profile: Record<string, unknown> = specProfile, signer: Key = who) =>
  Effect.gen(function* () {
    const challenge = yield* Identities.challenge({ did: who.did, purpose: "register" })
    const body = { worker_did: who.did, challenge_id: challenge.challenge_id, proof: answer(signer, challenge, "worker"), ...profile }
    const request = yield* Effect.orDie(Schema.decodeUnknown(Workers.RegisterWorkerRequest)(body))
    return yield* Workers.register(request)
  })

const profileWith = (listing: Partial<typeof specProfile.listing>, capabilities: Partial<typeof specProfile.capabilities>, extra: Record<string, unknown> = {}) => ({
  ...specProfile,
  listing: { ...specProfile.listing, ...listing },
  capabilities: { ...specProfile.capabilities, ...capabilities },
  ...extra
})

for (const database of databases("mkt_workers")) {
describe(database.name, () => {
  const Test = (options: Omit<Parameters<typeof TestLayer>[0] & object, "database"> = {}) =>
    TestLayer({ ...options, database: database.layer })

  describe("Workers.register", () => {
    it.effect("proves the DID, records the identity, creates the profile and issues a worker token, in one command", () =>
      Effect.gen(function* () {
        const response = yield* registerWorker(alice)
        assert.match(response.worker_id, /^wrk_/)
        assert.strictEqual(response.worker_did, alice.did)
        const principal = yield* Tokens.authenticate(response.auth.token)
        assert.deepStrictEqual(principal, { did: alice.did, role: "worker", token_id: response.auth.token_id })
        assert.isTrue(yield* Identities.isRegistered(alice.did, "worker"))

        const worker = yield* Workers.get(response.worker_id)
        const wire = yield* Workers.toWire(worker)
        // The spec's wire shape: money as a digit string, the documents as sent.
        assert.deepStrictEqual(
          { ...wire, created_at: undefined, updated_at: undefined },
          {
            worker_id: response.worker_id,
            worker_did: alice.did,
            status: "online",
            ...specProfile,
            created_at: undefined,
            updated_at: undefined
          }
        )
        assert.strictEqual(worker.pricing.price_floor_minor, 500n)

        const c = yield* counts
        assert.deepStrictEqual(
          { identities: c.identities, tokens: c.tokens, workers: c.workers, job_types: c.job_types, tags: c.tags, consumed: c.consumed },
          { identities: 1, tokens: 1, workers: 1, job_types: 3, tags: 3, consumed: 1 }
        )
        const events = yield* Outbox.forSubject(response.worker_id)
        assert.deepStrictEqual(events.map((e) => [e.type, e.payload]), [
          ["worker.registered", { worker_id: response.worker_id, worker_did: alice.did, status: "online", job_types: ["code", "research", "agent_pack"] }]
        ])
        assert.deepStrictEqual((yield* Outbox.forSubject(alice.did)).map((e) => e.type), ["identity.registered"])
        const audit = (yield* Audit.list({ entityId: response.worker_id, limit: 10 })).entries
        assert.deepStrictEqual(audit.map((a) => [a.actor, a.action]), [[alice.did, "worker.register"]])
        assert.deepStrictEqual(audit[0]!.after, wire)

        const encoded = Schema.encodeSync(Workers.RegisterWorkerResponse)(response)
        assert.deepStrictEqual(Object.keys(encoded).sort(), ["auth", "created", "worker_did", "worker_id"])
      }).pipe(Effect.provide(Test())))

    it.effect("applies defaults: no offers, a zero price floor, manual availability; paused starts paused", () =>
      Effect.gen(function* () {
        const minimal = { listing: { name: "Min" }, capabilities: { job_types: ["research"] } }
        const { worker_id } = yield* registerWorker(alice, minimal)
        const worker = yield* Workers.get(worker_id)
        assert.deepStrictEqual(worker.offers, { skills: [], mcp: [] })
        assert.strictEqual(worker.pricing.price_floor_minor, 0n)
        assert.deepStrictEqual(worker.availability, { mode: "manual", paused: false })
        assert.deepStrictEqual(worker.listing.tags, [])

        const paused = yield* registerWorker(mallory, { ...minimal, availability: { mode: "manual", paused: true } })
        assert.strictEqual((yield* Workers.get(paused.worker_id)).status, "paused")
      }).pipe(Effect.provide(Test())))

    it.effect("DID squat through the worker route: Mallory signs Alice's challenge; no row of any kind is written", () =>
      Effect.gen(function* () {
        const error = yield* failure(registerWorker(alice, specProfile, mallory))
        assert.strictEqual(ErrorCatalogue.toWire(error).body.error, "DID_MISMATCH")
        const c = yield* counts
        assert.deepStrictEqual(c, { identities: 0, tokens: 0, workers: 0, job_types: 0, tags: 0, outbox: 0, audit: 0, consumed: 0 })
      }).pipe(Effect.provide(Test())))

    it.effect("a worker that revoked its token registers again: a new token, the same profile, unchanged", () =>
      Effect.gen(function* () {
        const first = yield* registerWorker(alice)
        assert.isTrue(first.created)
        const principal = yield* Tokens.authenticate(first.auth.token)
        yield* Tokens.revoke(principal, { token_id: first.auth.token_id, reason: "leaked" })
        const before = yield* counts
        const again = yield* registerWorker(alice, profileWith({ headline: "a different headline" }, {}))
        assert.deepStrictEqual([again.worker_id, again.created], [first.worker_id, false])
        assert.deepStrictEqual(yield* Tokens.authenticate(again.auth.token), { did: alice.did, role: "worker", token_id: again.auth.token_id })
        // One more token and consumed challenge; no second profile, and the profile is as it was.
        assert.deepStrictEqual(yield* counts, { ...before, tokens: before.tokens + 1, consumed: before.consumed + 1, audit: before.audit + 1, outbox: before.outbox + 1 })
        assert.strictEqual((yield* Workers.get(first.worker_id)).listing.headline, specProfile.listing.headline)
      }).pipe(Effect.provide(Test())))

    it.effect("a proof for the requester role cannot register a worker", () =>
      Effect.gen(function* () {
        const challenge = yield* Identities.challenge({ did: alice.did, purpose: "register" })
        const request = Schema.decodeUnknownSync(Workers.RegisterWorkerRequest)({
          worker_did: alice.did,
          challenge_id: challenge.challenge_id,
          proof: answer(alice, challenge, "requester"),
          ...specProfile
        })
        const error = yield* failure(Workers.register(request))
        assert.strictEqual((error as ErrorCatalogue.DidProofInvalid).reason, "CHALLENGE_MISMATCH")
        assert.strictEqual((yield* counts).workers, 0)
      }).pipe(Effect.provide(Test())))
  })

  describe("Workers wire schemas", () => {
    const body = { worker_did: alice.did, challenge_id: "chl_000001", proof: {}, ...specProfile }
    const rejects = (name: string, value: unknown) =>
      it(`rejects ${name}`, () => {
        assert.isTrue(Either.isLeft(decodeRequest(value)), name)
      })

    it("accepts the spec's example request", () => {
      const decoded = decodeRequest(body)
      assert.isTrue(Either.isRight(decoded))
      if (Either.isRight(decoded)) assert.strictEqual(decoded.right.pricing.price_floor_minor, 500n)
    })
    rejects("an unknown top-level field", { ...body, admin: true })
    rejects("an unknown nested field", { ...body, listing: { ...body.listing, verified: true } })
    rejects("an unknown field in an MCP entry", { ...body, offers: { skills: [], mcp: [{ name: "x", token: "y" }] } })
    rejects("a name over 100 characters", { ...body, listing: { ...body.listing, name: "n".repeat(101) } })
    rejects("an empty name", { ...body, listing: { ...body.listing, name: "" } })
    rejects("a name with a control character", { ...body, listing: { ...body.listing, name: "a\u0000b" } })
    rejects("a name with surrounding spaces", { ...body, listing: { ...body.listing, name: " x " } })
    rejects("21 tags", { ...body, listing: { ...body.listing, tags: Array.from({ length: 21 }, (_, i) => `t${i}`) } })
    rejects("a tag over 50 characters", { ...body, listing: { ...body.listing, tags: ["t".repeat(51)] } })
    rejects("duplicate tags ignoring case", { ...body, listing: { ...body.listing, tags: ["TypeScript", "typescript"] } })
    rejects("an unknown job type", { ...body, capabilities: { ...body.capabilities, job_types: ["design"] } })
    rejects("no job type", { ...body, capabilities: { ...body.capabilities, job_types: [] } })
    rejects("a fractional max_minutes", { ...body, capabilities: { ...body.capabilities, max_minutes: 1.5 } })
    rejects("a negative price floor", { ...body, pricing: { price_floor_minor: "-5" } })
    rejects("a price floor with leading zeros", { ...body, pricing: { price_floor_minor: "0500" } })
    rejects("a numeric price floor", { ...body, pricing: { price_floor_minor: 500 } })
    rejects("a price floor above the maximum amount", { ...body, pricing: { price_floor_minor: "1000000000000001" } })
    rejects("51 skills", { ...body, offers: { skills: Array.from({ length: 51 }, (_, i) => `s${i}`), mcp: [] } })
    rejects("an unknown availability mode", { ...body, availability: { mode: "always", paused: false } })
    rejects("a did:web worker DID", { ...body, worker_did: "did:web:example.com" })

    it("decodes list queries from strings and bounds the limit", () => {
      const decode = Schema.decodeUnknownEither(Workers.ListWorkersQuery)
      const ok = decode({ job_type: "code", tag: "typescript", status: "online", limit: "10" })
      assert.isTrue(Either.isRight(ok) && ok.right.limit === 10)
      assert.isTrue(Either.isLeft(decode({ limit: "0" })))
      assert.isTrue(Either.isLeft(decode({ limit: "101" })))
      assert.isTrue(Either.isLeft(decode({ job_type: "design" })))
      assert.isTrue(Either.isLeft(decode({ status: "busy" })))
      assert.isTrue(Either.isLeft(decode({ sort: "name" })))
    })

    it("refuses an empty update", () => {
      assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(Workers.UpdateWorkerRequest)({})))
      assert.isTrue(Either.isRight(Schema.decodeUnknownEither(Workers.UpdateWorkerRequest)({ status: "offline" })))
    })
  })

  describe("called directly by an embedder", () => {
    it.effect("a typed input that breaks its schema is INVALID_REQUEST, and nothing is written", () =>
      Effect.gen(function* () {
        const tooLong = "v".repeat(5000)
        const challenge = yield* Identities.challenge({ did: alice.did, purpose: "register" })
        const profile = decodeProfile(specProfile)
        const request = { worker_did: alice.did, challenge_id: challenge.challenge_id, proof: answer(alice, challenge, "worker"), ...profile, worker_version: tooLong }
        const before = yield* counts
        assert.strictEqual((yield* failure(Workers.register(request)))._tag, "InvalidRequest")
        assert.deepStrictEqual(yield* counts, before)

        const principal = yield* Tokens.authenticate((yield* registerIdentity(alice, "worker")).auth.token)
        assert.strictEqual((yield* failure(Workers.registerProfile(principal, { ...profile, worker_version: tooLong })))._tag, "InvalidRequest")
        yield* Workers.registerProfile(principal, profile)
        const patch = { listing: { ...profile.listing, tags: ["TypeScript", "typescript"] } } as Workers.UpdateWorkerRequest
        assert.strictEqual((yield* failure(Workers.update(principal, patch)))._tag, "InvalidRequest")
        assert.deepStrictEqual((yield* Workers.self(principal)).listing, profile.listing)
        // An id not of the engine's form names no worker (PostgreSQL cannot even compare U+0000).
        assert.strictEqual((yield* failure(Workers.get("wrk_\u0000")))._tag, "NotFound")
      }).pipe(Effect.provide(Test())))

    it.effect("the caller is an Actor, as for every other command: the embedder's service holds no token", () =>
      Effect.gen(function* () {
        yield* registerIdentity(alice, "worker")
        const actor: Actor = { did: alice.did, role: "worker" }
        const created = yield* Workers.registerProfile(actor, decodeProfile(specProfile))
        assert.strictEqual((yield* Workers.update(actor, { status: "offline" })).status, "offline")
        assert.strictEqual((yield* Workers.self(actor)).worker_id, created.worker_id)
      }).pipe(Effect.provide(Test())))
  })

  describe("Workers.registerProfile, get, self", () => {
    it.effect("a registered worker identity adds its profile with its token; no new token", () =>
      Effect.gen(function* () {
        const identity = yield* registerIdentity(alice, "worker")
        const principal = yield* Tokens.authenticate(identity.auth.token)
        const worker = yield* Workers.registerProfile(principal, decodeProfile(specProfile))
        assert.strictEqual(worker.worker_did, alice.did)
        assert.deepStrictEqual(yield* Workers.self(principal), worker)
        assert.deepStrictEqual(yield* Workers.get(worker.worker_id), worker)
        assert.strictEqual((yield* counts).tokens, 1)
        const again = yield* failure(Workers.registerProfile(principal, decodeProfile(specProfile)))
        assert.strictEqual(again._tag, "WorkerAlreadyRegistered")
      }).pipe(Effect.provide(Test())))

    it.effect("FORBIDDEN for a requester token; IDENTITY_NOT_REGISTERED without a worker identity", () =>
      Effect.gen(function* () {
        const requester = yield* Tokens.authenticate((yield* registerIdentity(alice, "requester")).auth.token)
        const forbidden = yield* failure(Workers.registerProfile(requester, decodeProfile(specProfile)))
        assert.strictEqual(ErrorCatalogue.toWire(forbidden).body.error, "FORBIDDEN")
        const selfForbidden = yield* failure(Workers.self(requester))
        assert.strictEqual(ErrorCatalogue.toWire(selfForbidden).body.error, "FORBIDDEN")

        const unregistered: Tokens.Principal = { did: mallory.did, role: "worker", token_id: "tok_999999" }
        const error = yield* failure(Workers.registerProfile(unregistered, decodeProfile(specProfile)))
        assert.strictEqual(ErrorCatalogue.toWire(error).body.error, "IDENTITY_NOT_REGISTERED")
        assert.strictEqual((yield* counts).workers, 0)
      }).pipe(Effect.provide(Test())))

    it.effect("NOT_FOUND for an unknown worker id and for self without a profile", () =>
      Effect.gen(function* () {
        const error = yield* failure(Workers.get("wrk_999999"))
        assert.deepStrictEqual(ErrorCatalogue.toWire(error).body, {
          error: "NOT_FOUND",
          message: "No such record, or not visible to the caller.",
          details: { entity: "worker", id: "wrk_999999" }
        })
        const principal = yield* Tokens.authenticate((yield* registerIdentity(alice, "worker")).auth.token)
        assert.strictEqual(ErrorCatalogue.toWire(yield* failure(Workers.self(principal))).body.error, "NOT_FOUND")
        assert.isTrue((yield* Workers.findByDid(alice.did))._tag === "None")
      }).pipe(Effect.provide(Test())))
  })

  describe("Workers.update", () => {
    it.effect("pausing sets status and availability together, with a worker.updated event and an audit row", () =>
      Effect.gen(function* () {
        const { worker_id, auth } = yield* registerWorker(alice)
        const principal = yield* Tokens.authenticate(auth.token)
        const paused = yield* Workers.update(principal, { status: "paused" })
        assert.strictEqual(paused.status, "paused")
        assert.isTrue(paused.availability.paused)
        assert.deepStrictEqual(yield* Workers.get(worker_id), paused)

        const resumed = yield* Workers.update(principal, { availability: { mode: "scheduled", paused: false, max_minutes_per_day: 120 } })
        assert.strictEqual(resumed.status, "online")
        const offline = yield* Workers.update(principal, { status: "offline", pricing: { price_floor_minor: 900n } })
        assert.strictEqual(offline.status, "offline")
        assert.isFalse(offline.availability.paused)
        assert.strictEqual((yield* Workers.get(worker_id)).pricing.price_floor_minor, 900n)

        const updates = (yield* Outbox.forSubject(worker_id)).filter((e) => e.type === "worker.updated")
        assert.deepStrictEqual(updates.map((e) => e.payload.changed), [
          ["availability", "status"],
          ["availability", "status"],
          ["pricing", "status"]
        ])
        const audit = (yield* Audit.list({ entityId: worker_id, limit: 10 })).entries
        assert.strictEqual(audit.filter((a) => a.action === "worker.update").length, 3)

        // An update that changes nothing writes nothing.
        yield* Workers.update(principal, { status: "offline" })
        assert.strictEqual((yield* Outbox.forSubject(worker_id)).filter((e) => e.type === "worker.updated").length, 3)
      }).pipe(Effect.provide(Test())))

    it.effect("a new listing or capabilities changes what the filters find", () =>
      Effect.gen(function* () {
        const { worker_id, auth } = yield* registerWorker(alice)
        const principal = yield* Tokens.authenticate(auth.token)
        yield* Workers.update(principal, {
          listing: { name: "Researcher", tags: ["Papers"] },
          capabilities: { job_types: ["research"], languages: [] }
        })
        const ids = (q: Workers.ListWorkersQuery) => Effect.map(Workers.list(q), (r) => r.workers.map((w) => w.worker_id))
        assert.deepStrictEqual(yield* ids({ job_type: "code" }), [])
        assert.deepStrictEqual(yield* ids({ job_type: "research" }), [worker_id])
        assert.deepStrictEqual(yield* ids({ tag: "typescript" }), [])
        assert.deepStrictEqual(yield* ids({ tag: "papers" }), [worker_id])
      }).pipe(Effect.provide(Test())))

    it.effect("FORBIDDEN for a requester token, NOT_FOUND without a profile", () =>
      Effect.gen(function* () {
        const requester = yield* Tokens.authenticate((yield* registerIdentity(alice, "requester")).auth.token)
        assert.strictEqual(ErrorCatalogue.toWire(yield* failure(Workers.update(requester, { status: "offline" }))).body.error, "FORBIDDEN")
        const worker = yield* Tokens.authenticate((yield* registerIdentity(alice, "worker")).auth.token)
        assert.strictEqual(ErrorCatalogue.toWire(yield* failure(Workers.update(worker, { status: "offline" }))).body.error, "NOT_FOUND")
      }).pipe(Effect.provide(Test())))
  })

  describe("Workers.list", () => {
    const setup = Effect.gen(function* () {
      const coder = yield* registerWorker(key(11), profileWith({ tags: ["TypeScript", "testing"] }, { job_types: ["code"] }))
      const researcher = yield* registerWorker(key(12), profileWith({ tags: ["papers"] }, { job_types: ["research"] }))
      const both = yield* registerWorker(key(13), profileWith({ tags: ["typescript", "papers"] }, { job_types: ["code", "research"] }))
      const packer = yield* registerWorker(key(14), profileWith({ tags: [] }, { job_types: ["agent_pack"] }, { availability: { mode: "manual", paused: true } }))
      return { coder: coder.worker_id, researcher: researcher.worker_id, both: both.worker_id, packer: packer.worker_id }
    })
    const ids = (q: Workers.ListWorkersQuery) => Effect.map(Workers.list(q), (r) => r.workers.map((w) => w.worker_id))

    it.effect("filters by job type, tag (ignoring case) and status, alone and together", () =>
      Effect.gen(function* () {
        const w = yield* setup
        assert.deepStrictEqual(yield* ids({}), [w.coder, w.researcher, w.both, w.packer])
        assert.deepStrictEqual(yield* ids({ job_type: "code" }), [w.coder, w.both])
        assert.deepStrictEqual(yield* ids({ job_type: "agent_pack" }), [w.packer])
        assert.deepStrictEqual(yield* ids({ tag: "typescript" }), [w.coder, w.both])
        assert.deepStrictEqual(yield* ids({ tag: "TYPESCRIPT" }), [w.coder, w.both])
        assert.deepStrictEqual(yield* ids({ tag: "nothing" }), [])
        assert.deepStrictEqual(yield* ids({ status: "paused" }), [w.packer])
        assert.deepStrictEqual(yield* ids({ status: "online" }), [w.coder, w.researcher, w.both])
        assert.deepStrictEqual(yield* ids({ job_type: "research", tag: "typescript", status: "online" }), [w.both])
        assert.deepStrictEqual(yield* ids({ job_type: "research", status: "offline" }), [])
      }).pipe(Effect.provide(Test())))

    it.effect("pages with an opaque cursor and refuses a forged one", () =>
      Effect.gen(function* () {
        const w = yield* setup
        const first = yield* Workers.list({ limit: 3 })
        assert.deepStrictEqual(first.workers.map((x) => x.worker_id), [w.coder, w.researcher, w.both])
        assert.isNotNull(first.next_cursor)
        const second = yield* Workers.list({ limit: 3, cursor: first.next_cursor! })
        assert.deepStrictEqual(second.workers.map((x) => x.worker_id), [w.packer])
        assert.isNull(second.next_cursor)
        const exact = yield* Workers.list({ limit: 4 })
        assert.isNull(exact.next_cursor)
        const filtered = yield* Workers.list({ job_type: "code", limit: 1 })
        const next = yield* Workers.list({ job_type: "code", limit: 1, cursor: filtered.next_cursor! })
        assert.deepStrictEqual([...filtered.workers, ...next.workers].map((x) => x.worker_id), [w.coder, w.both])

        const forged = yield* failure(Workers.list({ cursor: "' OR 1=1 --" }))
        assert.strictEqual(ErrorCatalogue.toWire(forged).body.error, "INVALID_REQUEST")
      }).pipe(Effect.provide(Test())))

    it.effect("returns the spec's wire shape", () =>
      Effect.gen(function* () {
        yield* setup
        const response = Schema.encodeSync(Workers.ListWorkersResponse)(yield* Workers.list({ job_type: "code", limit: 1 }))
        const item = response.workers[0]!
        assert.deepStrictEqual(item.pricing, { price_floor_minor: "500" })
        for (const field of ["worker_id", "worker_did", "status", "listing", "capabilities", "offers", "pricing"]) {
          assert.property(item, field)
        }
        assert.deepStrictEqual(item.listing.tags, ["TypeScript", "testing"])
      }).pipe(Effect.provide(Test())))
  })

  describe("concurrency", () => {
    it.effect("two concurrent registrations of one DID: one profile; the other signs in, or is WORKER_ALREADY_REGISTERED", () =>
      Effect.gen(function* () {
        const outcomes = yield* Effect.all([Effect.either(registerWorker(alice)), Effect.either(registerWorker(alice))], {
          concurrency: "unbounded"
        })
        const created = outcomes.filter(Either.isRight).filter((o) => o.right.created)
        assert.strictEqual(created.length, 1)
        // The later one either saw the profile (a second token) or raced it (refused, nothing written).
        const second = outcomes.find((o) => Either.isLeft(o) || !o.right.created)!
        const tokens = Either.isLeft(second) ? 1 : 2
        if (Either.isLeft(second)) assert.strictEqual(second.left._tag, "WorkerAlreadyRegistered")
        const c = yield* counts
        assert.deepStrictEqual(
          { identities: c.identities, tokens: c.tokens, workers: c.workers, consumed: c.consumed },
          { identities: 1, tokens, workers: 1, consumed: tokens }
        )
      }).pipe(Effect.provide(Test())))
  })
})
}
