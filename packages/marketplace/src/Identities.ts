/**
 * Identities: a DID becomes a principal of the marketplace (as `worker` or `requester`) only by
 * proving control of its key, by signing a server-issued, expiring, single-use challenge.
 *
 * The protocol:
 * 1. `challenge({ did, purpose: "register" })` stores and returns `{ challenge_id, nonce, expires_at, ... }`
 *    (nonce: 32 bytes from {@link Entropy}, base64url; lifetime `IDENTITY_CHALLENGE_TTL`, default 5 minutes).
 *    A DID holds at most `IDENTITY_MAX_OPEN_CHALLENGES_PER_DID` open challenges (a new one replaces
 *    its oldest), the marketplace at most `IDENTITY_MAX_OPEN_CHALLENGES` (CHALLENGE_CAPACITY_REACHED).
 * 2. The DID's holder signs a `message_signature` envelope (envelope_version "1", Ed25519, SHA-256,
 *    `signer_did` = the DID) whose payload is
 *    ```
 *    { "message_version": "1", "message_type": "challenge_response",
 *      "message": "clawbounties:register:<challenge_id>:<nonce>:<role>",
 *      "nonce": "<nonce>", "audience": "clawbounties" }
 *    ```
 *    ({@link challengeMessage} builds the message). The role is inside the signed text, so a proof
 *    for `requester` cannot be replayed to register a `worker`, and the challenge id and nonce tie
 *    it to this one challenge.
 * 3. `register({ did, role, challenge_id, proof })` checks, in order: the challenge exists
 *    (CHALLENGE_NOT_FOUND), was issued for this DID (DID_MISMATCH), is unused (CHALLENGE_USED) and
 *    unexpired (CHALLENGE_EXPIRED); the proof is signed by this DID (DID_MISMATCH), then verifies
 *    strictly with `@clawbounties/verify` (DID_PROOF_INVALID with the verifier's code). Only then,
 *    in the same transaction: the challenge is consumed (a conditional UPDATE, so concurrent answers
 *    cannot both pass), the identity stored, a token issued, the event and the audit row written.
 *    Any failure rolls all of it back: a failed attempt writes nothing.
 *
 * Registering a DID that already holds the role keeps the identity and issues another token: a
 * key holder who lost a token recovers by proving control again (and may revoke the old one). A DID
 * keeps at most `IDENTITY_MAX_LIVE_TOKENS` live tokens per role: the oldest beyond it is revoked.
 */
import { SqlClient } from "@effect/sql"
import { Did, ErrorCatalogue, Ids } from "@clawbounties/domain"
import { Envelope } from "@clawbounties/verify"
import { Clock, Config, Context, DateTime, Duration, Effect, Layer, Schema } from "effect"
import * as Audit from "./Audit.js"
import { transaction } from "./Command.js"
import { Entropy } from "./Entropy.js"
import * as Outbox from "./Outbox.js"
import * as Requests from "./Requests.js"
import * as Tokens from "./Tokens.js"

/** Roles a DID can register for by proof (`operator` is configured, never self-registered). */
export const RegistrableRole = Schema.Literal("worker", "requester")
export type RegistrableRole = typeof RegistrableRole.Type

export const ChallengePurpose = Schema.Literal("register")
export type ChallengePurpose = typeof ChallengePurpose.Type

/** The `audience` a challenge response must name: a signature meant for another service is refused. */
export const AUDIENCE = "clawbounties"
export const MESSAGE_TYPE = "challenge_response"
const NONCE_BYTES = 32

/** The exact text the DID's key signs (inside the envelope payload's `message`). */
export const challengeMessage = (challengeId: string, nonce: string, role: RegistrableRole): string =>
  `clawbounties:register:${challengeId}:${nonce}:${role}`

// -------------------------------------------------------------------------------------------------
// Settings

