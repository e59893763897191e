/**
 * Worker profiles (spec B2, B3 `POST /v1/workers/register`, `GET /v1/workers`).
 *
 * A worker profile belongs to a DID that proved control of its key for the `worker` role (see
 * Identities). {@link register} is the HTTP route's command: it verifies the challenge proof,
 * records the identity, creates the profile and issues the worker's token in ONE transaction, so a
 * failed proof (a squat attempt) leaves no row behind. {@link registerProfile} adds a profile for a
 * DID that registered its worker identity earlier (authenticated by its worker token).
 *
 * Profiles are stored as canonical JSON documents; the fields listings filter on (status, job types,
 * tags) have a column or a join table, so `list` is plain indexed SQL on both databases.
 */
import { SqlClient } from "@effect/sql"
import { Did, ErrorCatalogue, Ids, Money, Text as StoredText } from "@clawbounties/domain"
import { DateTime, Effect, Option, Schema } from "effect"
import { type Actor, requireRole } from "./Actor.js"
import * as Audit from "./Audit.js"
import { transaction } from "./Command.js"
import * as Cursor from "./Cursor.js"
import * as Identities from "./Identities.js"
import * as Json from "./Json.js"
import * as Outbox from "./Outbox.js"
import { PageLimit, validate } from "./Requests.js"

// -------------------------------------------------------------------------------------------------
// Wire schemas

const strict = { parseOptions: { onExcessProperty: "error" } } as const

const untrimmed = /^\s|\s$/

/** Text of 1..max characters: no control characters or unpaired surrogates, not padded with whitespace. */
const Text = (max: number) =>
  Schema.String.pipe(
    Schema.minLength(1),
    Schema.maxLength(max),
    Schema.filter((s) =>
      !StoredText.isPlain(s) ? "must not contain control characters or an unpaired surrogate"
        : untrimmed.test(s) ? "must not start or end with whitespace"
        : true
    )
  )

/** An array of at most `max` items, unique ignoring case. */
const UniqueList = <A extends string, I>(item: Schema.Schema<A, I>, max: number, what: string) =>
  Schema.Array(item).pipe(
    Schema.maxItems(max),
    Schema.filter((items) =>
      new Set(items.map((i) => i.toLowerCase())).size === items.length || `${what} must be unique (ignoring case)`
    )
  )

export const JobType = Schema.Literal("code", "research", "agent_pack")
export type JobType = typeof JobType.Type

export const Status = Schema.Literal("online", "offline", "paused")
export type Status = typeof Status.Type

export const MAX_TAGS = 20
export const MAX_TAG_LENGTH = 50

export const Listing = Schema.Struct({
  name: Text(100),
  headline: Schema.optional(Text(200)),
  tags: Schema.optionalWith(UniqueList(Text(MAX_TAG_LENGTH), MAX_TAGS, "tags"), { default: () => [] })
}).annotations({ identifier: "WorkerListing", ...strict })

export const Capabilities = Schema.Struct({
  job_types: UniqueList(JobType, 3, "job_types").pipe(Schema.minItems(1)),
  languages: Schema.optionalWith(UniqueList(Text(32), 20, "languages"), { default: () => [] }),
  /** The longest job, in minutes, the worker takes on. */
  max_minutes: Schema.optional(Schema.Int.pipe(Schema.between(1, 10_080)))
}).annotations({ identifier: "WorkerCapabilities", ...strict })

export const McpServer = Schema.Struct({
  name: Text(100),
  description: Schema.optional(Text(500)),
  url: Schema.optional(Text(500))
}).annotations({ identifier: "McpServer", ...strict })

/** Advertising only in the MVP: access happens through bounties, never directly. */
export const Offers = Schema.Struct({
  skills: Schema.optionalWith(UniqueList(Text(100), 50, "skills"), { default: () => [] }),
  mcp: Schema.optionalWith(Schema.Array(McpServer).pipe(Schema.maxItems(20)), { default: () => [] })
}).annotations({ identifier: "WorkerOffers", ...strict })

