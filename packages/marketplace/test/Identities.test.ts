import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { ErrorCatalogue } from "@clawbounties/domain"
import { ConfigProvider, DateTime, Deferred, Duration, Effect, Either, Fiber, Layer, Option, Schema, TestClock } from "effect"
import * as Audit from "../src/Audit.js"
import * as Identities from "../src/Identities.js"
import * as Outbox from "../src/Outbox.js"
import * as Tokens from "../src/Tokens.js"
import { answer, counts, databases, failure, key, registerIdentity, TestLayer } from "./helpers/identity.js"

const alice = key(1)
const mallory = key(2)

const nothingWritten = Effect.gen(function* () {
  const c = yield* counts
  assert.deepStrictEqual(
    { identities: c.identities, tokens: c.tokens, outbox: c.outbox, audit: c.audit, consumed: c.consumed },
    { identities: 0, tokens: 0, outbox: 0, audit: 0, consumed: 0 }
  )
})

/** The error is the expected one: same tag, same wire code and details. */
const assertError = (actual: ErrorCatalogue.EngineError, expected: ErrorCatalogue.EngineError) => {
  assert.strictEqual(actual._tag, expected._tag)
  assert.deepStrictEqual(ErrorCatalogue.toWire(actual), ErrorCatalogue.toWire(expected))
}

/** Runs a registration attempt and returns its typed error (the test fails if it succeeds). */
const registerError = (input: Identities.RegisterRequest) => failure(Identities.register(input))

