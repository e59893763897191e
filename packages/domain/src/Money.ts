/**
 * Money: integer minor units as `bigint`, with the currency beside them.
 *
 * On the wire an amount is a canonical digit string (`"5000"`): no sign, no leading zeros, no
 * fraction, no exponent, no spaces, at most `MAX_AMOUNT_MINOR`. In the database it may come back as
 * a string (pg BIGINT), a number or a bigint (SQLite with safe integers); `FromDb` accepts all three.
 */
import { ParseResult, Schema } from "effect"

/** Currencies the engine accepts. USD only for now; the type is a union so more can be added. */
export const Currency = Schema.Literal("USD")
export type Currency = typeof Currency.Type

/**
 * The largest amount accepted anywhere: 10^15 minor units ($10 trillion). Far below 2^63, so sums of
 * many amounts still fit a PostgreSQL BIGINT and a SQLite INTEGER.
 */
export const MAX_AMOUNT_MINOR = 1_000_000_000_000_000n

const describe = (input: string): string | undefined => {
  if (input.length === 0) return "an amount must not be empty"
  if (input.length > 32) return "an amount is at most 16 digits"
  if (input.startsWith("+")) return "an amount must not carry a leading '+'"
  if (input.startsWith("-")) return "an amount must not be negative"
  if (/[eE]/.test(input)) return "an amount must not use exponent notation"
  if (input.includes(".") || input.includes(",")) return "an amount is a whole number of minor units (no fraction)"
  if (!/^[0-9]+$/.test(input)) return "an amount is a string of digits"
  if (input.length > 1 && input.startsWith("0")) return "an amount must not have leading zeros"
  return undefined
}

/** Parses a wire digit string, or says precisely why it is not one. */
export const parseAmount = (input: string, options?: { readonly allowZero?: boolean }): bigint | string => {
  const problem = describe(input)
  if (problem !== undefined) return problem
  const value = BigInt(input)
  if (value > MAX_AMOUNT_MINOR) return `an amount must be at most ${MAX_AMOUNT_MINOR}`
  if (value === 0n && options?.allowZero === false) return "an amount must be greater than zero"
  return value
}

const digitString = (allowZero: boolean, identifier: string) =>
  Schema.transformOrFail(
    Schema.String.annotations({ description: "a canonical digit string of minor units", examples: ["5000"] }),
    Schema.BigIntFromSelf,
    {
      strict: true,
      decode: (input, _, ast) => {
        const parsed = parseAmount(input, { allowZero })
        return typeof parsed === "string"
          ? ParseResult.fail(new ParseResult.Type(ast, input, parsed))
          : ParseResult.succeed(parsed)
      },
      encode: (value) => ParseResult.succeed(value.toString())
    }
  ).annotations({ identifier })

/** A non-negative amount in minor units, `"0"` allowed (fees, balances). */
export const AmountMinor = digitString(true, "AmountMinor")
/** A strictly positive amount in minor units (rewards, transfers, holds). */
export const PositiveAmountMinor = digitString(false, "PositiveAmountMinor")

/** A database integer as string | number | bigint, decoded to bigint (see STACK.md on drivers). */
export const FromDb = Schema.transformOrFail(
  Schema.Union(Schema.String, Schema.Number, Schema.BigIntFromSelf),
  Schema.BigIntFromSelf,
  {
    strict: true,
    decode: (input, _, ast) => {
      if (typeof input === "bigint") return ParseResult.succeed(input)
      if (typeof input === "number") {
        return Number.isSafeInteger(input)
          ? ParseResult.succeed(BigInt(input))
          : ParseResult.fail(new ParseResult.Type(ast, input, "not a safe integer"))
      }
      return /^-?[0-9]+$/.test(input)
        ? ParseResult.succeed(BigInt(input))
        : ParseResult.fail(new ParseResult.Type(ast, input, "not an integer string"))
    },
    encode: (value) => ParseResult.succeed(value)
  }
)

const decodeFromDb = Schema.decodeUnknownSync(FromDb)

/**
 * Reads a database integer; a value that is not one is a corrupt row, hence a defect. A bigint (what
 * SQLite gives with safe integers) is returned as it is: this runs for every amount a command reads.
 */
export const fromDb = (input: unknown): bigint => typeof input === "bigint" ? input : decodeFromDb(input)

/** An amount with its currency. */
export interface Money {
  readonly amount: bigint
  readonly currency: Currency
}

export const make = (amount: bigint, currency: Currency = "USD"): Money => ({ amount, currency })

/** Wire form of an amount: the canonical digit string. */
export const toWire = (amount: bigint): string => amount.toString()