export interface Settings {
  /** How long a challenge may be answered. */
  readonly challengeTtl: Duration.Duration
  /** Open (unanswered, unexpired) challenges one DID may hold; asking for more replaces the oldest. */
  readonly maxOpenChallengesPerDid: number
  /** Open challenges the whole marketplace may hold; past it a new one is `ChallengeCapacityReached`. */
  readonly maxOpenChallenges: number
  /** Live tokens one DID may hold per role; registering again revokes the oldest beyond it. */
  readonly maxLiveTokens: number
}

export const defaults: Settings = {
  challengeTtl: Duration.minutes(5),
  maxOpenChallengesPerDid: 5,
  maxOpenChallenges: 10_000,
  maxLiveTokens: 50
}

export class IdentitySettings extends Context.Tag("@clawbounties/marketplace/Identities/IdentitySettings")<
  IdentitySettings,
  Settings
>() {}

const integerBetween = (name: string, min: number, max: number, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: `${name} must be an integer between ${min} and ${max}`, validation: (n) => n >= min && n <= max }),
    Config.withDefault(fallback)
  )

/**
 * Reads `IDENTITY_CHALLENGE_TTL` (an Effect duration such as "5 minutes"; between 10 s and 1 hour),
 * `IDENTITY_MAX_OPEN_CHALLENGES_PER_DID` (1 to 100), `IDENTITY_MAX_OPEN_CHALLENGES` (100 to 1000000) and
 * `IDENTITY_MAX_LIVE_TOKENS` (1 to 1000).
 */
export const layer = Layer.effect(
  IdentitySettings,
  Config.all({
    challengeTtl: Config.duration("IDENTITY_CHALLENGE_TTL").pipe(
      Config.validate({
        message: "IDENTITY_CHALLENGE_TTL must be between 10 seconds and 1 hour",
        validation: (d) => Duration.between(d, { minimum: Duration.seconds(10), maximum: Duration.hours(1) })
      }),
      Config.withDefault(defaults.challengeTtl)
    ),
    maxOpenChallengesPerDid: integerBetween("IDENTITY_MAX_OPEN_CHALLENGES_PER_DID", 1, 100, defaults.maxOpenChallengesPerDid),
    maxOpenChallenges: integerBetween("IDENTITY_MAX_OPEN_CHALLENGES", 100, 1_000_000, defaults.maxOpenChallenges),
    maxLiveTokens: integerBetween("IDENTITY_MAX_LIVE_TOKENS", 1, 1000, defaults.maxLiveTokens)
  })
)

/** Fixed settings (tests, embedding). */
export const layerWith = (settings: Partial<Settings> = {}) =>
  Layer.succeed(IdentitySettings, { ...defaults, ...settings })

// -------------------------------------------------------------------------------------------------
// Wire schemas

const strict = { parseOptions: { onExcessProperty: "error" } } as const

export const ChallengeRequest = Schema.Struct({
  did: Did.DidKey,
  purpose: ChallengePurpose
}).annotations({ identifier: "ChallengeRequest", ...strict })
export type ChallengeRequest = typeof ChallengeRequest.Type

export const ChallengeResponse = Schema.Struct({
  challenge_id: Schema.String,
  did: Schema.String,
  purpose: ChallengePurpose,
  nonce: Schema.String,
  audience: Schema.String,
  message_type: Schema.String,
  /** The message to sign for each role (see {@link challengeMessage}). */
  messages: Schema.Struct({ worker: Schema.String, requester: Schema.String }),
  expires_at: Schema.String
}).annotations({ identifier: "ChallengeResponse" })
export type ChallengeResponse = typeof ChallengeResponse.Type

/** The proof is kept as the parsed JSON value: its payload hash is over `JSON.stringify` of it, untouched. */
export const Proof = Schema.Unknown.annotations({ description: "a message_signature envelope" })

export const RegisterRequest = Schema.Struct({
  did: Did.DidKey,
  role: RegistrableRole,
  challenge_id: Schema.String.pipe(Schema.maxLength(64)),
  proof: Proof
}).annotations({ identifier: "RegisterIdentityRequest", ...strict })
export type RegisterRequest = typeof RegisterRequest.Type

