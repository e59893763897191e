import { assert, describe, it } from "@effect/vitest"
import * as Text from "../src/Text.js"

describe("Text", () => {
  it("each rule, from the loosest to the strictest", () => {
    const cases: ReadonlyArray<readonly [string, boolean, boolean, boolean]> = [
      // text, isStorable, isProse, isPlain
      ["plain words 🦀", true, true, true],
      ["two\nlines\twith tab\r\n", true, true, false],
      ["bell\u0007", true, false, false],
      ["del\u007f", true, false, false],
      ["nul\u0000", false, false, false],
      ["lone high \ud800", false, false, false],
      ["lone low \udc00 after", false, false, false],
      ["\ud83e", false, false, false]
    ]
    for (const [text, storable, prose, plain] of cases) {
      assert.deepStrictEqual([Text.isStorable(text), Text.isProse(text), Text.isPlain(text)], [storable, prose, plain], JSON.stringify(text))
    }
  })
})
