import { it } from "@effect/vitest"
import { Effect } from "effect"
import { Actors, Deterministic, Invariants, Keys, TestEngine } from "@clawbounties/testkit"

it.effect("a job end to end", () =>
  Effect.gen(function* () {
    const alice = yield* Actors.requester(Keys.key(1), { fund: 10_000n })
    const bob = yield* Actors.worker(Keys.key(2))
    const posted = yield* alice.post()
    yield* bob.accept(posted.bounty_id)
    const submitted = yield* bob.submit(posted.bounty_id)
    yield* alice.approve(posted.bounty_id, submitted.submission_id)
    yield* Deterministic.passDeadline("90 days")
    yield* Actors.operator.sweep
    yield* Invariants.assertAll({ afterSweep: true })
  }).pipe(Effect.provide(TestEngine.layer())))