export const Pricing = Schema.Struct({
  /** The smallest reward (minor units) the worker accepts. */
  price_floor_minor: Money.AmountMinor
}).annotations({ identifier: "WorkerPricing", ...strict })

export const Availability = Schema.Struct({
  mode: Schema.Literal("manual", "scheduled"),
  paused: Schema.Boolean,
  max_minutes_per_day: Schema.optional(Schema.Int.pipe(Schema.between(1, 1440)))
}).annotations({ identifier: "WorkerAvailability", ...strict })

const defaultOffers = () => ({ skills: [], mcp: [] })
const defaultPricing = () => ({ price_floor_minor: 0n })
const defaultAvailability = () => ({ mode: "manual" as const, paused: false })

const profileFields = {
  worker_version: Schema.optional(Text(100)),
  listing: Listing,
  capabilities: Capabilities,
  offers: Schema.optionalWith(Offers, { default: defaultOffers }),
  pricing: Schema.optionalWith(Pricing, { default: defaultPricing }),
  availability: Schema.optionalWith(Availability, { default: defaultAvailability })
}

/** A worker profile as submitted (without the DID and the proof). */
export const WorkerProfile = Schema.Struct(profileFields).annotations({ identifier: "WorkerProfile", ...strict })
export type WorkerProfile = typeof WorkerProfile.Type

/**
 * `POST /v1/workers/register`: the spec's request plus the challenge answer (see Identities for
 * the challenge protocol and the exact signed message, with role `worker`).
 */
export const RegisterWorkerRequest = Schema.Struct({
  worker_did: Did.DidKey,
  challenge_id: Schema.String.pipe(Schema.maxLength(64)),
  proof: Identities.Proof,
  ...profileFields
}).annotations({ identifier: "RegisterWorkerRequest", ...strict })
export type RegisterWorkerRequest = typeof RegisterWorkerRequest.Type

export const RegisterWorkerResponse = Schema.Struct({
  worker_id: Schema.String,
  worker_did: Schema.String,
  /** False when the DID already had a profile: it proved control again and got a new token. */
  created: Schema.Boolean,
  auth: Identities.Auth
}).annotations({ identifier: "RegisterWorkerResponse" })
export type RegisterWorkerResponse = typeof RegisterWorkerResponse.Type

/** A worker as the API shows it (spec `GET /v1/workers` item, plus availability and timestamps). */
export const Worker = Schema.Struct({
  worker_id: Schema.String,
  worker_did: Schema.String,
  status: Status,
  worker_version: Schema.optional(Schema.String),
  listing: Listing,
  capabilities: Capabilities,
  offers: Offers,
  pricing: Pricing,
  availability: Availability,
  created_at: Schema.String,
  updated_at: Schema.String
}).annotations({ identifier: "Worker" })
export type Worker = typeof Worker.Type

/**
 * `PATCH` of the caller's profile: each present top-level field replaces the stored one. `status`
 * and `availability.paused` are kept consistent: pausing sets both, resuming clears both.
 */
export const UpdateWorkerRequest = Schema.Struct({
  status: Schema.optional(Status),
  worker_version: Schema.optional(Text(100)),
  listing: Schema.optional(Listing),
  capabilities: Schema.optional(Capabilities),
  offers: Schema.optional(Offers),
  pricing: Schema.optional(Pricing),
  availability: Schema.optional(Availability)
}).pipe(
  Schema.filter((patch) => Object.values(patch).some((v) => v !== undefined) || "at least one field must be given")
).annotations({ identifier: "UpdateWorkerRequest", ...strict })
export type UpdateWorkerRequest = typeof UpdateWorkerRequest.Type

export const DEFAULT_LIST_LIMIT = 50
export const MAX_LIST_LIMIT = 100