export const Auth = Schema.Struct({
  mode: Schema.Literal("token"),
  token: Schema.String,
  token_id: Schema.String
})

export const RegisterResponse = Schema.Struct({
  did: Schema.String,
  role: RegistrableRole,
  /** False when the DID already held the role (a new token was issued anyway). */
  created: Schema.Boolean,
  auth: Auth
}).annotations({ identifier: "RegisterIdentityResponse" })
export type RegisterResponse = typeof RegisterResponse.Type

// -------------------------------------------------------------------------------------------------
// Commands

const validChallenge = Requests.validate(ChallengeRequest)
const validRegister = Requests.validate(RegisterRequest)

/** The PostgreSQL advisory lock key that orders challenge issuance ("clawchal" in ASCII, as a bigint). */
const CHALLENGE_ISSUANCE_LOCK = "7164208272636404076"

/**
 * Issues and stores a challenge for `did`. Anyone may ask, so what they can store is bounded: a DID
 * holding `maxOpenChallengesPerDid` open challenges gets a new one in place of its oldest (replaced,
 * not refused, so nobody can lock a DID out of registering by asking for its challenges), and past
 * `maxOpenChallenges` open ones in all a new DID's request is `ChallengeCapacityReached`.
 */
export const challenge = Effect.fn("Identities.challenge")(function* (input: ChallengeRequest) {
  // Embedders call this directly: a typed input can still break its schema (a did:web, a purpose
  // the table's CHECK would refuse with a bare SqlError).
  yield* validChallenge(input)
  const sql = yield* SqlClient.SqlClient
  const ids = yield* Ids.IdGen
  const entropy = yield* Entropy
  const settings = yield* IdentitySettings
  const challengeId = yield* ids.make("challenge")
  const nonce = Buffer.from(yield* entropy.bytes(NONCE_BYTES)).toString("base64url")
  const now = yield* DateTime.now
  const nowIso = DateTime.formatIso(now)
  const expiresAt = DateTime.formatIso(DateTime.addDuration(now, settings.challengeTtl))
  // One transaction, and one at a time: on SQLite the single writer orders them; on PostgreSQL a
  // transaction-scoped advisory lock does, so each counts the rows the ones before it committed.
  // Without it two requests both saw room and both inserted, passing either bound (measured: a DID
  // held 4 open challenges under a bound of 2). Challenges are few and quick, so the queue is short.
  yield* transaction(Effect.gen(function* () {
    yield* sql.onDialectOrElse({
      pg: () => sql`SELECT pg_advisory_xact_lock(CAST(${CHALLENGE_ISSUANCE_LOCK} AS BIGINT))`,
      orElse: () => Effect.void
    })
    const open = yield* sql<{ readonly challenge_id: string }>`SELECT challenge_id FROM identity_challenges
      WHERE did = ${input.did} AND consumed_at IS NULL AND expires_at > ${nowIso}
      ORDER BY expires_at, challenge_id`
    const excess = open.length - settings.maxOpenChallengesPerDid + 1
    if (excess > 0) {
      // `consumed_at IS NULL` again: a challenge answered meanwhile is referred to by its identity.
      yield* sql`DELETE FROM identity_challenges
        WHERE consumed_at IS NULL AND ${sql.in("challenge_id", open.slice(0, excess).map((row) => row.challenge_id))}`
    } else {
      // Walks the open challenges' index: about 20 ns each on SQLite, so the ceiling keeps this
      // cheap too (no LIMIT needed: the count does not grow past the ceiling it is checked against).
      const counted = yield* sql<{ readonly n: number | string }>`SELECT COUNT(*) AS n FROM identity_challenges
        WHERE consumed_at IS NULL AND expires_at > ${nowIso}`
      if (Number(counted[0]!.n) >= settings.maxOpenChallenges) {
        return yield* new ErrorCatalogue.ChallengeCapacityReached({ limit: settings.maxOpenChallenges })
      }
    }
    yield* sql`INSERT INTO identity_challenges (challenge_id, did, purpose, nonce, created_at, expires_at)
      VALUES (${challengeId}, ${input.did}, ${input.purpose}, ${nonce}, ${nowIso}, ${expiresAt})`
  }))
  return {
    challenge_id: challengeId,
    did: input.did,
    purpose: input.purpose,
    nonce,
    audience: AUDIENCE,
    message_type: MESSAGE_TYPE,
    messages: {
      worker: challengeMessage(challengeId, nonce, "worker"),
      requester: challengeMessage(challengeId, nonce, "requester")
    },
    expires_at: expiresAt
  } satisfies ChallengeResponse
})

