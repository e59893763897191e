/** Errors of the ledger: funds, accounts, holds, amounts. */
import { Schema } from "effect"
import type { Section } from "./Entry.js"

export class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", {
  account: Schema.String,
  bucket: Schema.String,
  available: Schema.BigIntFromSelf,
  requested: Schema.BigIntFromSelf
}) {}

/** The account is not open (in any currency). Transfers never open accounts implicitly. */
/** The account is not open (in `currency`, when the request named one; in any currency otherwise). */
export class UnknownAccount extends Schema.TaggedError<UnknownAccount>()("UnknownAccount", {
  account: Schema.String,
  currency: Schema.optional(Schema.String)
}) {}

/** The account name is malformed, or the account cannot play this role (a mint from a non-`world:*`). */
export class InvalidAccount extends Schema.TaggedError<InvalidAccount>()("InvalidAccount", {
  account: Schema.String,
  reason: Schema.String
}) {}

/** The account is open, but not in the operation's currency. */
export class CurrencyMismatch extends Schema.TaggedError<CurrencyMismatch>()("CurrencyMismatch", {
  account: Schema.String,
  currency: Schema.String,
  accountCurrencies: Schema.Array(Schema.String)
}) {}

export class HoldNotFound extends Schema.TaggedError<HoldNotFound>()("HoldNotFound", {
  holdId: Schema.String
}) {}

/** The hold was already released or voided; a hold resolves at most once. */
export class HoldAlreadyResolved extends Schema.TaggedError<HoldAlreadyResolved>()("HoldAlreadyResolved", {
  holdId: Schema.String,
  status: Schema.String
}) {}

/** A release asked for more than the hold still holds; a release spends only its own hold. */
export class HoldOverspent extends Schema.TaggedError<HoldOverspent>()("HoldOverspent", {
  holdId: Schema.String,
  remaining: Schema.BigIntFromSelf,
  requested: Schema.BigIntFromSelf
}) {}

/** An amount outside 1..MAX_AMOUNT_MINOR, or a balance that would leave the storable range. */
export class AmountOutOfRange extends Schema.TaggedError<AmountOutOfRange>()("AmountOutOfRange", {
  field: Schema.String,
  amount: Schema.BigIntFromSelf,
  min: Schema.BigIntFromSelf,
  max: Schema.BigIntFromSelf
}) {}

/** The legs of an entry do not sum to zero. */
export class UnbalancedEntry extends Schema.TaggedError<UnbalancedEntry>()("UnbalancedEntry", {
  sum: Schema.BigIntFromSelf
}) {}

/** A posting the ledger refuses by construction: `H` outside holds, a move onto itself, no legs. */
export class InvalidPosting extends Schema.TaggedError<InvalidPosting>()("InvalidPosting", {
  reason: Schema.Literal("reserved_bucket", "same_location", "no_legs", "too_many_legs")
}) {}

export type LedgerError =
  | InsufficientFunds
  | UnknownAccount
  | InvalidAccount
  | CurrencyMismatch
  | HoldNotFound
  | HoldAlreadyResolved
  | HoldOverspent
  | AmountOutOfRange
  | UnbalancedEntry
  | InvalidPosting

export const ledgerEntries = {
  InsufficientFunds: { code: "INSUFFICIENT_FUNDS", status: 402, summary: "The source bucket holds less than the amount." },
  UnknownAccount: { code: "UNKNOWN_ACCOUNT", status: 422, summary: "The account is not open." },
  InvalidAccount: {
    code: "INVALID_ACCOUNT",
    status: 400,
    summary: "The account name is malformed or the account cannot take this role."
  },
  CurrencyMismatch: { code: "CURRENCY_MISMATCH", status: 422, summary: "The account is not open in this currency." },
  HoldNotFound: { code: "HOLD_NOT_FOUND", status: 404, summary: "No such hold." },
  HoldAlreadyResolved: {
    code: "HOLD_ALREADY_RESOLVED",
    status: 409,
    summary: "The hold was already released or voided."
  },
  HoldOverspent: { code: "HOLD_OVERSPENT", status: 422, summary: "The release exceeds what the hold still holds." },
  AmountOutOfRange: { code: "AMOUNT_OUT_OF_RANGE", status: 400, summary: "The amount is outside the accepted range." },
  UnbalancedEntry: { code: "UNBALANCED_ENTRY", status: 400, summary: "The postings of an entry must sum to zero." },
  InvalidPosting: { code: "INVALID_POSTING", status: 400, summary: "The ledger does not accept this posting." }
} as const satisfies Section<LedgerError>