/** `GET /v1/workers` query (strings on the wire: `limit` is decoded from its digits). */
export const ListWorkersQuery = Schema.Struct({
  job_type: Schema.optional(JobType),
  tag: Schema.optional(Text(MAX_TAG_LENGTH)),
  status: Schema.optional(Status),
  limit: Schema.optional(PageLimit(MAX_LIST_LIMIT)),
  cursor: Schema.optional(Schema.String.pipe(Schema.maxLength(200)))
}).annotations({ identifier: "ListWorkersQuery", ...strict })
export type ListWorkersQuery = typeof ListWorkersQuery.Type

export const ListWorkersResponse = Schema.Struct({
  workers: Schema.Array(Worker),
  /** Pass as `cursor` for the next page; null on the last page. */
  next_cursor: Schema.NullOr(Schema.String)
}).annotations({ identifier: "ListWorkersResponse" })
export type ListWorkersResponse = typeof ListWorkersResponse.Type

// -------------------------------------------------------------------------------------------------
// Storage

interface WorkerRow {
  readonly worker_id: string
  readonly worker_did: string
  readonly status: string
  readonly worker_version: string | null
  readonly listing: string
  readonly capabilities: string
  readonly offers: string
  readonly availability: string
  readonly price_floor_minor: unknown
  readonly created_at: string
  readonly updated_at: string
}

const columns = "worker_id, worker_did, status, worker_version, listing, capabilities, offers, availability, price_floor_minor, created_at, updated_at"

/** Stored documents were encoded by these schemas; one that no longer decodes is a corrupt row (a defect). */
const fromRow = (row: WorkerRow): Effect.Effect<Worker> =>
  Effect.orDie(Schema.decodeUnknown(Worker)({
    worker_id: row.worker_id,
    worker_did: row.worker_did,
    status: row.status,
    ...(row.worker_version === null ? {} : { worker_version: row.worker_version }),
    listing: JSON.parse(row.listing),
    capabilities: JSON.parse(row.capabilities),
    offers: JSON.parse(row.offers),
    pricing: { price_floor_minor: Money.fromDb(row.price_floor_minor).toString() },
    availability: JSON.parse(row.availability),
    created_at: row.created_at,
    updated_at: row.updated_at
  }))

const encodeDoc = <A, I>(schema: Schema.Schema<A, I>, value: A): Effect.Effect<string> =>
  Effect.map(Effect.orDie(Schema.encode(schema)(value)), Json.canonical)

/** The wire form of a worker (for events, audit and HTTP responses). */
export const toWire = (worker: Worker): Effect.Effect<typeof Worker.Encoded> => Effect.orDie(Schema.encode(Worker)(worker))

const statusFor = (availability: typeof Availability.Type): Status => (availability.paused ? "paused" : "online")

