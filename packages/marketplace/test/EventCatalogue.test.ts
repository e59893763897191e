/**
 * The events of a representative mix of jobs, read as a consumer reads them: every type written is
 * in `docs/events.md`'s catalogue and in the catalogue in code (`Events`, which the OpenAPI document
 * is generated from), and every type listed is written; each payload is exactly its type's schema;
 * each job event reaches the parties of its job and nobody else, and each payload carries what a
 * consumer acts on and agrees with the records the API returns.
 */
import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { BountyMachine } from "@clawbounties/domain"
import { Effect, Either, Layer, ParseResult, Schema, SchemaAST, TestClock } from "effect"
import * as Bounties from "../src/Bounties.js"
import * as Closure from "../src/Closure.js"
import * as Deadlines from "../src/Deadlines.js"
import * as Disputes from "../src/Disputes.js"
import * as Events from "../src/Events.js"
import * as Identities from "../src/Identities.js"
import * as Operators from "../src/Operators.js"
import * as Submissions from "../src/Submissions.js"
import * as Tokens from "../src/Tokens.js"
import * as Workers from "../src/Workers.js"
import { engineOver, migrationSets, operator, proofBundle, registerIdentity, requester, researchBounty, underReview, worker } from "./helpers/engine.js"
import { answer, key } from "./helpers/identity.js"

/** The event types `docs/events.md` lists: every code span in the first column of its catalogue table. */
const cataloguedTypes = (): ReadonlySet<string> => {
  const doc = readFileSync(new URL("../../../docs/events.md", import.meta.url), "utf8")
  const table = doc.slice(doc.indexOf("## Catalogue"))
  const firstCells = table.split("\n").filter((line) => line.startsWith("| `")).map((line) => line.split("|")[1]!)
  return new Set(firstCells.flatMap((cell) => [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]!)))
}

interface Row {
  readonly seq: string | number
  readonly type: string
  readonly subject_type: string
  readonly subject_id: string
  readonly payload: string
  readonly recipients: string
}

interface Event {
  readonly seq: number
  readonly type: string
  readonly subjectType: string
  readonly subjectId: string
  readonly payload: Record<string, unknown>
  readonly recipients: ReadonlySet<string>
}

const allEvents = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<Row>`SELECT o.seq, o.type, o.subject_type, o.subject_id, o.payload,
      (SELECT json_group_array(r.did) FROM outbox_recipients r WHERE r.event_seq = o.seq) AS recipients
    FROM outbox o ORDER BY o.seq`
  return rows.map((row): Event => ({
    seq: Number(row.seq),
    type: row.type,
    subjectType: row.subject_type,
    subjectId: row.subject_id,
    payload: JSON.parse(row.payload),
    recipients: new Set(JSON.parse(row.recipients))
  }))
})

const JOB_SUBJECTS = ["bounty", "escrow", "submission", "dispute"]

/** Job events the operators act on, beside the job's parties. */
const OPERATOR_EVENTS = ["dispute.opened", "dispute.escalated"]

/** The bounty each job record belongs to, and each bounty's requester and requested worker. */
const jobs = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ id: string; bounty_id: string }>`
    SELECT bounty_id AS id, bounty_id FROM bounties
    UNION ALL SELECT escrow_id, bounty_id FROM escrows
    UNION ALL SELECT submission_id, bounty_id FROM submissions
    UNION ALL SELECT dispute_id, bounty_id FROM disputes`
  const bounties = yield* sql<{ bounty_id: string; requester_did: string; requested_worker_did: string | null }>`
    SELECT bounty_id, requester_did, requested_worker_did FROM bounties`
  return {
    bountyOf: new Map(rows.map((row) => [row.id, row.bounty_id])),
    bounties: new Map(bounties.map((row) => [row.bounty_id, row]))
  }
})

/**
 * Every bounty's and every submission's last event announces the status the API shows for it: a
 * worker following its submission's events learns that it was rejected, approved or settled.
 */
const lastEventsAgreeWithRecords = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const events = yield* allEvents
  for (const { bounty_id } of yield* sql<{ bounty_id: string }>`SELECT bounty_id FROM bounties`) {
    const last = events.filter((e) => e.subjectId === bounty_id).at(-1)!
    const record = yield* Bounties.get(operator, bounty_id)
    assert.strictEqual(last.payload.status, record.status, `${last.type} of ${bounty_id}`)
  }
  for (const { submission_id } of yield* sql<{ submission_id: string }>`SELECT submission_id FROM submissions`) {
    const last = events.filter((e) => e.subjectId === submission_id).at(-1)!
    const record = yield* Submissions.get(operator, submission_id)
    assert.strictEqual(last.payload.status, record.status, `${last.type} of ${submission_id}`)
  }
})

