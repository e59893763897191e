/**
 * The README's "In tests" example is `readme/job.test.ts`, verbatim, so the suite type-checks and
 * runs it: an example that stopped compiling or passing would fail here, not in a reader's project.
 */
import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { join } from "node:path"

describe("README", () => {
  it("the 'In tests' example is readme/job.test.ts, verbatim", () => {
    const readme = readFileSync(join(import.meta.dirname, "../README.md"), "utf8")
    const section = readme.slice(readme.indexOf("## In tests"))
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1]
    assert.strictEqual(block, readFileSync(join(import.meta.dirname, "readme/job.test.ts"), "utf8"))
  })
})
