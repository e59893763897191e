/**
 * Test helpers for identities, tokens and workers: a fresh SQLite `:memory:` database with the
 * marketplace migrations, deterministic ids and entropy, Ed25519 keys from fixed seeds, and a
 * builder of `message_signature` challenge answers (honest or tampered).
 */
import { SqlClient } from "@effect/sql"
import * as Migrator from "@effect/sql/Migrator"
import { SqlError } from "@effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import { afterAll, beforeAll } from "vitest"
import { Postgres } from "@clawbounties/adapter-postgres"
import * as SqliteClient from "@clawbounties/adapter-sqlite/SqliteClient"
import { Did, Ids } from "@clawbounties/domain"
import { Base64Url, Ed25519, Hash } from "@clawbounties/verify"
import { type Context, Duration, Effect, Exit, Layer, Redacted, Scope } from "effect"
import type { ConfigError } from "effect/ConfigError"
import { Entropy } from "../../src/Entropy.js"
import { EventSignals } from "../../src/EventSignals.js"
import * as Identities from "../../src/Identities.js"
import events from "../../src/migrations/0001_events.js"
import identities from "../../src/migrations/0002_identities.js"
import openChallenges from "../../src/migrations/0008_open_challenges.js"
import tokenLineage from "../../src/migrations/0009_token_lineage.js"
import tokenListing from "../../src/migrations/0010_token_listing.js"
import webhooks from "../../src/migrations/0011_webhooks.js"
import * as Tokens from "../../src/Tokens.js"

export const migrations = Migrator.make({})({
  loader: Migrator.fromRecord({
    "0001_events": events,
    "0002_identities": identities,
    "0008_open_challenges": openChallenges,
    "0009_token_lineage": tokenLineage,
    "0010_token_listing": tokenListing,
    // Every command that records an event looks for the recipients' webhook endpoints.
    "0011_webhooks": webhooks
  }),
  table: "marketplace_migrations"
})

/** A fresh in-memory database, migrated. */
export const SqliteMemory = Layer.effectDiscard(migrations).pipe(
  Layer.provideMerge(SqliteClient.layer({ filename: ":memory:" })),
  Layer.orDie
)

/** Everything the identity modules need; a fresh database each time it is provided. */
export const TestLayer = (
  options: {
    readonly operator?: Layer.Layer<Tokens.OperatorToken, ConfigError>
    readonly database?: Layer.Layer<SqlClient.SqlClient>
    readonly identities?: Partial<Identities.Settings>
  } = {}
) =>
  Layer.mergeAll(
    options.database ?? SqliteMemory,
    Ids.IdGen.layerCounter,
    Entropy.layerSeeded,
    Identities.layerWith(options.identities),
    Layer.orDie(options.operator ?? Tokens.layerNoOperator),
    EventSignals.layer
  )

export interface Key {
  readonly did: Did.DidKey
  readonly keyPair: Ed25519.KeyPair
}

/** A key pair from a one-byte seed pattern: `key(1)` and `key(2)` are different principals. */
export const key = (n: number): Key => {
  const keyPair = Ed25519.keyPairFromSeed(new Uint8Array(32).fill(n))
  return { did: Did.fromPublicKey(keyPair.publicKey), keyPair }
}

export interface AnswerOptions {
  /** Sign with this key instead of the DID's own (a forgery: the signature will not verify). */
  readonly signWith?: Key
  /** Put this DID in `signer_did` (and sign with its key unless `signWith` is set). */
  readonly signerDid?: string
  /** Fields to override in the payload before hashing and signing. */
  readonly payload?: Record<string, unknown>
  /** Change the payload after signing (the hash no longer matches). */
  readonly tamper?: Record<string, unknown>
  readonly issuedAt?: string
}

/** Builds a `message_signature` envelope answering `challenge` for `role`. */
export const answer = (
  signer: Key,
  challenge: { readonly challenge_id: string; readonly nonce: string },
  role: Identities.RegistrableRole,
  options: AnswerOptions = {}
): Record<string, unknown> => {
  const payload: Record<string, unknown> = {
    message_version: "1",
    message_type: Identities.MESSAGE_TYPE,
    message: Identities.challengeMessage(challenge.challenge_id, challenge.nonce, role),
    nonce: challenge.nonce,
    audience: Identities.AUDIENCE,
    ...options.payload
  }
  const payloadHash = Hash.jsonHashB64u(payload)!
  const signingKey = options.signWith ?? signer
  const signature = Ed25519.sign(signingKey.keyPair, Hash.utf8(payloadHash))
  return {
    envelope_version: "1",
    envelope_type: "message_signature",
    payload: options.tamper === undefined ? payload : { ...payload, ...options.tamper },
    payload_hash_b64u: payloadHash,
    hash_algorithm: "SHA-256",
    signature_b64u: Base64Url.encode(signature),
    algorithm: "Ed25519",
    signer_did: options.signerDid ?? signer.did,
    issued_at: options.issuedAt ?? "1970-01-01T00:00:00.000Z"
  }
}

