import { SqlClient } from "@effect/sql"
import * as Statement from "@effect/sql/Statement"
import { assert, describe, it } from "@effect/vitest"
import { ErrorCatalogue } from "@clawbounties/domain"
import { ConfigProvider, Effect, Either, Layer } from "effect"
import { createHash } from "node:crypto"
import * as Audit from "../src/Audit.js"
import * as Outbox from "../src/Outbox.js"
import * as Tokens from "../src/Tokens.js"
import { databases, failure, key, registerIdentity, TestLayer } from "./helpers/identity.js"

const alice = key(1)
const bob = key(2)

const OPERATOR_SECRET = "op-secret-0123456789-abcdefghijklmnop"
const operatorFromConfig = (token: string) =>
  Layer.provide(Tokens.layer, Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["OPERATOR_TOKEN", token]]))))

const reasonOf = (token: string) =>
  Effect.map(failure(Tokens.authenticate(token)), (e) => {
    assert.strictEqual(e._tag, "Unauthorized")
    return (e as ErrorCatalogue.Unauthorized).reason
  })

for (const database of databases("mkt_tokens")) {
describe(database.name, () => {
  const Test = (options: Omit<Parameters<typeof TestLayer>[0] & object, "database"> = {}) =>
    TestLayer({ ...options, database: database.layer })

  describe("Tokens", () => {
    it.effect("stores only the SHA-256 of a token: the raw token is nowhere in the tokens table", () =>
      Effect.gen(function* () {
        const { auth } = yield* registerIdentity(alice, "worker")
        const secret = auth.token.slice("cbt_worker_".length)
        assert.strictEqual(Buffer.from(secret, "base64url").length, 32)
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<Record<string, unknown>>`SELECT * FROM auth_tokens`
        assert.strictEqual(rows.length, 1)
        const everything = JSON.stringify(rows)
        assert.notInclude(everything, auth.token)
        assert.notInclude(everything, secret)
        assert.strictEqual(rows[0]!.token_hash, createHash("sha256").update(auth.token).digest("base64url"))
        assert.strictEqual(rows[0]!.token_hash, Tokens.hashToken(auth.token))
        // Nor in any event or audit row.
        const outbox = yield* sql<Record<string, unknown>>`SELECT * FROM outbox`
        const audit = yield* sql<Record<string, unknown>>`SELECT * FROM audit_log`
        assert.notInclude(JSON.stringify([outbox, audit], (_, v) => (typeof v === "bigint" ? v.toString() : v)), secret)
      }).pipe(Effect.provide(Test())))

    it.effect("authenticate: the principal of a live token; UNAUTHORIZED for empty, malformed and unknown ones", () =>
      Effect.gen(function* () {
        const { auth } = yield* registerIdentity(alice, "requester")
        assert.deepStrictEqual(yield* Tokens.authenticate(auth.token), { did: alice.did, role: "requester", token_id: auth.token_id })
        assert.strictEqual(yield* reasonOf(""), "missing_token")
        assert.strictEqual(yield* reasonOf("Bearer " + auth.token), "invalid_token")
        assert.strictEqual(yield* reasonOf(auth.token + "A"), "invalid_token")
        assert.strictEqual(yield* reasonOf(auth.token.slice(0, -1)), "invalid_token")
        // Well-formed but never issued.
        assert.strictEqual(yield* reasonOf("cbt_requester_" + "A".repeat(43)), "invalid_token")
        // The same secret under another role's prefix is a different token.
        assert.strictEqual(yield* reasonOf(auth.token.replace("cbt_requester_", "cbt_worker_")), "invalid_token")
        assert.strictEqual(yield* reasonOf(auth.token.replace("cbt_requester_", "cbt_operator_")), "invalid_token")
        assert.strictEqual(ErrorCatalogue.toWire(new ErrorCatalogue.Unauthorized({ reason: "invalid_token" })).status, 401)
      }).pipe(Effect.provide(Test())))

    it.effect("every issued token is different", () =>
      Effect.gen(function* () {
        const tokens = new Set<string>()
        for (let i = 0; i < 5; i++) tokens.add((yield* registerIdentity(alice, "worker")).auth.token)
        assert.strictEqual(tokens.size, 5)
      }).pipe(Effect.provide(Test())))

    it.effect("revoke: the token stops authenticating at once (revoked_token), with an event and an audit row", () =>
      Effect.gen(function* () {
        const { auth } = yield* registerIdentity(alice, "worker")
        const principal = yield* Tokens.authenticate(auth.token)
        const info = yield* Tokens.revoke(principal, { token_id: auth.token_id, reason: "laptop stolen" })
        assert.strictEqual(info.revoked_reason, "laptop stolen")
        assert.isNotNull(info.revoked_at)
        assert.strictEqual(yield* reasonOf(auth.token), "revoked_token")

        const events = (yield* Outbox.forSubject(alice.did)).filter((e) => e.type === "token.revoked")
        assert.deepStrictEqual(events.map((e) => e.payload), [
          { did: alice.did, role: "worker", token_id: auth.token_id, reason: "laptop stolen", revoked_by: alice.did, revoked_via: null }
        ])
        const audit = (yield* Audit.list({ entityId: auth.token_id, limit: 10 })).entries
        assert.deepStrictEqual(audit.map((a) => [a.actor, a.action]), [[alice.did, "token.revoke"]])

        // Revoking again succeeds and changes nothing.
        const again = yield* Tokens.revoke(principal, { token_id: auth.token_id })
        assert.strictEqual(again.revoked_reason, "laptop stolen")
        assert.strictEqual((yield* Outbox.forSubject(alice.did)).filter((e) => e.type === "token.revoked").length, 1)
      }).pipe(Effect.provide(Test())))

    it.effect("revoke: a token of another DID is NOT_FOUND (not even its existence leaks); an operator may revoke it", () =>
      Effect.gen(function* () {
        const alices = yield* registerIdentity(alice, "worker")
        const bobs = yield* registerIdentity(bob, "requester")
        const bobPrincipal = yield* Tokens.authenticate(bobs.auth.token)
        const error = yield* failure(Tokens.revoke(bobPrincipal, { token_id: alices.auth.token_id }))
        assert.deepStrictEqual(ErrorCatalogue.toWire(error).body.error, "NOT_FOUND")
        assert.strictEqual((yield* Tokens.authenticate(alices.auth.token)).did, alice.did)

        const operator = yield* Tokens.authenticate(OPERATOR_SECRET)
        yield* Tokens.revoke(operator, { token_id: alices.auth.token_id, reason: "abuse" })
        assert.strictEqual(yield* reasonOf(alices.auth.token), "revoked_token")
        const audit = (yield* Audit.list({ entityId: alices.auth.token_id, limit: 10 })).entries
        assert.deepStrictEqual(audit.map((a) => a.actor), ["operator"])
        // A reason is bounded.
        const long = yield* failure(Tokens.revoke(operator, { token_id: bobs.auth.token_id, reason: "x".repeat(201) }))
        assert.strictEqual(long._tag, "InvalidRequest")
        // An id not of the engine's form names no token (PostgreSQL cannot even compare U+0000).
        assert.strictEqual((yield* failure(Tokens.revoke(operator, { token_id: "tok_\u0000" })))._tag, "NotFound")
      }).pipe(Effect.provide(Test({ operator: operatorFromConfig(OPERATOR_SECRET) }))))

    it.effect("rotate: a new token for the same DID and role, the old one revoked as rotated, atomically", () =>
      Effect.gen(function* () {
        const { auth } = yield* registerIdentity(alice, "worker")
        const principal = yield* Tokens.authenticate(auth.token)
        const rotated = yield* Tokens.rotate(principal)
        assert.notStrictEqual(rotated.token, auth.token)
        assert.deepStrictEqual(yield* Tokens.authenticate(rotated.token), { did: alice.did, role: "worker", token_id: rotated.token_id })
        assert.strictEqual(yield* reasonOf(auth.token), "revoked_token")

        const infos = yield* Tokens.list(principal)
        const old = infos.find((t) => t.token_id === auth.token_id)!
        assert.strictEqual(old.revoked_reason, "rotated")
        assert.strictEqual(old.replaced_by, rotated.token_id)
        assert.notProperty(old, "token_hash")

        const events = (yield* Outbox.forSubject(alice.did)).filter((e) => e.type === "token.rotated")
        assert.deepStrictEqual(events.map((e) => e.payload), [
          { did: alice.did, role: "worker", token_id: auth.token_id, replaced_by: rotated.token_id }
        ])
        const audit = (yield* Audit.list({ entityId: auth.token_id, limit: 10 })).entries
        assert.deepStrictEqual(audit.map((a) => a.action), ["token.rotate"])

        // The revoked token's principal (captured before) cannot rotate again, and nothing is issued.
        const sql = yield* SqlClient.SqlClient
        const before = yield* sql`SELECT token_id FROM auth_tokens`
        assert.strictEqual(yield* Effect.map(failure(Tokens.rotate(principal)), (e) => (e as ErrorCatalogue.Unauthorized).reason), "revoked_token")
        assert.strictEqual((yield* sql`SELECT token_id FROM auth_tokens`).length, before.length)
      }).pipe(Effect.provide(Test())))

    it.effect("revoking a rotated token revokes its replacements: a thief who rotated a stolen token keeps nothing", () =>
      Effect.gen(function* () {
        const { auth } = yield* registerIdentity(alice, "worker")
        const stolen = yield* Tokens.authenticate(auth.token)
        const first = yield* Tokens.rotate(stolen)
        const second = yield* Tokens.rotate(yield* Tokens.authenticate(first.token))
        const info = yield* Tokens.revoke(stolen, { token_id: auth.token_id, reason: "stolen" })
        assert.strictEqual(info.revoked_reason, "rotated")
        assert.strictEqual(yield* reasonOf(first.token), "revoked_token")
        assert.strictEqual(yield* reasonOf(second.token), "revoked_token")
        const events = (yield* Outbox.forSubject(alice.did)).filter((e) => e.type === "token.revoked")
        assert.deepStrictEqual(events.map((e) => [e.payload.token_id, e.payload.reason, e.payload.revoked_via]), [[second.token_id, "stolen", auth.token_id]])
        // An unrelated token of the same DID stays live.
        const other = yield* registerIdentity(alice, "worker")
        yield* Tokens.revoke(stolen, { token_id: auth.token_id, reason: "again" })
        assert.strictEqual((yield* Tokens.authenticate(other.auth.token)).token_id, other.auth.token_id)
      }).pipe(Effect.provide(Test())))

    it.effect("revocation follows a rotation chain of any length: a thief cannot rotate past a cap", () =>
      Effect.gen(function* () {
        const { auth } = yield* registerIdentity(alice, "worker")
        const stolen = yield* Tokens.authenticate(auth.token)
        let latest = yield* Tokens.rotate(stolen)
        for (let i = 1; i < 1001; i++) latest = yield* Tokens.rotate(yield* Tokens.authenticate(latest.token))
        yield* Tokens.revoke(stolen, { token_id: auth.token_id, reason: "stolen" })
        assert.strictEqual(yield* reasonOf(latest.token), "revoked_token")
      }).pipe(Effect.provide(Test())), 60_000)

    // Counted on SQLite: PostgreSQL runs statements directly, past any statement transformer.
    it.effect.skipIf(database.name !== "sqlite")("revoking the head of a rotation chain costs the same however long the chain: rotations are cheap, so a walk per link let one caller hold the writer for seconds", () =>
      Effect.gen(function* () {
        /** Statements one revocation of `who`'s first token runs, after `rotations` rotations. */
        const statementsToRevoke = (who: typeof alice, rotations: number) =>
          Effect.gen(function* () {
            const { auth } = yield* registerIdentity(who, "worker")
            let principal = yield* Tokens.authenticate(auth.token)
            for (let i = 0; i < rotations; i++) principal = yield* Tokens.authenticate((yield* Tokens.rotate(principal)).token)
            let statements = 0
            yield* Tokens.revoke(principal, { token_id: auth.token_id }).pipe(
              Statement.withTransformer((statement) => Effect.sync(() => (statements++, statement)))
            )
            assert.strictEqual(yield* reasonOf(auth.token), "revoked_token")
            return statements
          })
        const short = yield* statementsToRevoke(alice, 1)
        const long = yield* statementsToRevoke(bob, 40)
        assert.isAbove(short, 0)
        assert.strictEqual(long, short)
      }).pipe(Effect.provide(Test())))

    it.effect("a rotation racing a revocation of the same token leaves no live token in the chain", () =>
      Effect.gen(function* () {
        for (let round = 0; round < 5; round++) {
          const { auth } = yield* registerIdentity(alice, "worker")
          const principal = yield* Tokens.authenticate(auth.token)
          const [rotated] = yield* Effect.all([
            Effect.either(Tokens.rotate(principal)),
            Tokens.revoke(principal, { token_id: auth.token_id, reason: "stolen" })
          ], { concurrency: "unbounded" })
          assert.strictEqual(yield* reasonOf(auth.token), "revoked_token")
          if (Either.isRight(rotated)) assert.strictEqual(yield* reasonOf(rotated.right.token), "revoked_token")
        }
      }).pipe(Effect.provide(Test())))

    it.effect("the configured operator token authenticates as the operator, compared by hash", () =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* Tokens.authenticate(OPERATOR_SECRET), { did: "operator", role: "operator", token_id: "operator" })
        assert.strictEqual(yield* reasonOf(OPERATOR_SECRET + "x"), "invalid_token")
        assert.strictEqual(yield* reasonOf(OPERATOR_SECRET.slice(0, -1)), "invalid_token")
        // It cannot be rotated through the API: it changes with the configuration.
        const error = yield* failure(Tokens.rotate(yield* Tokens.authenticate(OPERATOR_SECRET)))
        assert.strictEqual(ErrorCatalogue.toWire(error).body.error, "FORBIDDEN")
      }).pipe(Effect.provide(Test({ operator: operatorFromConfig(OPERATOR_SECRET) }))))

    it.effect("without OPERATOR_TOKEN nothing authenticates as the operator; a short one is refused at start-up", () =>
      Effect.gen(function* () {
        assert.strictEqual(yield* reasonOf(OPERATOR_SECRET), "invalid_token")
        const noConfig = yield* Layer.build(Layer.provide(Tokens.layer, Layer.setConfigProvider(ConfigProvider.fromMap(new Map())))).pipe(
          Effect.scoped,
          Effect.either
        )
        assert.isTrue(Either.isRight(noConfig))
        const short = yield* Layer.build(operatorFromConfig("short")).pipe(Effect.scoped, Effect.either)
        assert.isTrue(Either.isLeft(short))
        // A bearer token is one run of visible ASCII: one with a space, a line break or a
        // non-ASCII letter can never be presented in an Authorization header, so the server would
        // start with an operator token nobody can use.
        for (const unpresentable of [`${OPERATOR_SECRET} with spaces`, `${OPERATOR_SECRET}\n`, `${OPERATOR_SECRET}é`]) {
          const refused = yield* Layer.build(operatorFromConfig(unpresentable)).pipe(Effect.scoped, Effect.either)
          assert.isTrue(Either.isLeft(refused), JSON.stringify(unpresentable))
        }
      }).pipe(Effect.provide(Test())))

    it.effect("list shows the caller's tokens of every role, never another DID's", () =>
      Effect.gen(function* () {
        const w = yield* registerIdentity(alice, "worker")
        const r = yield* registerIdentity(alice, "requester")
        yield* registerIdentity(bob, "worker")
        const infos = yield* Tokens.list(yield* Tokens.authenticate(w.auth.token))
        assert.deepStrictEqual(infos.map((t) => [t.token_id, t.role]), [[w.auth.token_id, "worker"], [r.auth.token_id, "requester"]])
      }).pipe(Effect.provide(Test())))
  })

  describe("concurrency", () => {
    it.effect("two concurrent rotations of one token: one new token, the other attempt is revoked_token", () =>
      Effect.gen(function* () {
        const { auth } = yield* registerIdentity(alice, "worker")
        const principal = yield* Tokens.authenticate(auth.token)
        const outcomes = yield* Effect.all([Effect.either(Tokens.rotate(principal)), Effect.either(Tokens.rotate(principal))], {
          concurrency: "unbounded"
        })
        const winners = outcomes.filter(Either.isRight).map((o) => o.right)
        assert.strictEqual(winners.length, 1)
        const loser = outcomes.find(Either.isLeft)!.left
        assert.strictEqual((loser as ErrorCatalogue.Unauthorized).reason, "revoked_token")
        const infos = yield* Tokens.list(principal)
        assert.deepStrictEqual(infos.map((t) => [t.token_id, t.revoked_at === null]), [[auth.token_id, false], [winners[0]!.token_id, true]])
      }).pipe(Effect.provide(Test())))
  })
})
}
