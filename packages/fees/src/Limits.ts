/**
 * The MVP's money limits (agent-economy-mvp.md A2 and B1), as configuration with the spec's defaults.
 * Each can be overridden by a `Config` key of the same name, e.g. `MIN_TOPUP_MINOR=5000`, given as a
 * canonical digit string of minor units.
 */
import { Bounty, Money } from "@clawbounties/domain"
import { Config, ConfigError, Context, Either, Layer } from "effect"

export interface Values {
  /** Smallest reward of a code bounty (`is_code_bounty=true`): $1, deterministic microbounties. */
  readonly MIN_BOUNTY_REWARD_MINOR_CODE: bigint
  /** Smallest reward of a requester-reviewed (research) bounty: $10. */
  readonly MIN_BOUNTY_REWARD_MINOR_RESEARCH: bigint
  /** Smallest reward of an agent-pack bounty (tag `agent_pack`): $25. */
  readonly MIN_BOUNTY_REWARD_MINOR_AGENT_PACK: bigint
  /** Smallest deposit (top-up): $20, card fixed fees make smaller ones uneconomical. */
  readonly MIN_TOPUP_MINOR: bigint
  /** Smallest payout: $50, to batch rail costs. */
  readonly MIN_PAYOUT_MINOR: bigint
  /**
   * The platform-fee floor of requester/quorum lanes: 25¢. Published policies pin their own floors
   * (`bounties_v1` uses 25), since a policy never changes after its hash is stored; this value is
   * the default for new policies and for display.
   */
  readonly MIN_PLATFORM_FEE_MINOR: bigint
}

/** The spec's defaults (USD cents). */
export const defaults: Values = {
  MIN_BOUNTY_REWARD_MINOR_CODE: 100n,
  MIN_BOUNTY_REWARD_MINOR_RESEARCH: 1_000n,
  MIN_BOUNTY_REWARD_MINOR_AGENT_PACK: 2_500n,
  MIN_TOPUP_MINOR: 2_000n,
  MIN_PAYOUT_MINOR: 5_000n,
  MIN_PLATFORM_FEE_MINOR: 25n
}

const amount = (name: keyof Values): Config.Config<bigint> =>
  Config.string(name).pipe(
    Config.mapOrFail((text) => {
      const parsed = Money.parseAmount(text)
      return typeof parsed === "string"
        // No path or name here: Config prefixes the setting's own name to the error's path.
        ? Either.left(ConfigError.InvalidData([], parsed))
        : Either.right(parsed)
    }),
    Config.withDefault(defaults[name])
  )

/** All limits from configuration, each falling back to its default. */
export const config: Config.Config<Values> = Config.all({
  MIN_BOUNTY_REWARD_MINOR_CODE: amount("MIN_BOUNTY_REWARD_MINOR_CODE"),
  MIN_BOUNTY_REWARD_MINOR_RESEARCH: amount("MIN_BOUNTY_REWARD_MINOR_RESEARCH"),
  MIN_BOUNTY_REWARD_MINOR_AGENT_PACK: amount("MIN_BOUNTY_REWARD_MINOR_AGENT_PACK"),
  MIN_TOPUP_MINOR: amount("MIN_TOPUP_MINOR"),
  MIN_PAYOUT_MINOR: amount("MIN_PAYOUT_MINOR"),
  MIN_PLATFORM_FEE_MINOR: amount("MIN_PLATFORM_FEE_MINOR")
})

export class Limits extends Context.Tag("@clawbounties/fees/Limits")<Limits, Values>() {
  /** The spec's defaults, no configuration read. */
  static readonly layer = Layer.succeed(Limits, defaults)
  /** Reads every limit from `Config`, each defaulting to the spec's value. */
  static readonly layerConfig = Layer.effect(Limits, config)
}

/** What decides a bounty's minimum reward. */
export interface Lane {
  readonly is_code_bounty?: boolean | undefined
  readonly closure_type: Bounty.ClosureType
  readonly tags?: ReadonlyArray<string> | undefined
}

/**
 * The smallest reward a bounty may offer (spec B1): the highest minimum among the lanes it belongs
 * to. Code bounties use the code minimum; requester-reviewed bounties and bounties tagged `research`
 * the research minimum; bounties tagged `agent_pack` the agent-pack minimum. A bounty in none of those
 * lanes (non-code work closed by a harness or a quorum, untagged) is non-code work, so the research
 * minimum applies: the spec never lets non-code work go below it.
 */
export const minimumReward = (limits: Values, lane: Lane): bigint => {
  const tags = lane.tags ?? []
  const minimums: Array<bigint> = []
  if (lane.is_code_bounty === true) minimums.push(limits.MIN_BOUNTY_REWARD_MINOR_CODE)
  if (lane.closure_type === "requester" || tags.includes("research")) {
    minimums.push(limits.MIN_BOUNTY_REWARD_MINOR_RESEARCH)
  }
  if (tags.includes("agent_pack")) minimums.push(limits.MIN_BOUNTY_REWARD_MINOR_AGENT_PACK)
  if (minimums.length === 0) minimums.push(limits.MIN_BOUNTY_REWARD_MINOR_RESEARCH)
  return minimums.reduce((a, b) => (a > b ? a : b))
}
