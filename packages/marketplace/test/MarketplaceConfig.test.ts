/** Settings read from the environment: lists parsed as operators write them, mistakes refused by name. */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either } from "effect"
import { MarketplaceConfig } from "../src/index.js"

const read = (env: Record<string, string>) =>
  Effect.runSync(Effect.either(Effect.withConfigProvider(MarketplaceConfig.config, ConfigProvider.fromMap(new Map(Object.entries(env))))))

const signer = "did:key:z6MkneMkZqwqRiU5mJzSG3kDwzt9P8C59N4NGTfBLfSGE7c7"
const other = "did:key:z6MkfF4ykuxdK3Cea9xDqWgLLgMBvxcypy6Tv1K45Eahxy3m"

describe("MarketplaceConfig.config", () => {
  it("GATEWAY_SIGNER_DIDS: a comma-separated list of did:key DIDs; empty is none; anything else stops start-up", () => {
    const signers = (value: string) => Either.map(read({ GATEWAY_SIGNER_DIDS: value }), (settings) => settings.verification.gatewaySignerDids)
    assert.deepStrictEqual(signers(`${signer}, ${other}`), Either.right([signer, other]))
    assert.deepStrictEqual(signers(""), Either.right([]))
    assert.deepStrictEqual(Either.map(read({}), (settings) => settings.verification.gatewaySignerDids), Either.right([]))
    // A provider that gives lists (JSON, say) rather than comma-separated text is read the same way.
    const fromJson = (value: unknown) => Effect.runSync(Effect.either(Effect.withConfigProvider(MarketplaceConfig.config, ConfigProvider.fromJson({ GATEWAY_SIGNER_DIDS: value }))))
    assert.deepStrictEqual(Either.map(fromJson([signer, other]), (settings) => settings.verification.gatewaySignerDids), Either.right([signer, other]))
    assert.isTrue(Either.isLeft(fromJson([signer, "did:web:example.com"])))
    for (const bad of ["notadid", `${signer},did:web:example.com`]) {
      const result = signers(bad)
      assert.isTrue(Either.isLeft(result), bad)
      if (Either.isLeft(result)) assert.match(String(result.left), /GATEWAY_SIGNER_DIDS/)
    }
  })

  it("EVENT_RETENTION: a duration of at least a day, 90 days by default; a shorter one stops start-up", () => {
    const retention = (env: Record<string, string>) => Either.map(read(env), (settings) => Duration.toMillis(settings.eventRetention))
    assert.deepStrictEqual(retention({}), Either.right(Duration.toMillis(Duration.days(90))))
    assert.deepStrictEqual(retention({ EVENT_RETENTION: "30 days" }), Either.right(Duration.toMillis(Duration.days(30))))
    for (const bad of ["1 hour", "soon"]) {
      const result = read({ EVENT_RETENTION: bad })
      assert.isTrue(Either.isLeft(result), bad)
      if (Either.isLeft(result)) assert.match(String(result.left), /EVENT_RETENTION/)
    }
  })
})
