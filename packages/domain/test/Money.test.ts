import { assert, describe, it } from "@effect/vitest"
import { Either, ParseResult, Schema } from "effect"
import * as fc from "fast-check"
import { Money } from "@clawbounties/domain"

const decodeError = (schema: Schema.Schema<bigint, string>, input: unknown): string => {
  const result = Schema.decodeUnknownEither(schema)(input)
  if (Either.isRight(result)) throw new Error(`expected ${JSON.stringify(input)} to be rejected`)
  return ParseResult.TreeFormatter.formatErrorSync(result.left)
}

describe("Money", () => {
  const rejected: ReadonlyArray<readonly [string, string]> = [
    ["", "an amount must not be empty"],
    ["-5", "an amount must not be negative"],
    ["-0", "an amount must not be negative"],
    ["+5", "an amount must not carry a leading '+'"],
    ["5.00", "an amount is a whole number of minor units (no fraction)"],
    ["0.5", "an amount is a whole number of minor units (no fraction)"],
    ["5,00", "an amount is a whole number of minor units (no fraction)"],
    ["1e3", "an amount must not use exponent notation"],
    ["1E3", "an amount must not use exponent notation"],
    ["007", "an amount must not have leading zeros"],
    ["00", "an amount must not have leading zeros"],
    [" 5", "an amount is a string of digits"],
    ["5 ", "an amount is a string of digits"],
    ["0x10", "an amount is a string of digits"],
    ["1000000000000001", "an amount must be at most 1000000000000000"],
    ["99999999999999999999", "an amount must be at most 1000000000000000"],
    ["1".repeat(40), "an amount is at most 16 digits"]
  ]

  for (const [input, message] of rejected) {
    it(`rejects ${JSON.stringify(input)}: ${message}`, () => {
      assert.strictEqual(Money.parseAmount(input), message)
      assert.include(decodeError(Money.AmountMinor, input), message)
      assert.include(decodeError(Money.PositiveAmountMinor, input), message)
    })
  }

  it("accepts the maximum and zero where zero is allowed", () => {
    assert.strictEqual(Money.parseAmount("1000000000000000"), Money.MAX_AMOUNT_MINOR)
    assert.strictEqual(Schema.decodeUnknownSync(Money.AmountMinor)("0"), 0n)
    assert.include(decodeError(Money.PositiveAmountMinor, "0"), "an amount must be greater than zero")
    assert.strictEqual(Schema.decodeUnknownSync(Money.PositiveAmountMinor)("5000"), 5000n)
  })

  it("rejects values that are not strings (a JSON number is not an amount)", () => {
    assert.include(decodeError(Money.AmountMinor, 5000), "Expected string")
    assert.include(decodeError(Money.AmountMinor, null), "Expected string")
  })

  it("round-trips every amount up to the maximum through the wire form", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: Money.MAX_AMOUNT_MINOR }), (amount) => {
        const wire = Schema.encodeSync(Money.AmountMinor)(amount)
        assert.strictEqual(wire, amount.toString())
        assert.match(wire, /^(0|[1-9][0-9]*)$/)
        assert.strictEqual(Schema.decodeUnknownSync(Money.AmountMinor)(wire), amount)
      })
    )
  })

  it("reads database integers from string, number and bigint, and refuses unsafe numbers", () => {
    assert.strictEqual(Money.fromDb("5250"), 5250n)
    assert.strictEqual(Money.fromDb(5250), 5250n)
    assert.strictEqual(Money.fromDb(5250n), 5250n)
    assert.strictEqual(Money.fromDb("-25"), -25n)
    assert.throws(() => Money.fromDb(2 ** 53 + 2))
    assert.throws(() => Money.fromDb(1.5))
    assert.throws(() => Money.fromDb("12a"))
  })
})
