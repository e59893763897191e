/**
 * The pull feed: each principal reads its own events until it acknowledges them, on SQLite and
 * PostgreSQL. On PostgreSQL an event can commit with a lower `seq` after a higher one was read; the
 * feed still delivers it, because delivery ends with an acknowledgement, not a cursor.
 */
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option, TestClock } from "effect"
import * as EventFeed from "../src/EventFeed.js"
import * as Outbox from "../src/Outbox.js"
import { engineOver, migrationSets, requester, worker } from "./helpers/engine.js"

const pg = await PgTestDatabase.probe()
const stores = [
  { name: "sqlite", postgres: false, store: () => Sqlite.layerMemory(migrationSets).pipe(Layer.orDie) },
  { name: `postgres ${pg.reason}`, postgres: true, store: () => PgTestDatabase.layer({ prefix: "mkt_events", migrations: migrationSets }).pipe(Layer.orDie) }
]

const errorOf = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) => Effect.flip(effect)

const acknowledgedCount = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM outbox_recipients WHERE acked_at IS NOT NULL`
  return Number(rows[0]!.n)
})

/** An event addressed to `did` alone, appended in a transaction of its own: dispute `dsp_<n>` escalated. */
const eventFor = (did: string, n: number) =>
  Outbox.append({ type: "dispute.escalated", subjectType: "dispute", subjectId: `dsp_${n}`, recipients: [did], payload: { dispute_id: `dsp_${n}`, bounty_id: "bty_test" } })

/** The `n` of an event from {@link eventFor}, or the type of another. */
const numberOf = (event: EventFeed.Event) => event.type === "dispute.escalated" ? Number(event.payload.dispute_id.slice(4)) : event.type

for (const { name, postgres, store } of stores) {
  const available = !postgres || pg.available
  describe.skipIf(!available)(`event feed (${name})`, () => {
    const Test = () => engineOver(store())

    it.effect("delivers a principal's own events, oldest first, until it acknowledges them", () =>
      Effect.gen(function* () {
        const alice = yield* requester(1)
        const bob = yield* worker(2)
        const first = yield* EventFeed.pull(alice.actor)
        assert.deepStrictEqual(first.events.map((e) => e.type), ["identity.registered", "balance.manual_credit"])
        assert.isTrue(first.events.every((e) => e.subject_id === alice.actor.did && !e.acked))
        const credited = first.events[1]!
        assert.strictEqual(credited.type === "balance.manual_credit" && credited.payload.amount_minor, "1000000")
        assert.isNull(first.next_cursor)
        // Bob sees his own and nothing of Alice's.
        const bobs = yield* EventFeed.pull(bob.actor)
        assert.deepStrictEqual(bobs.events.map((e) => e.type), ["identity.registered", "worker.registered"])
        assert.strictEqual(bobs.events[0]!.subject_id, bob.actor.did)

        // Not acknowledged: delivered again.
        assert.deepStrictEqual(yield* EventFeed.pull(alice.actor), first)
        const reply = yield* EventFeed.ack(alice.actor, { event_ids: first.events.map((e) => e.event_id) })
        assert.deepStrictEqual(reply, { acked: 2, already_acked: 0 })
        assert.deepStrictEqual((yield* EventFeed.pull(alice.actor)).events, [])
        // Bob's feed is his own: Alice's acknowledgement did not touch it.
        assert.deepStrictEqual(yield* EventFeed.pull(bob.actor), bobs)
        // A replay includes acknowledged events.
        const replay = yield* EventFeed.pull(alice.actor, { includeAcked: true })
        assert.deepStrictEqual(replay.events.map((e) => [e.event_id, e.acked]), first.events.map((e) => [e.event_id, true]))
      }).pipe(Effect.provide(Test())))

    it.effect("acknowledging again changes nothing, and a repeated id counts once", () =>
      Effect.gen(function* () {
        const alice = yield* requester(1)
        const [registered, credited] = (yield* EventFeed.pull(alice.actor)).events
        assert.deepStrictEqual(yield* EventFeed.ack(alice.actor, { event_ids: [registered!.event_id, registered!.event_id] }), { acked: 1, already_acked: 0 })
        assert.deepStrictEqual(yield* EventFeed.ack(alice.actor, { event_ids: [registered!.event_id, credited!.event_id] }), { acked: 1, already_acked: 1 })
        assert.deepStrictEqual(yield* EventFeed.ack(alice.actor, { event_ids: [credited!.event_id] }), { acked: 0, already_acked: 1 })
        assert.strictEqual(yield* acknowledgedCount, 2)
      }).pipe(Effect.provide(Test())))

    it.effect("an id that is not one of the caller's events is NOT_FOUND, and nothing is acknowledged", () =>
      Effect.gen(function* () {
        const alice = yield* requester(1)
        const bob = yield* worker(2)
        const own = (yield* EventFeed.pull(alice.actor)).events[0]!.event_id
        const bobs = (yield* EventFeed.pull(bob.actor)).events[0]!.event_id
        for (const stranger of [bobs, "evt_0000000000000000000000000000"]) {
          const error = yield* errorOf(EventFeed.ack(alice.actor, { event_ids: [own, stranger] }))
          assert.strictEqual(error._tag, "NotFound")
          assert.deepInclude(error, { entity: "event" })
        }
        assert.strictEqual(yield* acknowledgedCount, 0)
        // An embedder's malformed input is refused by the command itself.
        for (const event_ids of [[], ["not-an-event-id"], Array.from({ length: EventFeed.MAX_ACK + 1 }, () => own)]) {
          assert.strictEqual((yield* errorOf(EventFeed.ack(alice.actor, { event_ids })))._tag, "InvalidRequest")
        }
      }).pipe(Effect.provide(Test())))

    it.effect("pages with a cursor and a limit; only a cursor the feed returned is accepted", () =>
      Effect.gen(function* () {
        const alice = yield* requester(1, 0n)
        for (let n = 0; n < 4; n++) yield* eventFor(alice.actor.did, n)
        const seen: Array<unknown> = []
        let cursor: string | undefined
        let pages = 0
        do {
          const page = yield* EventFeed.pull(alice.actor, { limit: 2, cursor })
          seen.push(...page.events.map(numberOf))
          cursor = page.next_cursor ?? undefined
          pages++
        } while (cursor !== undefined)
        assert.deepStrictEqual(seen, ["identity.registered", 0, 1, 2, 3])
        assert.strictEqual(pages, 3)
        for (const bad of ["abc", "0", "-1", "01", "1.5", "99999999999999999999", "9223372036854775808"]) {
          assert.strictEqual((yield* errorOf(EventFeed.pull(alice.actor, { cursor: bad })))._tag, "InvalidRequest", bad)
        }
      }).pipe(Effect.provide(Test())))

    it.effect("a poll may wait for an event: it answers once one is there, or empty at the end of the wait", () =>
      Effect.gen(function* () {
        const alice = yield* requester(1, 0n)
        yield* EventFeed.ack(alice.actor, { event_ids: (yield* EventFeed.pull(alice.actor)).events.map((e) => e.event_id) })
        const waiting = yield* Effect.fork(EventFeed.pull(alice.actor, { waitSeconds: 10 }))
        yield* TestClock.adjust("3 seconds")
        assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)))
        yield* eventFor(alice.actor.did, 7)
        // A read after the event finds it: the clock moves a poll interval at a time, with a moment of
        // real time between steps for a read in flight (PostgreSQL answers asynchronously).
        let steps = 0
        while (Option.isNone(yield* Fiber.poll(waiting)) && steps++ < 20) {
          yield* TestClock.adjust(EventFeed.WAIT_POLL)
          yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
        }
        const page = yield* Fiber.join(waiting)
        assert.deepStrictEqual(page.events.map(numberOf), [7])

        yield* EventFeed.ack(alice.actor, { event_ids: [page.events[0]!.event_id] })
        const empty = yield* Effect.fork(EventFeed.pull(alice.actor, { waitSeconds: 2 }))
        yield* TestClock.adjust("2 seconds")
        assert.deepStrictEqual(yield* Fiber.join(empty), { events: [], next_cursor: null })
        for (const waitSeconds of [-1, 1.5, EventFeed.MAX_WAIT_SECONDS + 1, Number.NaN]) {
          assert.strictEqual((yield* errorOf(EventFeed.pull(alice.actor, { waitSeconds })))._tag, "InvalidRequest", String(waitSeconds))
        }
      }).pipe(Effect.provide(Test())))

    if (postgres) {
      it.effect("an event committed with a lower seq after a higher one was read is still delivered", () =>
        Effect.gen(function* () {
          const alice = yield* requester(1, 0n)
          const sql = yield* SqlClient.SqlClient
          yield* EventFeed.ack(alice.actor, { event_ids: (yield* EventFeed.pull(alice.actor)).events.map((e) => e.event_id) })
          const appended = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          // The earlier transaction takes its seq, then stays open while a later one commits.
          const earlier = yield* Effect.fork(sql.withTransaction(Effect.gen(function* () {
            yield* eventFor(alice.actor.did, 1)
            yield* Deferred.succeed(appended, undefined)
            yield* Deferred.await(release)
          })))
          yield* Deferred.await(appended)
          yield* sql.withTransaction(eventFor(alice.actor.did, 2))
          const later = yield* EventFeed.pull(alice.actor)
          assert.deepStrictEqual(later.events.map(numberOf), [2])
          yield* EventFeed.ack(alice.actor, { event_ids: [later.events[0]!.event_id] })

          yield* Deferred.succeed(release, undefined)
          yield* Fiber.join(earlier)
          // A consumer that only moved a cursor forward would never see it: its seq is lower.
          assert.deepStrictEqual((yield* EventFeed.pull(alice.actor, { cursor: later.events[0]!.cursor })).events, [])
          const late = yield* EventFeed.pull(alice.actor)
          assert.deepStrictEqual(late.events.map(numberOf), [1])
          assert.isTrue(BigInt(late.events[0]!.cursor) < BigInt(later.events[0]!.cursor))
        }).pipe(Effect.provide(Test())))
    }
  })
}