const writeJoins = Effect.fn("Workers.writeJoins")(function* (workerId: string, worker: Pick<Worker, "capabilities" | "listing">) {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DELETE FROM worker_job_types WHERE worker_id = ${workerId}`
  yield* sql`DELETE FROM worker_tags WHERE worker_id = ${workerId}`
  for (const jobType of worker.capabilities.job_types) {
    yield* sql`INSERT INTO worker_job_types (worker_id, job_type) VALUES (${workerId}, ${jobType})`
  }
  // Tags are unique ignoring case (checked when decoded), so their lower-case forms are unique too.
  for (const tag of worker.listing.tags) {
    yield* sql`INSERT INTO worker_tags (worker_id, tag) VALUES (${workerId}, ${tag.toLowerCase()})`
  }
})

/** Creates the profile of `did` inside the caller's transaction. */
const createWithin = Effect.fn("Workers.createWithin")(function* (did: string, profile: WorkerProfile) {
  const sql = yield* SqlClient.SqlClient
  const ids = yield* Ids.IdGen
  const workerId = yield* ids.make("worker")
  const now = DateTime.formatIso(yield* DateTime.now)
  const status = statusFor(profile.availability)
  const inserted = yield* sql`INSERT INTO workers (worker_id, worker_did, status, worker_version, listing, capabilities, offers, availability, price_floor_minor, created_at, updated_at)
    VALUES (${workerId}, ${did}, ${status}, ${profile.worker_version ?? null},
      ${yield* encodeDoc(Listing, profile.listing)}, ${yield* encodeDoc(Capabilities, profile.capabilities)},
      ${yield* encodeDoc(Offers, profile.offers)}, ${yield* encodeDoc(Availability, profile.availability)},
      ${profile.pricing.price_floor_minor}, ${now}, ${now})
    ON CONFLICT DO NOTHING RETURNING worker_id`
  if (inserted.length === 0) {
    // The DID has a profile (possibly committed by a concurrent registration a moment ago).
    const existing = yield* sql<{ worker_id: string }>`SELECT worker_id FROM workers WHERE worker_did = ${did}`
    return yield* new ErrorCatalogue.WorkerAlreadyRegistered({ worker_did: did, worker_id: existing[0]?.worker_id ?? "" })
  }
  const worker: Worker = {
    worker_id: workerId,
    worker_did: did,
    status,
    ...(profile.worker_version === undefined ? {} : { worker_version: profile.worker_version }),
    listing: profile.listing,
    capabilities: profile.capabilities,
    offers: profile.offers,
    pricing: profile.pricing,
    availability: profile.availability,
    created_at: now,
    updated_at: now
  }
  yield* writeJoins(workerId, worker)
  const wire = yield* toWire(worker)
  yield* Outbox.append({
    type: "worker.registered",
    subjectType: "worker",
    subjectId: workerId,
    recipients: [did],
    payload: { worker_id: workerId, worker_did: did, status, job_types: worker.capabilities.job_types }
  })
  yield* Audit.record({ actor: did, action: "worker.register", entityType: "worker", entityId: workerId, before: null, after: wire })
  return worker
})

// -------------------------------------------------------------------------------------------------
// Commands and queries

/**
 * `POST /v1/workers/register`: proves control of `worker_did` with the challenge answer, records
 * the worker identity, creates the profile and issues a worker token, all in one transaction.
 *
 * A DID that already has a profile proves control again and gets a new token (`created: false`),
 * its profile unchanged (`PATCH /v1/workers/self` changes it): a worker who lost or revoked its
 * token would otherwise be locked out of its role for good. Errors: the Identities registration
 * errors (CHALLENGE_*, DID_MISMATCH, DID_PROOF_INVALID), and WORKER_ALREADY_REGISTERED when a
 * concurrent registration created the profile first. Nothing is written unless everything succeeds.
 */
// Embedders call these directly: a typed input can still break its schema (a 5,000-character
// version, tags equal but for case), and it must be refused before it is stored.
const validRegister = validate(RegisterWorkerRequest)
const validProfile = validate(WorkerProfile)
const validUpdate = validate(UpdateWorkerRequest)

export const register = Effect.fn("Workers.register")(function* (request: RegisterWorkerRequest) {
  yield* validRegister(request)
  const sql = yield* SqlClient.SqlClient
  return yield* transaction(Effect.gen(function* () {
    const identity = yield* Identities.registerWithin({
      did: request.worker_did,
      role: "worker",
      challenge_id: request.challenge_id,
      proof: request.proof
    })
    const existing = yield* sql<{ worker_id: string }>`SELECT worker_id FROM workers WHERE worker_did = ${request.worker_did}`
    if (existing[0] !== undefined) {
      return { worker_id: existing[0].worker_id, worker_did: request.worker_did, created: false, auth: identity.auth } satisfies RegisterWorkerResponse as RegisterWorkerResponse
    }
    const { challenge_id: _c, proof: _p, worker_did: _d, ...profile } = request
    const worker = yield* createWithin(request.worker_did, profile)
    return {
      worker_id: worker.worker_id,
      worker_did: worker.worker_did,
      created: true,
      auth: identity.auth
    } satisfies RegisterWorkerResponse as RegisterWorkerResponse
  }))
})

/**
 * Creates the caller's profile when its DID registered the worker identity earlier (by
 * `Identities.register`); no new token. Errors: FORBIDDEN (not a worker token),
 * IDENTITY_NOT_REGISTERED, WORKER_ALREADY_REGISTERED.
 */
export const registerProfile = Effect.fn("Workers.registerProfile")(function* (actor: Actor, profile: WorkerProfile) {
  yield* requireRole(actor, "worker")
  yield* validProfile(profile)
  return yield* transaction(Effect.gen(function* () {
    if (!(yield* Identities.isRegistered(actor.did, "worker"))) {
      return yield* new ErrorCatalogue.IdentityNotRegistered({ did: actor.did, role: "worker" })
    }
    return yield* createWithin(actor.did, profile)
  }))
})

const selectBy = (where: "worker_id" | "worker_did", value: string, forUpdate = false) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // PostgreSQL: lock the row for read-modify-write; SQLite serialises writers already.
    const lock = sql.literal(forUpdate ? sql.onDialectOrElse({ pg: () => " FOR UPDATE", orElse: () => "" }) : "")
    const rows = yield* sql<WorkerRow>`SELECT ${sql.literal(columns)} FROM workers WHERE ${sql(where)} = ${value}${lock}`
    return rows[0] === undefined ? Option.none<Worker>() : Option.some(yield* fromRow(rows[0]))
  })

/** A worker by id, or NOT_FOUND. Profiles are public (buyer discovery). */
export const get = Effect.fn("Workers.get")(function* (workerId: string) {
  // An id not of the engine's form names no worker, and must not reach SQL (PostgreSQL fails on U+0000).
  if (!Schema.is(Ids.WorkerId)(workerId)) return yield* new ErrorCatalogue.NotFound({ entity: "worker", id: workerId.slice(0, 100) })
  const found = yield* selectBy("worker_id", workerId)
  if (Option.isNone(found)) return yield* new ErrorCatalogue.NotFound({ entity: "worker", id: workerId })
  return found.value
})

/** The worker profile of a DID, if any (acceptance checks status, job types and the price floor). */
export const findByDid = Effect.fnUntraced(function* (did: string) {
  return yield* selectBy("worker_did", did)
})

/** The caller's own profile. Errors: FORBIDDEN (not a worker token), NOT_FOUND (no profile yet). */
export const self = Effect.fn("Workers.self")(function* (actor: Actor) {
  yield* requireRole(actor, "worker")
  const found = yield* selectBy("worker_did", actor.did)
  if (Option.isNone(found)) return yield* new ErrorCatalogue.NotFound({ entity: "worker", id: actor.did })
  return found.value
})

/** The status a patch leads to: an explicit status wins; otherwise pausing or resuming availability decides. */
const nextStatus = (current: Worker, patch: UpdateWorkerRequest): Status => {
  if (patch.status !== undefined) return patch.status
  if (patch.availability === undefined) return current.status
  if (patch.availability.paused) return "paused"
  return current.status === "paused" ? "online" : current.status
}

/**
 * Updates the caller's profile (availability `online|offline|paused`, listing, capabilities, offers,
 * pricing), one transaction with its `worker.updated` event and audit row. Errors: FORBIDDEN,
 * NOT_FOUND.
 */
export const update = Effect.fn("Workers.update")(function* (actor: Actor, patch: UpdateWorkerRequest) {
  yield* requireRole(actor, "worker")
  yield* validUpdate(patch)
  const sql = yield* SqlClient.SqlClient
  return yield* transaction(Effect.gen(function* () {
    const found = yield* selectBy("worker_did", actor.did, true)
    if (Option.isNone(found)) return yield* new ErrorCatalogue.NotFound({ entity: "worker", id: actor.did })
    const before = found.value
    const status = nextStatus(before, patch)
    const availability = { ...(patch.availability ?? before.availability), paused: status === "paused" }
    const worker_version = patch.worker_version ?? before.worker_version
    const after: Worker = {
      ...before,
      status,
      ...(worker_version === undefined ? {} : { worker_version }),
      listing: patch.listing ?? before.listing,
      capabilities: patch.capabilities ?? before.capabilities,
      offers: patch.offers ?? before.offers,
      pricing: patch.pricing ?? before.pricing,
      availability,
      updated_at: DateTime.formatIso(yield* DateTime.now)
    }
    const beforeWire = yield* toWire(before)
    const afterWire = yield* toWire(after)
    const changed = (Object.keys(afterWire) as Array<keyof typeof afterWire>)
      .filter((key): key is Exclude<typeof key, "updated_at"> => key !== "updated_at" && Json.canonical(beforeWire[key]) !== Json.canonical(afterWire[key]))
      .sort()
    if (changed.length === 0) return before
    yield* sql`UPDATE workers SET status = ${after.status}, worker_version = ${after.worker_version ?? null},
      listing = ${yield* encodeDoc(Listing, after.listing)}, capabilities = ${yield* encodeDoc(Capabilities, after.capabilities)},
      offers = ${yield* encodeDoc(Offers, after.offers)}, availability = ${yield* encodeDoc(Availability, after.availability)},
      price_floor_minor = ${after.pricing.price_floor_minor}, updated_at = ${after.updated_at}
      WHERE worker_id = ${before.worker_id}`
    if (changed.includes("listing") || changed.includes("capabilities")) yield* writeJoins(before.worker_id, after)
    yield* Outbox.append({
      type: "worker.updated",
      subjectType: "worker",
      subjectId: before.worker_id,
      recipients: [before.worker_did],
      payload: { worker_id: before.worker_id, worker_did: before.worker_did, status: after.status, changed }
    })
    yield* Audit.record({
      actor: actor.did,
      action: "worker.update",
      entityType: "worker",
      entityId: before.worker_id,
      before: beforeWire,
      after: afterWire
    })
    return after
  }))
})

const encodeCursor = (workerId: string): string => Cursor.encode([workerId])

/** Only a cursor this API returned: a worker id. */
const decodeCursor = (cursor: string) => Effect.map(Cursor.decode(cursor, [Schema.is(Ids.WorkerId)]), ([workerId]) => workerId!)

/**
 * `GET /v1/workers`: profiles filtered by job type, tag (ignoring case) and status, in worker-id
 * order (creation order), `limit` per page (default 50, at most 100), with an opaque cursor.
 */
export const list = Effect.fn("Workers.list")(function* (query: ListWorkersQuery) {
  const sql = yield* SqlClient.SqlClient
  const limit = query.limit ?? DEFAULT_LIST_LIMIT
  const clauses = []
  if (query.status !== undefined) clauses.push(sql`w.status = ${query.status}`)
  if (query.job_type !== undefined) {
    clauses.push(sql`EXISTS (SELECT 1 FROM worker_job_types j WHERE j.worker_id = w.worker_id AND j.job_type = ${query.job_type})`)
  }
  if (query.tag !== undefined) {
    clauses.push(sql`EXISTS (SELECT 1 FROM worker_tags t WHERE t.worker_id = w.worker_id AND t.tag = ${query.tag.toLowerCase()})`)
  }
  if (query.cursor !== undefined) clauses.push(sql`w.worker_id > ${yield* decodeCursor(query.cursor)}`)
  const rows = yield* sql<WorkerRow>`SELECT ${sql.literal(columns.split(", ").map((c) => `w.${c}`).join(", "))}
    FROM workers w WHERE ${sql.and(clauses)} ORDER BY w.worker_id LIMIT ${limit + 1}`
  const { page, next_cursor } = Cursor.paginate(rows, limit, (row) => encodeCursor(row.worker_id))
  const workers = yield* Effect.forEach(page, fromRow)
  return { workers, next_cursor } satisfies ListWorkersResponse as ListWorkersResponse
})
