/**
 * Unpredictable bytes for secrets (tokens, challenge nonces).
 *
 * Ids and simulations take randomness from `Random` so a seed replays them; secrets must not, or a
 * seed would replay credentials. The live layer reads the operating system's CSPRNG; the testkit's
 * seeded layer keeps test runs reproducible and is never used outside tests.
 */
import { randomBytes } from "node:crypto"
import { Context, Effect, Layer, Random } from "effect"

export class Entropy extends Context.Tag("@clawbounties/marketplace/Entropy")<
  Entropy,
  { readonly bytes: (length: number) => Effect.Effect<Uint8Array> }
>() {
  static readonly layer = Layer.succeed(Entropy, {
    bytes: (length) => Effect.sync(() => new Uint8Array(randomBytes(length)))
  })

  /** Deterministic bytes from the fiber's `Random`: for tests and simulations only. */
  static readonly layerSeeded = Layer.succeed(Entropy, {
    bytes: (length) =>
      Effect.gen(function* () {
        const out = new Uint8Array(length)
        for (let i = 0; i < length; i++) out[i] = yield* Random.nextIntBetween(0, 256)
        return out
      })
  })
}