/** Challenge + honest answer + register: the DID's token for `role`. */
export const registerIdentity = (who: Key, role: Identities.RegistrableRole) =>
  Effect.gen(function* () {
    const challenge = yield* Identities.challenge({ did: who.did, purpose: "register" })
    return yield* Identities.register({
      did: who.did,
      role,
      challenge_id: challenge.challenge_id,
      proof: answer(who, challenge, role)
    })
  })

/** Row counts of every table a registration could touch. */
export const counts = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const count = (table: string) =>
    Effect.map(sql.unsafe<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table}`), (rows) => Number(rows[0]!.n))
  return {
    identities: yield* count("identities"),
    tokens: yield* count("auth_tokens"),
    workers: yield* count("workers"),
    job_types: yield* count("worker_job_types"),
    tags: yield* count("worker_tags"),
    outbox: yield* count("outbox"),
    audit: yield* count("audit_log"),
    consumed: yield* Effect.map(
      sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM identity_challenges WHERE consumed_at IS NOT NULL`,
      (rows) => Number(rows[0]!.n)
    )
  }
})

/**
 * The typed failure of a command that must fail (the test fails if it succeeds). A database error
 * is not an expected outcome of any of these tests, so it becomes a defect.
 */
export const failure = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<Exclude<E, SqlError>, never, R> =>
  Effect.flip(
    self.pipe(
      Effect.flatMap(() => Effect.dieMessage("expected the command to fail, but it succeeded")),
      Effect.catchAll((e) => (e instanceof SqlError ? Effect.die(e) : Effect.fail(e as Exclude<E, SqlError>)))
    )
  )

// -------------------------------------------------------------------------------------------------
// PostgreSQL: one database per test file (created in beforeAll, dropped in afterAll), emptied before
// each test, so the same tests run on both databases at a fraction of a fresh database's cost.

const pgAdminUrl = (): string => process.env.PG_TEST_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"

const pgAdmin = (statement: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)).pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(pgAdminUrl()), maxConnections: 1, connectTimeout: Duration.seconds(3) })),
    Effect.asVoid
  )

/** Whether PostgreSQL tests run here; unreachable under `CI=true` is an error, never a skip. */
export const postgres: { readonly available: boolean; readonly reason: string } = await Effect.runPromise(
  Effect.either(pgAdmin("SELECT 1"))
).then((outcome) => {
  if (outcome._tag === "Right") return { available: true, reason: "" }
  const reason = `(skipped: PostgreSQL unreachable at ${pgAdminUrl()})`
  if (process.env.CI === "true") throw new Error(`CI=true requires PostgreSQL ${reason}`)
  return { available: false, reason }
})

const tables = [
  "worker_tags", "worker_job_types", "workers", "auth_tokens", "identities", "identity_challenges",
  "outbox_recipients", "outbox", "audit_log", "command_idempotency"
]

/**
 * Registers the per-file database hooks and returns the database layer for `TestLayer`: the
 * migrated schema, emptied before each use.
 */
export const postgresDatabase = (prefix: string): Layer.Layer<SqlClient.SqlClient> => {
  const name = `${prefix}_${Math.random().toString(36).slice(2, 10)}`
  const parsed = new URL(pgAdminUrl())
  parsed.pathname = `/${name}`
  // The production client (prepared statements, direct execution), with this file's own migrations.
  const client = Postgres.layer({ url: parsed.toString(), migrations: [], maxConnections: 4 })
  // One pool for the whole file, built in beforeAll and closed in afterAll.
  let pool: { readonly scope: Scope.CloseableScope; readonly context: Context.Context<SqlClient.SqlClient> } | undefined
  beforeAll(() => Effect.runPromise(Effect.gen(function* () {
    yield* pgAdmin(`CREATE DATABASE ${name}`)
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(client, scope)
    yield* Effect.provide(migrations, context)
    pool = { scope, context }
  })))
  afterAll(() => Effect.runPromise(Effect.gen(function* () {
    if (pool !== undefined) yield* Scope.close(pool.scope, Exit.void)
    yield* Effect.ignore(pgAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  })))
  // DELETE in foreign-key order: on tables this small it is much faster than TRUNCATE.
  const empty = Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.forEach(tables, (table) => sql.unsafe(`DELETE FROM ${table}`)))
  return Layer.effectDiscard(empty).pipe(
    Layer.provideMerge(Layer.effectContext(Effect.suspend(() =>
      pool === undefined ? Effect.dieMessage("the PostgreSQL test database was not created") : Effect.succeed(pool.context)
    ))),
    Layer.orDie
  )
}

/**
 * The databases the suites run on: SQLite (a fresh `:memory:` per test) always, PostgreSQL (one
 * database per file, emptied per test) when reachable. Call at the top level of a test file.
 */
export const databases = (prefix: string): ReadonlyArray<{ readonly name: string; readonly layer: Layer.Layer<SqlClient.SqlClient> }> => [
  { name: "sqlite", layer: SqliteMemory },
  ...(postgres.available ? [{ name: "postgres", layer: postgresDatabase(prefix) }] : [])
]