for (const database of databases("mkt_identities")) {
describe(database.name, () => {
  const Test = (options: Omit<Parameters<typeof TestLayer>[0] & object, "database"> = {}) =>
    TestLayer({ ...options, database: database.layer })

  describe("Identities.challenge", () => {
    it.effect("issues a stored challenge with a 32-byte nonce that expires after 5 minutes by default", () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(Date.parse("2026-01-01T00:00:00.000Z"))
        const challenge = yield* Identities.challenge({ did: alice.did, purpose: "register" })
        assert.match(challenge.challenge_id, /^chl_[0-9a-z]+$/)
        assert.strictEqual(Buffer.from(challenge.nonce, "base64url").length, 32)
        assert.strictEqual(challenge.expires_at, "2026-01-01T00:05:00.000Z")
        assert.strictEqual(challenge.audience, "clawbounties")
        assert.strictEqual(
          challenge.messages.worker,
          `clawbounties:register:${challenge.challenge_id}:${challenge.nonce}:worker`
        )
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ did: string; nonce: string; consumed_at: string | null }>`
          SELECT did, nonce, consumed_at FROM identity_challenges WHERE challenge_id = ${challenge.challenge_id}`
        assert.deepStrictEqual(rows.map((r) => ({ ...r })), [{ did: alice.did, nonce: challenge.nonce, consumed_at: null }])
        // Two challenges never share a nonce.
        const second = yield* Identities.challenge({ did: alice.did, purpose: "register" })
        assert.notStrictEqual(second.nonce, challenge.nonce)
      }).pipe(Effect.provide(Test())))

    it.effect("called directly, an input that breaks the request's schema is INVALID_REQUEST and nothing is stored", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const refused = [
          { did: "did:web:example.com", purpose: "register" },
          { did: alice.did, purpose: "login" },
          { did: alice.did, purpose: "register", extra: 1 }
        ] as unknown as ReadonlyArray<Identities.ChallengeRequest>
        for (const input of refused) {
          const error = yield* Effect.flip(Identities.challenge(input))
          assert.strictEqual(error._tag, "InvalidRequest", JSON.stringify(input))
        }
        const register = yield* Effect.flip(Identities.register({ did: "did:web:x", role: "worker", challenge_id: "chl_1", proof: {} } as never))
        assert.strictEqual(register._tag, "InvalidRequest")
        const rows = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM identity_challenges`
        assert.strictEqual(Number(rows[0]!.n), 0)
      }).pipe(Effect.provide(Test())))

    it.effect("takes its lifetime from IDENTITY_CHALLENGE_TTL and refuses an out-of-range one", () =>
      Effect.gen(function* () {
        const withTtl = (ttl: string) =>
          Layer.provide(Identities.layer, Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["IDENTITY_CHALLENGE_TTL", ttl]]))))
        const challenge = yield* Identities.challenge({ did: alice.did, purpose: "register" }).pipe(
          Effect.provide(withTtl("30 seconds"))
        )
        assert.strictEqual(challenge.expires_at, "1970-01-01T00:00:30.000Z")
        const tooLong = yield* Effect.either(Layer.build(withTtl("2 hours")).pipe(Effect.scoped))
        assert.isTrue(Either.isLeft(tooLong))
      }).pipe(Effect.provide(Test())))

    it.effect("keeps at most maxOpenChallengesPerDid open per DID: a new one replaces the oldest, which no longer registers", () =>
      Effect.gen(function* () {
        const issued = []
        for (let i = 0; i < 4; i++) issued.push(yield* Identities.challenge({ did: alice.did, purpose: "register" }))
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ challenge_id: string }>`SELECT challenge_id FROM identity_challenges ORDER BY challenge_id`
        assert.deepStrictEqual(rows.map((r) => r.challenge_id), issued.slice(2).map((c) => c.challenge_id))
        const replaced = yield* registerError({ did: alice.did, role: "worker", challenge_id: issued[0]!.challenge_id, proof: answer(alice, issued[0]!, "worker") })
        assertError(replaced, new ErrorCatalogue.ChallengeNotFound({ challenge_id: issued[0]!.challenge_id }))
        yield* Identities.register({ did: alice.did, role: "worker", challenge_id: issued[3]!.challenge_id, proof: answer(alice, issued[3]!, "worker") })
      }).pipe(Effect.provide(Test({ identities: { maxOpenChallengesPerDid: 2 } }))))

    it.effect("past maxOpenChallenges open in all, a new DID's challenge is CHALLENGE_CAPACITY_REACHED; expired and answered ones do not count", () =>
      Effect.gen(function* () {
        const first = yield* Identities.challenge({ did: alice.did, purpose: "register" })
        yield* Identities.challenge({ did: key(3).did, purpose: "register" })
        const refused = yield* failure(Identities.challenge({ did: mallory.did, purpose: "register" }))
        assertError(refused, new ErrorCatalogue.ChallengeCapacityReached({ limit: 2 }))
        assert.strictEqual(ErrorCatalogue.toWire(refused).status, 503)
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM identity_challenges WHERE did = ${mallory.did}`
        assert.strictEqual(Number(rows[0]!.n), 0)
        // Answered: its place is free.
        yield* Identities.register({ did: alice.did, role: "worker", challenge_id: first.challenge_id, proof: answer(alice, first, "worker") })
        yield* Identities.challenge({ did: mallory.did, purpose: "register" })
        // Expired (not yet purged): no longer open either.
        yield* TestClock.adjust(Duration.minutes(5))
        yield* Identities.challenge({ did: key(4).did, purpose: "register" })
        yield* Identities.challenge({ did: key(5).did, purpose: "register" })
      }).pipe(Effect.provide(Test({ identities: { maxOpenChallenges: 2 } }))))

    it.effect("concurrent requests cannot pass either bound: one DID keeps at most its share open, and the server at most its total", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const openOf = (did?: string) =>
          Effect.map(
            did === undefined
              ? sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM identity_challenges WHERE consumed_at IS NULL`
              : sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM identity_challenges WHERE did = ${did} AND consumed_at IS NULL`,
            (rows) => Number(rows[0]!.n)
          )
        // Many at once for one DID: each sees the others' rows, so the oldest are replaced, never piled up.
        yield* Effect.all(Array.from({ length: 12 }, () => Identities.challenge({ did: alice.did, purpose: "register" })), { concurrency: "unbounded", discard: true })
        assert.strictEqual(yield* openOf(alice.did), 2)
        // Many new DIDs at once: exactly the room left (4 in all, 2 taken) is given, the rest refused.
        const outcomes = yield* Effect.all(
          Array.from({ length: 12 }, (_, i) => Effect.either(Identities.challenge({ did: key(10 + i).did, purpose: "register" }))),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(outcomes.filter(Either.isRight).length, 2)
        const refused = outcomes.filter(Either.isLeft).map((outcome) => outcome.left)
        assert.deepStrictEqual(refused.map((error) => error._tag), Array(10).fill("ChallengeCapacityReached"))
        assert.deepStrictEqual(refused.map((error) => (error as ErrorCatalogue.ChallengeCapacityReached).limit), Array(10).fill(4))
        assert.strictEqual(yield* openOf(), 4)
      }).pipe(Effect.provide(Test({ identities: { maxOpenChallengesPerDid: 2, maxOpenChallenges: 4 } }))))

    it.effect("reads both bounds from IDENTITY_MAX_OPEN_CHALLENGES_PER_DID and IDENTITY_MAX_OPEN_CHALLENGES and refuses out-of-range ones", () =>
      Effect.gen(function* () {
        const read = (entries: ReadonlyArray<readonly [string, string]>) =>
          Effect.either(Effect.provide(Identities.IdentitySettings, Layer.provide(Identities.layer, Layer.setConfigProvider(ConfigProvider.fromMap(new Map(entries))))))
        const bounds = (s: Identities.Settings) => [s.maxOpenChallengesPerDid, s.maxOpenChallenges, s.maxLiveTokens]
        const settings = yield* read([["IDENTITY_MAX_OPEN_CHALLENGES_PER_DID", "3"], ["IDENTITY_MAX_OPEN_CHALLENGES", "500"], ["IDENTITY_MAX_LIVE_TOKENS", "7"]])
        assert.deepStrictEqual(Either.map(settings, bounds), Either.right([3, 500, 7]))
        assert.deepStrictEqual(Either.map(yield* read([]), bounds), Either.right([5, 10_000, 50]))
        for (const bad of [
          ["IDENTITY_MAX_OPEN_CHALLENGES_PER_DID", "0"], ["IDENTITY_MAX_OPEN_CHALLENGES", "99"], ["IDENTITY_MAX_OPEN_CHALLENGES", "many"],
          ["IDENTITY_MAX_LIVE_TOKENS", "0"], ["IDENTITY_MAX_LIVE_TOKENS", "1001"]
        ] as const) {
          assert.isTrue(Either.isLeft(yield* read([bad])), bad.join("="))
        }
      }))

    it.effect("registering again keeps maxLiveTokens live tokens per DID and role: the oldest is revoked as superseded, with its event and audit row", () =>
      Effect.gen(function* () {
        const first = yield* registerIdentity(alice, "worker")
        const second = yield* registerIdentity(alice, "worker")
        const asRequester = yield* registerIdentity(alice, "requester")
        const third = yield* registerIdentity(alice, "worker")
        const reason = (token: string) => Effect.map(failure(Tokens.authenticate(token)), (e) => (e as ErrorCatalogue.Unauthorized).reason)
        assert.strictEqual(yield* reason(first.auth.token), "revoked_token")
        for (const live of [second, asRequester, third]) assert.strictEqual((yield* Tokens.authenticate(live.auth.token)).token_id, live.auth.token_id)
        const events = (yield* Outbox.forSubject(alice.did)).filter((e) => e.type === "token.revoked")
        assert.deepStrictEqual(events.map((e) => [e.payload.token_id, e.payload.reason]), [[first.auth.token_id, "superseded"]])
        const audit = (yield* Audit.list({ entityId: first.auth.token_id, limit: 10 })).entries
        assert.deepStrictEqual(audit.map((a) => [a.actor, a.action]), [[alice.did, "token.revoke"]])
      }).pipe(Effect.provide(Test({ identities: { maxLiveTokens: 2 } }))))

    it("decodes its request strictly: a did:key, the register purpose, nothing else", () => {
      const decode = Schema.decodeUnknownEither(Identities.ChallengeRequest)
      assert.isTrue(Either.isRight(decode({ did: alice.did, purpose: "register" })))
      assert.isTrue(Either.isLeft(decode({ did: "did:web:example.com", purpose: "register" })))
      assert.isTrue(Either.isLeft(decode({ did: alice.did, purpose: "login" })))
      assert.isTrue(Either.isLeft(decode({ did: alice.did, purpose: "register", role: "operator" })))
    })
  })

  describe("Identities.register", () => {
    it.effect("registers a DID that signs its challenge: identity, consumed challenge, token, event, audit", () =>
      Effect.gen(function* () {
        const challenge = yield* Identities.challenge({ did: alice.did, purpose: "register" })
        const result = yield* Identities.register({
          did: alice.did,
          role: "worker",
          challenge_id: challenge.challenge_id,
          proof: answer(alice, challenge, "worker")
        })
        assert.strictEqual(result.did, alice.did)
        assert.strictEqual(result.role, "worker")
        assert.isTrue(result.created)
        assert.strictEqual(result.auth.mode, "token")
        assert.match(result.auth.token, /^cbt_worker_[A-Za-z0-9_-]{43}$/)

        const principal = yield* Tokens.authenticate(result.auth.token)
        assert.deepStrictEqual(principal, { did: alice.did, role: "worker", token_id: result.auth.token_id })
        assert.isTrue(yield* Identities.isRegistered(alice.did, "worker"))
        assert.isFalse(yield* Identities.isRegistered(alice.did, "requester"))

        const c = yield* counts
        assert.deepStrictEqual({ identities: c.identities, tokens: c.tokens, consumed: c.consumed }, { identities: 1, tokens: 1, consumed: 1 })
        const events = yield* Outbox.forSubject(alice.did)
        assert.deepStrictEqual(events.map((e) => e.type), ["identity.registered"])
        assert.deepStrictEqual(events[0]!.payload, {
          did: alice.did,
          role: "worker",
          challenge_id: challenge.challenge_id,
          token_id: result.auth.token_id
        })
        const audit = (yield* Audit.list({ entityId: alice.did, limit: 10 })).entries
        assert.deepStrictEqual(audit.map((a) => [a.actor, a.action]), [[alice.did, "identity.register"]])
        // Neither the event nor the audit row carries the token.
        assert.notInclude(JSON.stringify([events.map((e) => e.payload), audit]), result.auth.token)
      }).pipe(Effect.provide(Test())))

    it.effect("lets one DID hold both roles, each with its own token", () =>
      Effect.gen(function* () {
        const asWorker = yield* registerIdentity(alice, "worker")
        const asRequester = yield* registerIdentity(alice, "requester")
        assert.match(asRequester.auth.token, /^cbt_requester_/)
        assert.strictEqual((yield* Tokens.authenticate(asWorker.auth.token)).role, "worker")
        assert.strictEqual((yield* Tokens.authenticate(asRequester.auth.token)).role, "requester")
        assert.strictEqual((yield* counts).identities, 2)
      }).pipe(Effect.provide(Test())))

    it.effect("a second proof for a held role issues another token and keeps the identity (recovery)", () =>
      Effect.gen(function* () {
        const first = yield* registerIdentity(alice, "worker")
        const second = yield* registerIdentity(alice, "worker")
        assert.isFalse(second.created)
        assert.notStrictEqual(second.auth.token, first.auth.token)
        assert.strictEqual((yield* Tokens.authenticate(first.auth.token)).did, alice.did)
        assert.strictEqual((yield* Tokens.authenticate(second.auth.token)).did, alice.did)
        const c = yield* counts
        assert.deepStrictEqual({ identities: c.identities, tokens: c.tokens }, { identities: 1, tokens: 2 })
        // The owner hears of the second token too: one it did not ask for means its key is out.
        const events = yield* Outbox.forSubject(alice.did)
        assert.deepStrictEqual(events.map((e) => [e.type, e.payload.token_id]), [
          ["identity.registered", first.auth.token_id],
          ["token.issued", second.auth.token_id]
        ])
        const audit = (yield* Audit.list({ entityId: alice.did, limit: 10 })).entries
        assert.deepStrictEqual(audit.map((a) => a.action).sort(), ["identity.reauthenticate", "identity.register"])
      }).pipe(Effect.provide(Test())))

    it.effect("CHALLENGE_USED: a challenge answers once; replaying the same proof fails and writes nothing", () =>
      Effect.gen(function* () {
        const challenge = yield* Identities.challenge({ did: alice.did, purpose: "register" })
        const input = { did: alice.did, role: "worker" as const, challenge_id: challenge.challenge_id, proof: answer(alice, challenge, "worker") }
        yield* Identities.register(input)
        const before = yield* counts
        const error = yield* registerError(input)
        assertError(error, new ErrorCatalogue.ChallengeUsed({ challenge_id: challenge.challenge_id }))
        assert.deepStrictEqual(yield* counts, before)
        // Nor can the used challenge register the other role.
        const other = yield* registerError({ ...input, role: "requester", proof: answer(alice, challenge, "requester") })
        assert.strictEqual(other._tag, "ChallengeUsed")
      }).pipe(Effect.provide(Test())))

    it.effect("CHALLENGE_EXPIRED at the end of its lifetime (TestClock), valid one millisecond before", () =>
      Effect.gen(function* () {
        const late = yield* Identities.challenge({ did: alice.did, purpose: "register" })
        const onTime = yield* Identities.challenge({ did: alice.did, purpose: "register" })
        yield* TestClock.adjust(Duration.millis(5 * 60_000 - 1))
        yield* Identities.register({ did: alice.did, role: "worker", challenge_id: onTime.challenge_id, proof: answer(alice, onTime, "worker") })
        yield* TestClock.adjust(Duration.millis(1))
        const error = yield* registerError({ did: alice.did, role: "requester", challenge_id: late.challenge_id, proof: answer(alice, late, "requester") })
        assertError(error, new ErrorCatalogue.ChallengeExpired({ challenge_id: late.challenge_id, expired_at: "1970-01-01T00:05:00.000Z" }))
        assert.isFalse(yield* Identities.isRegistered(alice.did, "requester"))
      }).pipe(Effect.provide(Test())))

    it.effect("CHALLENGE_NOT_FOUND for an id never issued", () =>
      Effect.gen(function* () {
        const error = yield* registerError({
          did: alice.did,
          role: "worker",
          challenge_id: "chl_999999",
          proof: answer(alice, { challenge_id: "chl_999999", nonce: "x" }, "worker")
        })
        assertError(error, new ErrorCatalogue.ChallengeNotFound({ challenge_id: "chl_999999" }))
        yield* nothingWritten
      }).pipe(Effect.provide(Test())))

    it.effect("CHALLENGE_NOT_FOUND, not a database failure, for a challenge id no challenge can have (U+0000)", () =>
      Effect.gen(function* () {
        // Embedders call register directly: PostgreSQL fails on U+0000 in text, so such an id
        // must be refused before it reaches SQL.
        const challengeId = "chl_\u0000"
        const error = yield* registerError({
          did: alice.did,
          role: "worker",
          challenge_id: challengeId,
          proof: answer(alice, { challenge_id: challengeId, nonce: "x" }, "worker")
        })
        assert.strictEqual(error._tag, "ChallengeNotFound")
        yield* nothingWritten
      }).pipe(Effect.provide(Test())))

    it.effect("DID_MISMATCH: a challenge issued for another DID cannot register this one", () =>
      Effect.gen(function* () {
        const forMallory = yield* Identities.challenge({ did: mallory.did, purpose: "register" })
        const error = yield* registerError({
          did: alice.did,
          role: "worker",
          challenge_id: forMallory.challenge_id,
          proof: answer(alice, forMallory, "worker")
        })
        assertError(error, new ErrorCatalogue.DidMismatch({ expected_did: alice.did, actual_did: mallory.did, field: "challenge_id" }))
        yield* nothingWritten
      }).pipe(Effect.provide(Test())))

    it.effect("DID squat: Mallory asks a challenge for Alice's DID and signs it with her own key; nothing is written", () =>
      Effect.gen(function* () {
        const challenge = yield* Identities.challenge({ did: alice.did, purpose: "register" })
        // Honest about the signer: DID_MISMATCH before any crypto.
        const named = yield* registerError({
          did: alice.did,
          role: "worker",
          challenge_id: challenge.challenge_id,
          proof: answer(mallory, challenge, "worker")
        })
        assertError(named, new ErrorCatalogue.DidMismatch({ expected_did: alice.did, actual_did: mallory.did, field: "proof.signer_did" }))
        // Claiming to be Alice while signing with Mallory's key: the signature does not verify.
        const forged = yield* registerError({
          did: alice.did,
          role: "worker",
          challenge_id: challenge.challenge_id,
          proof: answer(alice, challenge, "worker", { signWith: mallory })
        })
        assert.strictEqual(forged._tag, "DidProofInvalid")
        assert.strictEqual((forged as ErrorCatalogue.DidProofInvalid).reason, "SIGNATURE_INVALID")
        assert.deepStrictEqual(ErrorCatalogue.toWire(forged).body.details, {
          reason: "SIGNATURE_INVALID",
          field: "signature_b64u"
        })
        yield* nothingWritten
        // The challenge was not burnt by the attempts: Alice can still answer it.
        const alices = yield* Identities.register({ did: alice.did, role: "worker", challenge_id: challenge.challenge_id, proof: answer(alice, challenge, "worker") })
        assert.isTrue(alices.created)
      }).pipe(Effect.provide(Test())))

    const proofCases: ReadonlyArray<readonly [string, string, (c: Identities.ChallengeResponse) => unknown]> = [
      ["a proof for the other role", "CHALLENGE_MISMATCH", (c) => answer(alice, c, "requester")],
      ["another nonce", "CHALLENGE_MISMATCH", (c) => answer(alice, c, "worker", { payload: { nonce: "bm9uY2U" } })],
      ["another audience", "CHALLENGE_MISMATCH", (c) => answer(alice, c, "worker", { payload: { audience: "elsewhere" } })],
      ["no audience", "CHALLENGE_MISMATCH", (c) => answer(alice, c, "worker", { payload: { audience: undefined } })],
      ["an ownership_proof message", "CHALLENGE_MISMATCH", (c) => answer(alice, c, "worker", { payload: { message_type: "ownership_proof" } })],
      ["a payload changed after signing", "HASH_MISMATCH", (c) => answer(alice, c, "worker", { tamper: { extra: 1 } })],
      ["an expired message", "EXPIRED", (c) => answer(alice, c, "worker", { payload: { expires_at: "1969-12-31T23:59:59.000Z" } })],
      ["a proof that is not an object", "MALFORMED_ENVELOPE", () => "signed, alice"],
      ["an envelope without a signature", "MALFORMED_ENVELOPE", (c) => {
        const { signature_b64u: _, ...rest } = answer(alice, c, "worker")
        return rest
      }],
      ["another envelope type", "UNKNOWN_ENVELOPE_TYPE", (c) => ({ ...answer(alice, c, "worker"), envelope_type: "artifact_signature" })]
    ]
    for (const [name, code, proof] of proofCases) {
      it.effect(`DID_PROOF_INVALID (${code}) for ${name}; nothing written`, () =>
        Effect.gen(function* () {
          const challenge = yield* Identities.challenge({ did: alice.did, purpose: "register" })
          const error = yield* registerError({ did: alice.did, role: "worker", challenge_id: challenge.challenge_id, proof: proof(challenge) })
          assert.strictEqual(error._tag, "DidProofInvalid")
          assert.strictEqual((error as ErrorCatalogue.DidProofInvalid).reason, code)
          assert.strictEqual(ErrorCatalogue.toWire(error).body.error, "DID_PROOF_INVALID")
          yield* nothingWritten
        }).pipe(Effect.provide(Test())))
    }

    it("decodes its request strictly: no operator role, no unknown fields, a did:key", () => {
      const decode = Schema.decodeUnknownEither(Identities.RegisterRequest)
      const base = { did: alice.did, role: "worker", challenge_id: "chl_000001", proof: {} }
      assert.isTrue(Either.isRight(decode(base)))
      assert.isTrue(Either.isLeft(decode({ ...base, role: "operator" })))
      assert.isTrue(Either.isLeft(decode({ ...base, extra: true })))
      assert.isTrue(Either.isLeft(decode({ ...base, did: "did:key:zNotAKey" })))
      assert.isTrue(Either.isLeft(decode({ ...base, challenge_id: "c".repeat(65) })))
    })

    it("maps every identity error to its stable code and status", () => {
      const wire = (e: ErrorCatalogue.EngineError) => {
        const w = ErrorCatalogue.toWire(e)
        return [w.body.error, w.status]
      }
      assert.deepStrictEqual(wire(new ErrorCatalogue.ChallengeNotFound({ challenge_id: "c" })), ["CHALLENGE_NOT_FOUND", 404])
      assert.deepStrictEqual(wire(new ErrorCatalogue.ChallengeExpired({ challenge_id: "c", expired_at: "t" })), ["CHALLENGE_EXPIRED", 410])
      assert.deepStrictEqual(wire(new ErrorCatalogue.ChallengeUsed({ challenge_id: "c" })), ["CHALLENGE_USED", 409])
      assert.deepStrictEqual(wire(new ErrorCatalogue.DidMismatch({ expected_did: "a", actual_did: "b", field: "f" })), ["DID_MISMATCH", 403])
      assert.deepStrictEqual(wire(new ErrorCatalogue.DidProofInvalid({ reason: "SIGNATURE_INVALID", message: "m" })), ["DID_PROOF_INVALID", 401])
      assert.deepStrictEqual(wire(new ErrorCatalogue.IdentityNotRegistered({ did: "a", role: "worker" })), ["IDENTITY_NOT_REGISTERED", 403])
      assert.deepStrictEqual(wire(new ErrorCatalogue.WorkerAlreadyRegistered({ worker_did: "a", worker_id: "w" })), ["WORKER_ALREADY_REGISTERED", 409])
    })

    it.effect("stores times as ISO-8601 from the Clock", () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(DateTime.toEpochMillis(DateTime.unsafeMake("2026-03-04T05:06:07.000Z")))
        yield* registerIdentity(alice, "requester")
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ registered_at: string }>`SELECT registered_at FROM identities`
        assert.strictEqual(rows[0]!.registered_at, "2026-03-04T05:06:07.000Z")
      }).pipe(Effect.provide(Test())))
  })

  describe("Identities.purgeExpired", () => {
    it.effect("deletes expired unanswered challenges only", () =>
      Effect.gen(function* () {
        const answered = yield* Identities.challenge({ did: alice.did, purpose: "register" })
        yield* Identities.register({ did: alice.did, role: "worker", challenge_id: answered.challenge_id, proof: answer(alice, answered, "worker") })
        const stale = yield* Identities.challenge({ did: alice.did, purpose: "register" })
        yield* TestClock.adjust(Duration.minutes(4))
        const fresh = yield* Identities.challenge({ did: alice.did, purpose: "register" })
        assert.strictEqual(yield* Identities.purgeExpired(), 0)
        yield* TestClock.adjust(Duration.minutes(1))
        assert.strictEqual(yield* Identities.purgeExpired(), 1)
        const sql = yield* SqlClient.SqlClient
        const left = yield* sql<{ challenge_id: string }>`SELECT challenge_id FROM identity_challenges ORDER BY challenge_id`
        assert.deepStrictEqual(left.map((r) => r.challenge_id), [answered.challenge_id, fresh.challenge_id])
        assert.notInclude(left.map((r) => r.challenge_id), stale.challenge_id)
        const error = yield* failure(Identities.register({ did: alice.did, role: "requester", challenge_id: stale.challenge_id, proof: answer(alice, stale, "requester") }))
        assert.strictEqual(error._tag, "ChallengeNotFound")
      }).pipe(Effect.provide(Test())))
  })

  describe("concurrency", () => {
    // Replicas purge side by side (ARCHITECTURE §7): one must not wait on the rows another holds.
    it.effect.skipIf(database.name === "sqlite")("a purge skips the expired challenges another transaction holds locked, and deletes the rest", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const held = yield* Identities.challenge({ did: alice.did, purpose: "register" })
        yield* Identities.challenge({ did: alice.did, purpose: "register" })
        yield* TestClock.adjust(Duration.minutes(6))
        const locked = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const holder = yield* Effect.fork(sql.withTransaction(Effect.gen(function* () {
          yield* sql`SELECT challenge_id FROM identity_challenges WHERE challenge_id = ${held.challenge_id} FOR UPDATE`
          yield* Deferred.succeed(locked, undefined)
          yield* Deferred.await(release)
        })))
        yield* Deferred.await(locked)
        const purge = yield* Effect.fork(Identities.purgeExpired())
        // Real time for the purge's statement to come back (a waiting purge never would).
        for (let waited = 0; waited < 3000 && Option.isNone(yield* Fiber.poll(purge)); waited += 50) {
          yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
        }
        const done = yield* Fiber.poll(purge)
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(holder)
        assert.isTrue(Option.isSome(done), "the purge waited on the locked challenge")
        assert.strictEqual(yield* Fiber.join(purge), 1)
        const left = yield* sql<{ challenge_id: string }>`SELECT challenge_id FROM identity_challenges`
        assert.deepStrictEqual(left.map((r) => r.challenge_id), [held.challenge_id])
      }).pipe(Effect.provide(Test())))

    it.effect("a purge racing a registration of an expiring challenge leaves the answered challenge alone", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const challenge = yield* Identities.challenge({ did: alice.did, purpose: "register" })
        const answered = yield* Deferred.make<void>()
        // The registration passes its expiry check, then holds its transaction open while the clock
        // moves past the expiry and the purge runs.
        const registration = yield* Effect.fork(sql.withTransaction(Effect.gen(function* () {
          const registered = yield* Identities.registerWithin({ did: alice.did, role: "worker", challenge_id: challenge.challenge_id, proof: answer(alice, challenge, "worker") })
          yield* Deferred.succeed(answered, undefined)
          yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 300)))
          return registered
        })))
        yield* Deferred.await(answered)
        yield* TestClock.adjust(Duration.minutes(6))
        assert.strictEqual(yield* Identities.purgeExpired(), 0)
        assert.isTrue((yield* Fiber.join(registration)).created)
        const left = yield* sql<{ challenge_id: string }>`SELECT challenge_id FROM identity_challenges`
        assert.deepStrictEqual(left.map((r) => r.challenge_id), [challenge.challenge_id])
      }).pipe(Effect.provide(Test())))

    it.effect("two concurrent answers to one challenge: exactly one registers, the other is CHALLENGE_USED", () =>
      Effect.gen(function* () {
        const challenge = yield* Identities.challenge({ did: alice.did, purpose: "register" })
        const attempt = Identities.register({
          did: alice.did,
          role: "worker",
          challenge_id: challenge.challenge_id,
          proof: answer(alice, challenge, "worker")
        })
        const outcomes = yield* Effect.all([Effect.either(attempt), Effect.either(attempt), Effect.either(attempt)], { concurrency: "unbounded" })
        const winners = outcomes.filter(Either.isRight)
        const losers = outcomes.filter(Either.isLeft).map((o) => o.left._tag)
        assert.strictEqual(winners.length, 1)
        assert.deepStrictEqual(losers, ["ChallengeUsed", "ChallengeUsed"])
        const c = yield* counts
        assert.deepStrictEqual({ identities: c.identities, tokens: c.tokens, consumed: c.consumed }, { identities: 1, tokens: 1, consumed: 1 })
      }).pipe(Effect.provide(Test())))
  })
})
}