const submitTampered = (w: { key: ReturnType<typeof key>; actor: { did: string; role: "worker" } }, bountyId: string) =>
  Effect.flip(Submissions.submit(w.actor, bountyId, { proof_bundle_envelope: proofBundle(w.key, { tamper: true }), artifacts: [] }))

/**
 * Every path a job can take, and the identity, token, worker and balance events around them:
 * approve, reject with each dispute outcome, an invalid submission, review timeout, cancel, expiry
 * of a direct hire, a missed work deadline (reopened, then taken by another worker), escalation.
 * Checks that each bounty's last event agrees with its record after every phase.
 */
const jobMix = Effect.gen(function* () {
  const { actor: buyer } = yield* requester(1)
  const w2 = yield* worker(2)
  const w3 = yield* worker(3)

  // Identity, tokens, worker profile, balances.
  yield* registerIdentity(key(1), "requester")
  const challenge = yield* Identities.challenge({ did: key(4).did, purpose: "register" })
  const registered = yield* Identities.register({ did: key(4).did, role: "requester", challenge_id: challenge.challenge_id, proof: answer(key(4), challenge, "requester") })
  const rotated = yield* Tokens.rotate(yield* Tokens.authenticate(registered.auth.token))
  yield* Tokens.revoke(yield* Tokens.authenticate(rotated.token), { token_id: rotated.token_id })
  yield* Workers.update(w3.actor, { worker_version: "test/2.0.0" })
  yield* Operators.debit(operator, { did: buyer.did, amount_minor: 1n, currency: "USD", reason: "test", idempotency_key: "debit-1" })

  // Approved by the requester.
  const approved = yield* underReview(buyer, w2.key)
  yield* Closure.approve(buyer, approved.posted.bounty_id, { submission_id: approved.submitted.submission_id })
  // Rejected, then each outcome of the dispute.
  for (const resolution of [{ outcome: "worker_award" }, { outcome: "requester_refund" }, { outcome: "split", worker_share_bps: 4000 }] as const) {
    const job = yield* underReview(buyer, w2.key)
    const rejected = yield* Closure.reject(buyer, job.posted.bounty_id, { submission_id: job.submitted.submission_id, reason: "incomplete" })
    yield* Disputes.resolve(operator, rejected.dispute_id, resolution)
  }
  // Cancelled while open.
  yield* Bounties.cancel(buyer, (yield* Bounties.post(buyer, researchBounty())).bounty_id, { reason: "changed my mind" })

  // Jobs that wait for a deadline.
  const silent = yield* Bounties.post(buyer, researchBounty({ deadlines: { review_within_seconds: 3600 } }))
  yield* Bounties.accept(w2.actor, silent.bounty_id, {})
  yield* submitTampered(w2, silent.bounty_id)
  yield* Submissions.submit(w2.actor, silent.bounty_id, { proof_bundle_envelope: proofBundle(w2.key), artifacts: [] })
  yield* Bounties.post(buyer, researchBounty({ metadata: { requested_worker_did: w3.actor.did as never }, deadlines: { accept_within_seconds: 3600 } }))
  const abandoned = yield* Bounties.post(buyer, researchBounty({ deadlines: { work_within_seconds: 3600 } }))
  yield* Bounties.accept(w2.actor, abandoned.bounty_id, {})
  const escalated = yield* underReview(buyer, w3.key)
  const dispute = yield* Closure.reject(buyer, escalated.posted.bounty_id, { submission_id: escalated.submitted.submission_id, reason: "wrong" })
  yield* lastEventsAgreeWithRecords

  yield* TestClock.adjust("2 hours")
  const first = yield* Deadlines.sweep()
  assert.deepInclude(first, { autoApproved: 1, expired: 1, reopened: 1 })
  yield* lastEventsAgreeWithRecords
  // Another worker takes the reopened bounty and is paid.
  yield* Bounties.accept(w3.actor, abandoned.bounty_id, {})
  const retaken = yield* Submissions.submit(w3.actor, abandoned.bounty_id, { proof_bundle_envelope: proofBundle(w3.key), artifacts: [] })
  yield* Closure.approve(buyer, abandoned.bounty_id, { submission_id: retaken.submission_id })

  yield* TestClock.adjust("8 days")
  assert.strictEqual((yield* Deadlines.sweep()).escalated, 1)
  yield* Disputes.resolve(operator, dispute.dispute_id, { outcome: "split", worker_share_bps: 5000 })
  yield* lastEventsAgreeWithRecords
  return yield* allEvents
})

