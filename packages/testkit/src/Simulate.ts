/**
 * One call for each common case: a simulation against a fresh in-process engine (SQLite
 * `:memory:` or a file), with the engine's own invariant checks after the run; or against a
 * running server, as `clawbounties-sim --target` runs it.
 */
import { MarketplaceConfig } from "@clawbounties/marketplace"
import { DateTime, Duration, Effect } from "effect"
import { randomBytes } from "node:crypto"
import * as Http from "./Http.js"
import * as InProcess from "./InProcess.js"
import * as Invariants from "./Invariants.js"
import * as Runner from "./Runner.js"
import type * as Simulation from "./Simulation.js"

export interface Options {
  readonly config: Simulation.Config
  /** A SQLite file instead of `:memory:`. */
  readonly file?: string | undefined
  readonly onProgress?: Runner.Options["onProgress"]
}

export const inProcess = (options: Options) =>
  Effect.scoped(Effect.gen(function* () {
    const faults = options.config.faults.share > 0 && options.config.faults.kinds.some((k) => k !== "server_restart")
    // Simulated time only jumps, so a deadline shorter than the engine's default minimum costs
    // nothing here: lower the minimum to the run's deadline, as a fast HTTP run lowers
    // BOUNTY_MIN_DEADLINE, or every silent and abandoned job would be refused at post.
    const minDeadline = Duration.min(MarketplaceConfig.defaults.minDeadline, Duration.seconds(options.config.deadlineSeconds))
    const engine = yield* InProcess.make({ file: options.file, seed: options.config.seed, faults, settings: { minDeadline } })
    // The run owns this database: at its end nothing may be live, whoever made it.
    const engineChecks = Effect.map(Effect.all([Invariants.check({ afterSweep: true }), Invariants.nothingLive]), ([checks, nothingLive]) => [...checks, nothingLive]).pipe(
      Effect.provide(engine.context),
      Effect.withClock(engine.clock),
      Effect.catchAll((error) => Effect.succeed([{ name: "engine_checks", ok: false, violations: [String(error)] } satisfies Invariants.Result]))
    )
    // The engine lives only for the run: inspect its records through `engineChecks` or build your
    // own with `InProcess.make` (as the tests do) to query it afterwards.
    return yield* Runner.run({ config: options.config, target: engine.target, engineChecks, onProgress: options.onProgress })
  }))

export interface HttpOptions {
  readonly config: Simulation.Config
  readonly url: string
  readonly operatorToken?: string | undefined
  readonly onProgress?: Runner.Options["onProgress"]
}

/**
 * A run against the server at `url`. A long-lived server keeps earlier runs' principals, so the
 * namespace is unique per run (the seed and the start time) lest a second run replay the first's
 * commands; the principals' keys come from a fresh secret, as the namespace is public.
 */
export const overHttp = (options: HttpOptions) =>
  Effect.gen(function* () {
    const startedAt = DateTime.formatIso(yield* DateTime.now)
    return yield* Runner.run({
      config: options.config,
      target: Http.make({ url: options.url, operatorToken: options.operatorToken, rateLimitWaitMs: options.config.retry.rateLimitWaitMs }),
      namespace: `seed-${options.config.seed}@${startedAt}`,
      keySeed: randomBytes(32).toString("hex"),
      onProgress: options.onProgress
    })
  })