interface ChallengeRow {
  readonly challenge_id: string
  readonly did: string
  readonly purpose: string
  readonly nonce: string
  readonly expires_at: string
  readonly consumed_at: string | null
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * Verifies the proof, consumes the challenge, records the identity and issues a token, inside the
 * caller's transaction (no transaction of its own, so `Workers.register` can add the profile to the
 * same one). Use {@link register} unless you are composing a larger command.
 */
export const registerWithin = Effect.fn("Identities.registerWithin")(function* (input: RegisterRequest) {
  yield* validRegister(input)
  // An id not of the engine's form names no challenge, and must not reach SQL (PostgreSQL fails on U+0000).
  if (!Schema.is(Ids.ChallengeId)(input.challenge_id)) {
    return yield* new ErrorCatalogue.ChallengeNotFound({ challenge_id: input.challenge_id })
  }
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<ChallengeRow>`SELECT challenge_id, did, purpose, nonce, expires_at, consumed_at
    FROM identity_challenges WHERE challenge_id = ${input.challenge_id}`
  const row = rows[0]
  if (row === undefined || row.purpose !== "register") {
    return yield* new ErrorCatalogue.ChallengeNotFound({ challenge_id: input.challenge_id })
  }
  if (row.did !== input.did) {
    return yield* new ErrorCatalogue.DidMismatch({ expected_did: input.did, actual_did: row.did, field: "challenge_id" })
  }
  if (row.consumed_at !== null) return yield* new ErrorCatalogue.ChallengeUsed({ challenge_id: row.challenge_id })
  const nowMillis = yield* Clock.currentTimeMillis
  if (nowMillis >= DateTime.toEpochMillis(DateTime.unsafeMake(row.expires_at))) {
    return yield* new ErrorCatalogue.ChallengeExpired({ challenge_id: row.challenge_id, expired_at: row.expires_at })
  }

  // A proof signed by another DID is a squat attempt, named as such before any crypto runs.
  if (isRecord(input.proof) && typeof input.proof.signer_did === "string" && input.proof.signer_did !== input.did) {
    return yield* new ErrorCatalogue.DidMismatch({
      expected_did: input.did,
      actual_did: input.proof.signer_did,
      field: "proof.signer_did"
    })
  }
  const result = Envelope.verifyChallengeResponse(
    input.proof,
    {
      nonce: row.nonce,
      message: challengeMessage(row.challenge_id, row.nonce, input.role),
      audience: AUDIENCE,
      signerDid: input.did
    },
    { mode: "strict", verifyAt: nowMillis }
  )
  if (result.status !== "VALID") {
    return yield* new ErrorCatalogue.DidProofInvalid({
      reason: result.error?.code ?? "INVALID",
      message: result.error?.message ?? result.reason,
      field: result.error?.field
    })
  }
  // The verifier accepts any of the reference's message types; only a challenge response answers a
  // challenge (an `ownership_proof` signed for some other purpose must not register anyone).
  const payload = (input.proof as { readonly payload: Record<string, unknown> }).payload
  if (payload.message_type !== MESSAGE_TYPE) {
    return yield* new ErrorCatalogue.DidProofInvalid({
      reason: "CHALLENGE_MISMATCH",
      message: `The message_type must be ${MESSAGE_TYPE}`,
      field: "payload.message_type"
    })
  }

  const now = DateTime.formatIso(yield* DateTime.now)
  const consumed = yield* sql`UPDATE identity_challenges SET consumed_at = ${now}, consumed_role = ${input.role}
    WHERE challenge_id = ${row.challenge_id} AND consumed_at IS NULL RETURNING challenge_id`
  if (consumed.length === 0) return yield* new ErrorCatalogue.ChallengeUsed({ challenge_id: row.challenge_id })

  const inserted = yield* sql`INSERT INTO identities (did, role, challenge_id, registered_at)
    VALUES (${input.did}, ${input.role}, ${row.challenge_id}, ${now})
    ON CONFLICT DO NOTHING RETURNING did`
  const created = inserted.length > 0
  const issued = yield* Tokens.issue({ did: input.did, role: input.role })
  yield* Tokens.supersede({ did: input.did, role: input.role, keep: (yield* IdentitySettings).maxLiveTokens })
  // A new credential is news to its owner either way: a token it did not ask for is a stolen key.
  yield* Outbox.append({
    type: created ? "identity.registered" : "token.issued",
    subjectType: "identity",
    subjectId: input.did,
    recipients: [input.did],
    payload: { did: input.did, role: input.role, challenge_id: row.challenge_id, token_id: issued.token_id }
  })
  yield* Audit.record({
    actor: input.did,
    action: created ? "identity.register" : "identity.reauthenticate",
    entityType: "identity",
    entityId: input.did,
    before: created ? null : { did: input.did, role: input.role },
    after: { did: input.did, role: input.role, challenge_id: row.challenge_id, token_id: issued.token_id }
  })
  return {
    did: input.did,
    role: input.role,
    created,
    auth: { mode: "token", token: issued.token, token_id: issued.token_id }
  } satisfies RegisterResponse as RegisterResponse
})

