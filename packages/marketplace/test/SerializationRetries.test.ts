/**
 * Every command retries a serialization failure (40001), which SERIALIZABLE callers and contention
 * raise on PostgreSQL: the losing transaction is rolled back and runs again. A trigger fails the
 * first write to a table with 40001 (a sequence counts the writes, and does not roll back), so each
 * command here meets exactly one serialization failure and must still succeed.
 */
import { assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { Effect, Layer } from "effect"
import * as Identities from "../src/Identities.js"
import * as Tokens from "../src/Tokens.js"
import * as Workers from "../src/Workers.js"
import { engineOver, key, migrationSets, registerIdentity, worker } from "./helpers/engine.js"
import { answer } from "./helpers/identity.js"

const pg = await PgTestDatabase.probe()

/** Fails the next `event` on `table` once with a serialization failure; returns how many writes the trigger saw. */
const failNextWriteOnce = (table: string, event: "INSERT" | "UPDATE") =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe(`CREATE SEQUENCE fail_once_writes`)
    yield* sql.unsafe(`CREATE FUNCTION fail_once() RETURNS trigger AS $$
      BEGIN
        IF nextval('fail_once_writes') = 1 THEN
          RAISE EXCEPTION 'simulated serialization failure' USING ERRCODE = '40001';
        END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql`)
    yield* sql.unsafe(`CREATE TRIGGER fail_once BEFORE ${event} ON ${table} FOR EACH ROW EXECUTE FUNCTION fail_once()`)
    return Effect.map(
      sql<{ last_value: string | number }>`SELECT last_value FROM fail_once_writes`,
      (rows) => Number(rows[0]!.last_value)
    )
  })

const profile: Workers.WorkerProfile = {
  worker_version: "test/1.0.0",
  listing: { name: "worker", headline: "tests", tags: ["typescript"] },
  capabilities: { job_types: ["code"], languages: ["ts"], max_minutes: 30 },
  offers: { skills: [], mcp: [] },
  pricing: { price_floor_minor: 0n },
  availability: { mode: "manual", paused: false }
}

/** A live token's principal for `n` in `role`. */
const principalOf = (n: number, role: "worker" | "requester") =>
  Effect.gen(function* () {
    const k = key(n)
    const challenge = yield* Identities.challenge({ did: k.did, purpose: "register" })
    const registered = yield* Identities.register({ did: k.did, role, challenge_id: challenge.challenge_id, proof: answer(k, challenge, role) })
    return yield* Tokens.authenticate(registered.auth.token)
  })

describe.skipIf(!pg.available)(`commands retry serialization failures on PostgreSQL ${pg.reason}`, () => {
  const run = <A, E>(effect: Effect.Effect<A, E, any>) =>
    Effect.provide(effect, engineOver(PgTestDatabase.layer({ prefix: "mkt_retries", migrations: migrationSets }).pipe(Layer.orDie)))

  it.effect("Identities.register", () =>
    run(Effect.gen(function* () {
      const writes = yield* failNextWriteOnce("identities", "INSERT")
      yield* registerIdentity(key(1), "requester")
      assert.isTrue(yield* Identities.isRegistered(key(1).did, "requester"))
      assert.strictEqual(yield* writes, 2)
    })))

  it.effect("Workers.register", () =>
    run(Effect.gen(function* () {
      const writes = yield* failNextWriteOnce("workers", "INSERT")
      yield* worker(1)
      assert.isTrue((yield* Workers.findByDid(key(1).did))._tag === "Some")
      assert.strictEqual(yield* writes, 2)
    })))

  it.effect("Workers.registerProfile", () =>
    run(Effect.gen(function* () {
      const principal = yield* principalOf(1, "worker")
      const writes = yield* failNextWriteOnce("workers", "INSERT")
      const created = yield* Workers.registerProfile(principal, profile)
      assert.strictEqual(created.worker_did, key(1).did)
      assert.strictEqual(yield* writes, 2)
    })))

  it.effect("Workers.update", () =>
    run(Effect.gen(function* () {
      const principal = yield* principalOf(1, "worker")
      yield* Workers.registerProfile(principal, profile)
      const writes = yield* failNextWriteOnce("workers", "UPDATE")
      const updated = yield* Workers.update(principal, { status: "offline" })
      assert.strictEqual(updated.status, "offline")
      assert.strictEqual(yield* writes, 2)
    })))

  it.effect("Tokens.rotate", () =>
    run(Effect.gen(function* () {
      const principal = yield* principalOf(1, "requester")
      const writes = yield* failNextWriteOnce("auth_tokens", "UPDATE")
      const rotated = yield* Tokens.rotate(principal)
      assert.deepStrictEqual(yield* Tokens.authenticate(rotated.token), { did: principal.did, role: "requester", token_id: rotated.token_id })
      assert.strictEqual(yield* writes, 2)
    })))

  it.effect("Tokens.revoke", () =>
    run(Effect.gen(function* () {
      const principal = yield* principalOf(1, "requester")
      const writes = yield* failNextWriteOnce("auth_tokens", "UPDATE")
      const revoked = yield* Tokens.revoke(principal, { token_id: principal.token_id })
      assert.isNotNull(revoked.revoked_at)
      assert.strictEqual(yield* writes, 2)
    })))
})
