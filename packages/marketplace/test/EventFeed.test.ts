/**
 * The pull feed: each principal reads its own events until it acknowledges them, on SQLite and
 * PostgreSQL. On PostgreSQL an event can commit with a lower `seq` after a higher one was read; the
 * feed still delivers it, because delivery ends with an acknowledgement, not a cursor.
 */
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { EventRelay, PgTestDatabase, Postgres } from "@clawbounties/adapter-postgres"
import { Ids } from "@clawbounties/domain"
import { Limits } from "@clawbounties/fees"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, Deferred, Effect, Fiber, Layer, Option, TestClock } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Actor } from "../src/Actor.js"
import * as Command from "../src/Command.js"
import * as Engine from "../src/Engine.js"
import { Entropy } from "../src/Entropy.js"
import * as EventFeed from "../src/EventFeed.js"
import * as EventSignals from "../src/EventSignals.js"
import * as Identities from "../src/Identities.js"
import { MarketplaceConfig } from "../src/MarketplaceConfig.js"
import * as Operators from "../src/Operators.js"
import * as Outbox from "../src/Outbox.js"
import * as Tokens from "../src/Tokens.js"
import { engineOver, migrationSets, operator, requester, worker } from "./helpers/engine.js"

const pg = await PgTestDatabase.probe()
const stores = [
  { name: "sqlite", postgres: false, store: () => Sqlite.layerMemory(migrationSets).pipe(Layer.orDie) },
  { name: `postgres ${pg.reason}`, postgres: true, store: () => PgTestDatabase.layer({ prefix: "mkt_events", migrations: migrationSets }).pipe(Layer.orDie) }
]

const errorOf = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) => Effect.flip(effect)

/** Waits `millis` of real time, the test clock standing still (PostgreSQL answers asynchronously). */
const realPause = (millis: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, millis)))

/** Waits in real time, up to 5 s and never moving the test clock, until `check` holds. */
const eventually = (check: () => boolean, what: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 500 && !check(); i++) yield* realPause(10)
    assert.isTrue(check(), `timed out waiting for ${what}`)
  })

/** The result of `fiber`, which must end within 5 s of real time with the test clock standing still. */
const settled = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.gen(function* () {
    let exit = yield* Fiber.poll(fiber)
    for (let i = 0; i < 500 && Option.isNone(exit); i++) {
      yield* realPause(10)
      exit = yield* Fiber.poll(fiber)
    }
    assert.isTrue(Option.isSome(exit), "still waiting with the clock standing still")
    return yield* Fiber.join(fiber)
  })

