/**
 * The README's settings table names every setting `npm start` reads, and nothing it does not: the
 * settings are whatever the server's config and the engine's layers ask their ConfigProvider for,
 * recorded here while they start with every setting unset.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import * as Config from "../src/Config.js"
import * as Engine from "../src/Engine.js"

const readme = readFileSync(resolve(import.meta.dirname, "../../../README.md"), "utf8")

/**
 * The names in the first column of the settings table (the one under "Running the server").
 * `MIN_X_CODE` / `_RESEARCH` abbreviates `MIN_X_RESEARCH`: a name starting with `_` replaces the
 * last word of the row's first name.
 */
const documented = (): ReadonlyArray<string> => {
  const section = readme.split("\n## ").find((s) => s.startsWith("Running the server"))!
  const rows = section.split("\n").filter((line) => line.startsWith("| `"))
  return rows.flatMap((row) => {
    const names = [...row.split("|")[1]!.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]!)
    const stem = names[0]!.slice(0, names[0]!.lastIndexOf("_"))
    return names.map((name) => name.startsWith("_") ? stem + name : name)
  })
}

/** A provider with nothing set that records every name asked of it. */
const recording = (asked: Set<string>) => {
  const empty = ConfigProvider.fromMap(new Map()).flattened
  return ConfigProvider.fromFlat(ConfigProvider.makeFlat({
    load: (path, primitive, split) => {
      asked.add(path.join("_"))
      return empty.load(path, primitive, split)
    },
    enumerateChildren: empty.enumerateChildren,
    patch: empty.patch
  }))
}

describe("README", () => {
  it.effect("the settings table lists exactly the settings the server reads", () =>
    Effect.gen(function* () {
      const asked = new Set<string>()
      yield* Effect.scoped(Effect.gen(function* () {
        yield* Config.config
        yield* Layer.build(Engine.layer({ store: { _tag: "sqlite", filename: ":memory:" } }))
      })).pipe(Effect.withConfigProvider(recording(asked)))
      assert.deepStrictEqual([...documented()].sort(), [...asked].sort(), "the README settings table (actual) against the settings read (expected)")
    }))
})