/** A missed work deadline under the `cancel` policy (the setting is per engine). */
const cancelPolicyMix = Effect.gen(function* () {
  const { actor: buyer } = yield* requester(1)
  const w = yield* worker(2)
  const posted = yield* Bounties.post(buyer, researchBounty())
  yield* Bounties.accept(w.actor, posted.bounty_id, {})
  yield* TestClock.adjust("25 hours")
  assert.strictEqual((yield* Deadlines.sweep()).cancelled, 1)
  yield* lastEventsAgreeWithRecords
  return yield* allEvents
})

const store = () => Sqlite.layerMemory(migrationSets).pipe(Layer.orDie)

describe("event catalogue", () => {
  it.effect("docs/events.md lists every event type the jobs write, and lists none they never write", () =>
    Effect.gen(function* () {
      const written = new Set([
        ...(yield* Effect.provide(jobMix, engineOver(store()))).map((e) => e.type),
        ...(yield* Effect.provide(cancelPolicyMix, engineOver(store(), { acceptanceTimeout: "cancel" }))).map((e) => e.type)
      ])
      const listed = cataloguedTypes()
      assert.deepStrictEqual([...written].filter((type) => !listed.has(type)).sort(), [], "written but not in docs/events.md")
      assert.deepStrictEqual([...listed].filter((type) => !written.has(type)).sort(), [], "in docs/events.md but never written")
    }))

  it.effect("the catalogue in code lists the documented types; each event has its type's subject and exactly its payload's fields", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(Events.catalogue.map((entry) => entry.type).sort(), [...cataloguedTypes()].sort())
      const events = [
        ...yield* Effect.provide(jobMix, engineOver(store())),
        ...yield* Effect.provide(cancelPolicyMix, engineOver(store(), { acceptanceTimeout: "cancel" }))
      ]
      for (const event of events) {
        const label = `${event.type} (${event.seq})`
        const entry: { readonly subject: string; readonly payload: Schema.Schema.AnyNoContext } | undefined =
          Events.catalogue.find((candidate) => candidate.type === event.type)
        if (entry === undefined) return assert.fail(`${label} is not in the catalogue`)
        assert.strictEqual(event.subjectType, entry.subject, label)
        // A field the schema lacks would be dropped from the feed; one it has but the payload lacks is a broken promise.
        const decoded = Schema.decodeUnknownEither(entry.payload, { onExcessProperty: "error", errors: "all" })(event.payload)
        if (Either.isLeft(decoded)) assert.fail(`${label}: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`)
      }
    }))

  it.effect("each job event reaches its job's parties at that moment (a dispute's also the operators), and nobody else", () =>
    Effect.gen(function* () {
      for (const [events, { bountyOf, bounties }] of [
        yield* Effect.provide(Effect.all([jobMix, jobs]), engineOver(store())),
        yield* Effect.provide(Effect.all([cancelPolicyMix, jobs]), engineOver(store(), { acceptanceTimeout: "cancel" }))
      ]) {
        const jobEvents = events.filter((e) => JOB_SUBJECTS.includes(e.subjectType))
        for (const bountyId of new Set(jobEvents.map((e) => bountyOf.get(e.subjectId)!))) {
          const own = jobEvents.filter((e) => bountyOf.get(e.subjectId) === bountyId)
          const { requester_did: requesterDid, requested_worker_did } = bounties.get(bountyId)!
          const requested = requested_worker_did === null ? [] : [requested_worker_did]
          // The parties: the requester, a direct hire's worker, and each worker that held the bounty.
          const workers = own.filter((e) => e.type === "bounty.accepted").map((e) => e.payload.worker_did as string)
          const parties = new Set([requesterDid, ...requested, ...workers])
          let holder: string | undefined
          for (const event of own) {
            const label = `${event.type} of ${bountyId}`
            if (event.type === "bounty.accepted") holder = event.payload.worker_did as string
            // The operators must act on a dispute: resolve it, the sooner once it is overdue.
            const forOperators = OPERATOR_EVENTS.includes(event.type)
            for (const did of event.recipients) {
              assert.isTrue(parties.has(did) || (forOperators && did === Tokens.OPERATOR_DID), `${label} leaks to ${did}`)
            }
            if (forOperators) assert.isTrue(event.recipients.has(Tokens.OPERATOR_DID), `${label} misses the operators`)
            assert.isTrue(event.recipients.has(requesterDid), `${label} misses the requester`)
            if (holder !== undefined) assert.isTrue(event.recipients.has(holder), `${label} misses the worker`)
            else if (event.subjectType === "bounty") {
              for (const did of requested) assert.isTrue(event.recipients.has(did), `${label} misses the requested worker`)
            }
            if (event.type === "bounty.reopened") holder = undefined
          }
        }
      }
    }))

  it("no payload field is optional: a consumer reads every field of its type in every event (null where it does not apply)", () => {
    const optional = Events.catalogue.flatMap((entry) =>
      SchemaAST.getPropertySignatures(entry.payload.ast).filter((field) => field.isOptional).map((field) => `${entry.type}.${String(field.name)}`)
    )
    assert.deepStrictEqual(optional, [])
  })

  it.effect("each type reads one way: every event of a type carries the same payload fields, whichever path wrote it", () =>
    Effect.gen(function* () {
      const events = [
        ...yield* Effect.provide(jobMix, engineOver(store())),
        ...yield* Effect.provide(cancelPolicyMix, engineOver(store(), { acceptanceTimeout: "cancel" }))
      ]
      const shapesOf = new Map<string, Set<string>>()
      for (const event of events) {
        shapesOf.set(event.type, (shapesOf.get(event.type) ?? new Set()).add(Object.keys(event.payload).sort().join(", ")))
      }
      const varying = [...shapesOf].filter(([, shapes]) => shapes.size > 1).map(([type, shapes]) => `${type}: ${[...shapes].join(" | ")}`)
      assert.deepStrictEqual(varying, [])
    }))

  it.effect("each bounty and submission event type announces one status: a consumer switching on the type needs no other field", () =>
    Effect.gen(function* () {
      const events = [
        ...yield* Effect.provide(jobMix, engineOver(store())),
        ...yield* Effect.provide(cancelPolicyMix, engineOver(store(), { acceptanceTimeout: "cancel" }))
      ]
      const statusesOf = new Map<string, Set<unknown>>()
      for (const event of events.filter((e) => e.subjectType === "bounty" || e.subjectType === "submission")) {
        statusesOf.set(event.type, (statusesOf.get(event.type) ?? new Set()).add(event.payload.status))
      }
      for (const [type, statuses] of statusesOf) {
        // A type that announces a state is named after it; the rest (posted, reopened, created) are steps.
        const named = type.slice(type.indexOf(".") + 1)
        const expected = type === "bounty.posted" || type === "bounty.reopened" ? ["open"]
          : type === "submission.created" ? ["invalid", "pending_review"]
          : [named]
        assert.deepStrictEqual([...statuses].sort(), expected, type)
      }
    }))

  it.effect("payloads name their subject, their bounty and the bounty's new status, with amounts as digit strings beside a currency", () =>
    Effect.gen(function* () {
      const events = [
        ...yield* Effect.provide(jobMix, engineOver(store())),
        ...yield* Effect.provide(cancelPolicyMix, engineOver(store(), { acceptanceTimeout: "cancel" }))
      ]
      const amounts = (value: unknown, path: string): Array<[string, unknown]> =>
        typeof value !== "object" || value === null
          ? []
          : Object.entries(value).flatMap(([k, v]) => [...(k.endsWith("_minor") ? [[`${path}.${k}`, v] as [string, unknown]] : []), ...amounts(v, `${path}.${k}`)])
      const hasCurrency = (value: unknown): boolean =>
        typeof value === "object" && value !== null && Object.entries(value).some(([k, v]) => k === "currency" || hasCurrency(v))
      for (const event of events) {
        const label = `${event.type} (${event.seq})`
        if (JOB_SUBJECTS.includes(event.subjectType)) {
          assert.strictEqual(event.payload[`${event.subjectType}_id`], event.subjectId, `${label} names its subject`)
          // And its job: a consumer files any job event under its bounty without looking it up.
          assert.match(String(event.payload.bounty_id), /^bty_/, `${label} names its bounty`)
        }
        if (event.subjectType === "bounty") {
          assert.include(BountyMachine.states, event.payload.status as BountyMachine.Status, `${label} carries the bounty's status`)
        }
        const found = amounts(event.payload, "payload")
        for (const [path, value] of found) assert.match(String(value), /^\d+$/, `${label} ${path}`)
        for (const [path, value] of found) assert.isString(value, `${label} ${path} is a string`)
        if (found.length > 0) assert.isTrue(hasCurrency(event.payload), `${label} names the currency of ${found[0]![0]}`)
      }
    }))
})