const ackAll = (actor: Actor) =>
  Effect.flatMap(EventFeed.pull(actor), (page) => EventFeed.ack(actor, { event_ids: page.events.map((e) => e.event_id) }))

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
        yield* ackAll(alice.actor)
        const waiting = yield* Effect.fork(EventFeed.pull(alice.actor, { waitSeconds: 10 }))
        yield* TestClock.adjust("3 seconds")
        assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)))
        // Appended outside a transaction: committed at once, and the wait ends with no clock tick.
        yield* eventFor(alice.actor.did, 7)
        const page = yield* settled(waiting)
        assert.deepStrictEqual(page.events.map(numberOf), [7])

        yield* EventFeed.ack(alice.actor, { event_ids: [page.events[0]!.event_id] })
        const empty = yield* Effect.fork(EventFeed.pull(alice.actor, { waitSeconds: 2 }))
        yield* TestClock.adjust("2 seconds")
        assert.deepStrictEqual(yield* Fiber.join(empty), { events: [], next_cursor: null })
        for (const waitSeconds of [-1, 1.5, EventFeed.MAX_WAIT_SECONDS + 1, Number.NaN]) {
          assert.strictEqual((yield* errorOf(EventFeed.pull(alice.actor, { waitSeconds })))._tag, "InvalidRequest", String(waitSeconds))
        }
      }).pipe(Effect.provide(Test())))

    it.effect("a waiting poll is woken when another fiber's command commits its event, with no clock tick", () =>
      Effect.gen(function* () {
        const signals = yield* EventSignals.EventSignals
        const alice = yield* requester(1, 0n)
        yield* ackAll(alice.actor)
        const waiting = yield* Effect.fork(EventFeed.pull(alice.actor, { waitSeconds: 30 }))
        yield* eventually(() => signals.registrations() === 1, "the poll to register")
        yield* realPause(50) // and to read
        const credited = yield* Effect.fork(Operators.credit(operator, { did: alice.actor.did, amount_minor: 500n, currency: "USD", reason: "bonus", idempotency_key: "wake-1" }))
        const page = yield* settled(waiting)
        assert.deepStrictEqual(page.events.map((e) => [e.type, e.type === "balance.manual_credit" ? e.payload.amount_minor : undefined]), [["balance.manual_credit", "500"]])
        yield* Fiber.join(credited)
        // Answered before the fallback read was due, and registered no longer.
        assert.strictEqual(yield* Clock.currentTimeMillis, 0)
        assert.strictEqual(signals.registrations(), 0)
      }).pipe(Effect.provide(Test())))

    it.effect("an event in a transaction that rolls back wakes no one; one that commits does", () =>
      Effect.gen(function* () {
        const signals = yield* EventSignals.EventSignals
        const alice = yield* requester(1, 0n)
        yield* ackAll(alice.actor)
        const woken = yield* Effect.fork(Effect.scoped(Effect.flatten(signals.listen(alice.actor.did))))
        const waiting = yield* Effect.fork(EventFeed.pull(alice.actor, { waitSeconds: 30 }))
        yield* eventually(() => signals.registrations() === 2, "the listeners to register")
        const failed = yield* Effect.flip(Command.transaction(Effect.zipRight(eventFor(alice.actor.did, 1), Effect.fail("rolled back" as const))))
        assert.strictEqual(failed, "rolled back")
        yield* realPause(50)
        assert.isTrue(Option.isNone(yield* Fiber.poll(woken)), "woken by an event that rolled back")
        assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)), "answered by an event that rolled back")

        yield* Command.transaction(eventFor(alice.actor.did, 2))
        yield* settled(woken)
        assert.deepStrictEqual((yield* settled(waiting)).events.map(numberOf), [2])
      }).pipe(Effect.provide(Test())))

    it.effect("an event whose wake is lost is found by the fallback read", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const alice = yield* requester(1, 0n)
        yield* ackAll(alice.actor)
        const signals = yield* EventSignals.EventSignals
        const waiting = yield* Effect.fork(EventFeed.pull(alice.actor, { waitSeconds: 30 }))
        yield* eventually(() => signals.registrations() === 1, "the poll to register")
        yield* realPause(50) // and to read
        // A transaction opened without `Transaction.run`: its COMMIT wakes no one.
        yield* sql.withTransaction(eventFor(alice.actor.did, 3))
        yield* realPause(50)
        assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)))
        yield* TestClock.adjust(EventSignals.FALLBACK_POLL)
        assert.deepStrictEqual((yield* settled(waiting)).events.map(numberOf), [3])
      }).pipe(Effect.provide(Test())))

    it.effect("interrupted or answered, waiting polls leave no registration behind", () =>
      Effect.gen(function* () {
        const signals = yield* EventSignals.EventSignals
        const alice = yield* requester(1, 0n)
        yield* ackAll(alice.actor)
        const polls = yield* Effect.forEach(Array.from({ length: 200 }), () => Effect.fork(EventFeed.pull(alice.actor, { waitSeconds: 30 })))
        yield* eventually(() => signals.registrations() === 200, "the polls to register")
        yield* Fiber.interruptAll(polls.slice(0, 150))
        assert.strictEqual(signals.registrations(), 50)
        yield* eventFor(alice.actor.did, 4)
        for (const poll of polls.slice(150)) assert.strictEqual((yield* settled(poll)).events.length, 1)
        assert.strictEqual(signals.registrations(), 0)
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

/** A temporary directory, removed with the scope. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "mkt-events-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

describe("event feed on a SQLite file, whose transactions share COMMITs", () => {
  it.scoped("a waiting poll is answered only after the group COMMIT its event shares", () =>
    Effect.gen(function* () {
      const commits: Array<number> = []
      const store = Sqlite.layer({ filename: join(yield* tempDir, "events.db"), migrations: migrationSets, onCommit: (n) => commits.push(n) })
      const context = yield* Layer.build(engineOver(store.pipe(Layer.orDie)))
      yield* Effect.gen(function* () {
        const signals = yield* EventSignals.EventSignals
        const alice = yield* requester(1, 0n)
        yield* ackAll(alice.actor)
        const waiting = yield* Effect.fork(EventFeed.pull(alice.actor, { waitSeconds: 30 }))
        yield* eventually(() => signals.registrations() === 1, "the poll to register")
        yield* realPause(50) // and to read

        const [inFirst, endFirst, inSecond, endSecond] = yield* Effect.all(Array.from({ length: 4 }, () => Deferred.make<void>()))
        const first = yield* Effect.fork(Command.transaction(Effect.gen(function* () {
          yield* eventFor(alice.actor.did, 1)
          yield* Deferred.succeed(inFirst!, undefined)
          yield* Deferred.await(endFirst!)
        })))
        yield* Deferred.await(inFirst!)
        // Queued while the first holds the connection: it joins the first one's group.
        const second = yield* Effect.fork(Command.transaction(Effect.zipRight(Deferred.succeed(inSecond!, undefined), Deferred.await(endSecond!))))
        yield* Effect.yieldNow()
        yield* Deferred.succeed(endFirst!, undefined)
        yield* Deferred.await(inSecond!)
        // The first one's body is done, its COMMIT waits for the second: the poll must still wait.
        yield* realPause(50)
        assert.isTrue(Option.isNone(yield* Fiber.poll(first)))
        assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)), "answered before the COMMIT")

        yield* Deferred.succeed(endSecond!, undefined)
        assert.deepStrictEqual((yield* settled(waiting)).events.map(numberOf), [1])
        yield* Fiber.join(first)
        yield* Fiber.join(second)
        assert.strictEqual(commits.at(-1), 2, "the two transactions shared one COMMIT")
      }).pipe(Effect.provide(context))
    }))
})

describe.skipIf(!pg.available)(`event feed on two engines sharing one PostgreSQL ${pg.reason}`, () => {
  it.scoped("a poll on one engine is woken by a command committed on the other", () =>
    Effect.gen(function* () {
      const { url } = yield* PgTestDatabase.database("mkt_relay")
      const engine = () =>
        Engine.layer(Postgres.layer({ url, migrations: migrationSets, maxConnections: 4 }).pipe(Layer.orDie), {
          ids: Ids.IdGen.layer,
          entropy: Entropy.layerSeeded,
          settings: MarketplaceConfig.layer({}),
          limits: Limits.Limits.layer,
          identities: Identities.layerWith(),
          operatorToken: Tokens.layerNoOperator,
          signals: EventRelay.layer({ url })
        })
      const one = yield* Layer.build(engine())
      const other = yield* Layer.build(engine())
      const alice = yield* Effect.provide(requester(1, 0n), one)
      yield* Effect.provide(ackAll(alice.actor), one)
      const waiting = yield* Effect.fork(Effect.provide(EventFeed.pull(alice.actor, { waitSeconds: 30 }), one))
      const signals = Context.get(one, EventSignals.EventSignals)
      yield* eventually(() => signals.registrations() === 1, "the poll to register")
      yield* realPause(50) // and to read

      yield* Effect.provide(Operators.credit(operator, { did: alice.actor.did, amount_minor: 700n, currency: "USD", reason: "bonus", idempotency_key: "relay-1" }), other)
      const page = yield* settled(waiting)
      assert.deepStrictEqual(page.events.map((e) => [e.type, e.type === "balance.manual_credit" ? e.payload.amount_minor : undefined]), [["balance.manual_credit", "700"]])
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
    }))
})