/** Registers `did` for `role` by a challenge proof, in one transaction; returns a fresh token (shown once). */
export const register = Effect.fn("Identities.register")(function* (input: RegisterRequest) {
  return yield* transaction(registerWithin(input))
})

/** Whether `did` has proven control of its key for `role`. */
export const isRegistered = Effect.fn("Identities.isRegistered")(function* (did: string, role: RegistrableRole) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql`SELECT did FROM identities WHERE did = ${did} AND role = ${role}`
  return rows.length > 0
})

/**
 * Deletes challenges that expired unanswered (answered ones stay: identities reference them), at
 * most `limit` per call. For the scheduler's sweep: anyone may ask for challenges, so without this
 * the table only grows. Returns how many were deleted.
 */
export const purgeExpired = Effect.fn("Identities.purgeExpired")(function* (limit = 1000) {
  const sql = yield* SqlClient.SqlClient
  const now = DateTime.formatIso(yield* DateTime.now)
  // `consumed_at IS NULL` twice: on PostgreSQL a registration may answer a challenge the subquery
  // picked, and only the outer condition is checked again once its row lock is released (the
  // identity row refers to the challenge, so deleting it then would fail the sweep). Rows another
  // transaction holds (a registration, another replica's purge) are skipped, not waited on.
  const skipLocked = sql.onDialectOrElse({ pg: () => sql.literal("FOR UPDATE SKIP LOCKED"), orElse: () => sql.literal("") })
  const deleted = yield* sql`DELETE FROM identity_challenges WHERE consumed_at IS NULL AND challenge_id IN (
      SELECT challenge_id FROM identity_challenges
      WHERE consumed_at IS NULL AND expires_at <= ${now} ORDER BY expires_at, challenge_id LIMIT ${limit} ${skipLocked})
    RETURNING challenge_id`
  return deleted.length
})
