/** Errors of the ledger: funds, accounts, holds, amounts. */
import { Schema } from "effect"
import type { Section } from "./Entry.js"

export class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", {
  account: Schema.String,
  bucket: Schema.String,
  available: Schema.BigIntFromSelf,
  requested: Schema.BigIntFromSelf
}) {}

export type LedgerError = InsufficientFunds

export const ledgerEntries = {
  InsufficientFunds: { code: "INSUFFICIENT_FUNDS", status: 402, summary: "The source bucket holds less than the amount." }
} as const satisfies Section<LedgerError>
