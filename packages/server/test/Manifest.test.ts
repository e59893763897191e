/**
 * The server's package.json declares every package its code and tests import, so installing the
 * package alone (not the workspace) is enough to run them. The workspace's test tooling, used by
 * every package's tests, stays declared once at the root.
 */
import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

const root = join(import.meta.dirname, "..")
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  dependencies?: Record<string, string>
  devDependencies?: Record<string, string>
}
const WORKSPACE_TEST_TOOLING = new Set(["vitest", "@effect/vitest", "fast-check"])

/** The package a bare specifier names: `@scope/name` or `name`, without any subpath. */
const packageOf = (specifier: string) => specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/")

const imported = (dir: string): ReadonlyArray<string> =>
  readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .flatMap((file) => [...readFileSync(join(root, dir, file), "utf8").matchAll(/(?:from|import\()\s*"([^".][^"]*)"/g)].map((m) => m[1]!))
    .filter((specifier) => !specifier.startsWith("node:"))
    .map(packageOf)

describe("package.json", () => {
  it("declares every package the server's source and tests import", () => {
    const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.devDependencies ?? {})])
    const undeclared = [...new Set([...imported("src"), ...imported("test")])]
      .filter((name) => !declared.has(name) && !WORKSPACE_TEST_TOOLING.has(name))
    assert.deepStrictEqual(undeclared, [])
  })
})
