/**
 * Stored results: JSON in which every bigint is `{"$bigint":"123"}`, so a replay returns exactly the
 * values of the original (metadata values are primitives, never objects, so the wrapper is
 * unambiguous). Stored business failures are rebuilt as the same tagged error class.
 */
import { ErrorCatalogue } from "@clawbounties/domain"
import type { LedgerFailure, OperationResult } from "../Ledger.js"

const replacer = (_key: string, value: unknown) =>
  typeof value === "bigint" ? { $bigint: value.toString() } : value

const reviver = (_key: string, value: unknown) => {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const big = (value as { $bigint?: unknown }).$bigint
    if (typeof big === "string" && Object.keys(value).length === 1) return BigInt(big)
  }
  return value
}

export const encode = (value: unknown): string => JSON.stringify(value, replacer)
export const decode = (json: string): unknown => JSON.parse(json, reviver)

/** The business failures a key can remember (they depend on the ledger's state, not the request). */
const storable = {
  InsufficientFunds: ErrorCatalogue.InsufficientFunds,
  UnknownAccount: ErrorCatalogue.UnknownAccount,
  CurrencyMismatch: ErrorCatalogue.CurrencyMismatch,
  HoldNotFound: ErrorCatalogue.HoldNotFound,
  HoldAlreadyResolved: ErrorCatalogue.HoldAlreadyResolved,
  HoldOverspent: ErrorCatalogue.HoldOverspent,
  AmountOutOfRange: ErrorCatalogue.AmountOutOfRange,
  InvalidAccount: ErrorCatalogue.InvalidAccount
} as const

export type StorableFailure = InstanceType<(typeof storable)[keyof typeof storable]>

export const encodeFailure = (error: StorableFailure): string => {
  const fields: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(error)) {
    if (key !== "message" || value !== "") fields[key] = value
  }
  return encode({ ...fields, _tag: error._tag })
}

/** Rebuilds a stored failure; a row that is not one is corrupt (a defect). */
export const decodeFailure = (json: string): LedgerFailure => {
  const { _tag, ...fields } = decode(json) as { _tag: keyof typeof storable } & Record<string, unknown>
  const constructor = storable[_tag] as unknown as new (fields: Record<string, unknown>) => LedgerFailure
  if (constructor === undefined) throw new Error(`ledger: unknown stored failure ${String(_tag)}`)
  return new constructor(fields)
}

export const decodeResult = (json: string): OperationResult => decode(json) as OperationResult
