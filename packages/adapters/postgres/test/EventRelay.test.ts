/**
 * The event relay: servers on one PostgreSQL wake one another's waiting polls with NOTIFY, within
 * NOTIFY's payload limit, and a server whose listening connection was cut listens again.
 */
import { EventRelay, PgTestDatabase } from "@clawbounties/adapter-postgres"
import { EventSignals } from "@clawbounties/marketplace"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Option, TestClock } from "effect"
import pg from "pg"

const probe = await PgTestDatabase.probe()

const realPause = (millis: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, millis)))

/** Announces `did` on `from` (outside a transaction: at once) until `woken` ends, for up to 5 s of real time. */
const announceUntil = (from: EventSignals.EventSignalsService, did: string, woken: Fiber.Fiber<void>) =>
  Effect.gen(function* () {
    for (let i = 0; i < 250 && Option.isNone(yield* Fiber.poll(woken)); i++) {
      yield* from.announce([did])
      yield* realPause(20)
    }
    assert.isTrue(Option.isSome(yield* Fiber.poll(woken)), "not woken")
  })

/** Checks that `fiber` ends within 5 s of real time, the test clock standing still. */
const woken = (fiber: Fiber.Fiber<void>, what: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 250 && Option.isNone(yield* Fiber.poll(fiber)); i++) yield* realPause(20)
    assert.isTrue(Option.isSome(yield* Fiber.poll(fiber)), `${what} was not woken`)
  })

describe("EventRelay.payloads", () => {
  it("splits recipients into payloads within NOTIFY's 8000 bytes, leaving out what cannot be sent", () => {
    const dids = Array.from({ length: 400 }, (_, i) => `did:key:z6Mk${String(i).padStart(44, "0")}`)
    const payloads = EventRelay.payloads([...dids, "", "has space", "x".repeat(8000)])
    assert.isAbove(payloads.length, 1)
    assert.isTrue(payloads.every((payload) => Buffer.byteLength(payload) < 8000))
    assert.deepStrictEqual(payloads.flatMap((payload) => payload.split(" ")), dids)
    assert.deepStrictEqual(EventRelay.payloads([]), [])
  })
})

describe.skipIf(!probe.available)(`EventRelay on PostgreSQL ${probe.reason}`, () => {
  it.scoped("wakes the polls for the recipients on every server, and listens again after its connection is cut", () =>
    Effect.gen(function* () {
      const { url } = yield* PgTestDatabase.database("relay")
      const signalsOf = (applicationName: string) =>
        Effect.map(Layer.build(EventRelay.layer({ url, applicationName })), (context) => Context.get(context, EventSignals.EventSignals))
      const one = yield* signalsOf("relay-one")
      const other = yield* signalsOf("relay-other")
      const wait = (signals: EventSignals.EventSignalsService, did: string) => Effect.fork(Effect.scoped(Effect.flatten(signals.listen(did))))

      // Both listen once built: the first NOTIFY reaches the other server.
      const elsewhere = yield* wait(other, "did:example:alice")
      const here = yield* wait(one, "did:example:alice")
      const bystander = yield* wait(other, "did:example:bob")
      while (one.registrations() < 1 || other.registrations() < 2) yield* Effect.yieldNow()
      yield* one.announce(["did:example:alice"])
      yield* woken(here, "this server's poll")
      yield* woken(elsewhere, "the other server's poll")
      assert.isTrue(Option.isNone(yield* Fiber.poll(bystander)), "a poll for another principal was woken")
      yield* Fiber.interrupt(bystander)

      // The other server's listening connection is cut; it connects again after `reconnectAfter`.
      const admin = new pg.Client({ connectionString: url })
      yield* Effect.promise(() => admin.connect())
      yield* Effect.addFinalizer(() => Effect.promise(() => admin.end()))
      const cut = yield* Effect.promise(() =>
        admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'relay-other events'"))
      assert.strictEqual(cut.rowCount, 1)
      const afterCut = yield* wait(other, "did:example:carol")
      while (other.registrations() < 1) yield* Effect.yieldNow()
      yield* realPause(100)
      yield* TestClock.adjust("1 second")
      yield* announceUntil(one, "did:example:carol", afterCut)
      assert.strictEqual(one.registrations() + other.registrations(), 0)
    }))
})
