import { assert, describe, it } from "@effect/vitest"
import { Limits } from "@clawbounties/fees"
import { Cause, ConfigError, ConfigProvider, Effect, Exit, Layer, Option } from "effect"

const withConfig = (entries: ReadonlyArray<readonly [string, string]>) =>
  Limits.Limits.layerConfig.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(entries)))))

describe("Limits", () => {
  it("defaults are the spec's values (A2, B1)", () => {
    assert.deepStrictEqual(Limits.defaults, {
      MIN_BOUNTY_REWARD_MINOR_CODE: 100n,
      MIN_BOUNTY_REWARD_MINOR_RESEARCH: 1000n,
      MIN_BOUNTY_REWARD_MINOR_AGENT_PACK: 2500n,
      MIN_TOPUP_MINOR: 2000n,
      MIN_PAYOUT_MINOR: 5000n,
      MIN_PLATFORM_FEE_MINOR: 25n
    })
  })

  it.effect("reads each limit from Config, falling back to its default", () =>
    Effect.gen(function* () {
      const limits = yield* Limits.Limits
      assert.strictEqual(limits.MIN_TOPUP_MINOR, 5000n)
      assert.strictEqual(limits.MIN_PAYOUT_MINOR, 1n)
      assert.strictEqual(limits.MIN_BOUNTY_REWARD_MINOR_CODE, 100n)
    }).pipe(Effect.provide(withConfig([["MIN_TOPUP_MINOR", "5000"], ["MIN_PAYOUT_MINOR", "1"]]))))

  it.effect("with no configuration the config layer gives the defaults", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* Limits.Limits, Limits.defaults)
    }).pipe(Effect.provide(withConfig([]))))

  it.effect("refuses a limit that is not a canonical amount, naming it", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Effect.provide(Limits.Limits, withConfig([["MIN_PAYOUT_MINOR", "50.00"]])))
      assert.isTrue(Exit.isFailure(exit))
      // Named once, by its path (a start-up line reads `path: message`), not `MIN_X.MIN_X: MIN_X: ...`.
      const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      const invalid = Option.getOrThrow(error) as ConfigError.ConfigError & { readonly path: ReadonlyArray<string>; readonly message: string }
      assert.deepStrictEqual([invalid._op, invalid.path], ["InvalidData", ["MIN_PAYOUT_MINOR"]])
      assert.match(invalid.message, /^an amount is a whole number of minor units/)
    }))

  it("minimum reward per lane (B1): the highest minimum among the bounty's lanes", () => {
    const min = (lane: Limits.Lane) => Limits.minimumReward(Limits.defaults, lane)
    assert.strictEqual(min({ is_code_bounty: true, closure_type: "test" }), 100n)
    assert.strictEqual(min({ is_code_bounty: false, closure_type: "requester", tags: ["research"] }), 1000n)
    assert.strictEqual(min({ closure_type: "requester", tags: ["agent_pack", "openclaw"] }), 2500n)
    assert.strictEqual(min({ is_code_bounty: true, closure_type: "requester" }), 1000n)
    assert.strictEqual(min({ is_code_bounty: true, closure_type: "test", tags: ["agent_pack"] }), 2500n)
    // Non-code work outside the named lanes is held to the research minimum.
    assert.strictEqual(min({ is_code_bounty: false, closure_type: "quorum" }), 1000n)
  })
})
