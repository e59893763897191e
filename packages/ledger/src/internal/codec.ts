/**
 * Stored results: JSON in which every bigint is `{"$bigint":"123"}`, so a replay returns exactly the
 * values of the original (metadata values are primitives, never objects, so the wrapper is
 * unambiguous). Stored business failures are rebuilt as the same tagged error class.
 */
import { ErrorCatalogue } from "@clawbounties/domain"
import type { Bucket, EntryResult, Hold, HoldStatus, LedgerFailure, OperationResult } from "../Ledger.js"

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

/**
 * A success is stored positionally (`[entryId, kind, currency, createdAt, postings, extra]`), about a
 * third of the size of the object form: the idempotency row is written for every operation.
 */
export const encodeResult = (result: OperationResult): string => {
  const postings = result.postings.map((p) => [p.account, p.bucket, p.amount.toString(), p.balanceAfter.toString()])
  const extra = "hold" in result
    ? [
      result.hold.id, result.hold.account, result.hold.amount.toString(), result.hold.remaining.toString(), result.hold.status,
      result.hold.createdEntryId, result.hold.resolvedEntryId,
      ...("released" in result ? [result.released.toString(), result.returned.toString()] : [])
    ]
    : []
  return JSON.stringify([result.entryId, result.kind, result.currency, result.createdAt, postings, extra])
}

export const decodeResult = (json: string): OperationResult => {
  const [entryId, kind, currency, createdAt, postings, extra] = JSON.parse(json) as [
    string, OperationResult["kind"], string, number, Array<[string, Bucket, string, string]>, Array<string | null>
  ]
  const base: EntryResult = {
    entryId,
    kind,
    currency,
    createdAt,
    postings: postings.map(([account, bucket, amount, balanceAfter]) => ({ account, bucket, currency, amount: BigInt(amount), balanceAfter: BigInt(balanceAfter) }))
  }
  if (extra.length === 0) return base
  const hold: Hold = {
    id: extra[0]!,
    account: extra[1]!,
    currency,
    amount: BigInt(extra[2]!),
    remaining: BigInt(extra[3]!),
    status: extra[4] as HoldStatus,
    createdEntryId: extra[5]!,
    resolvedEntryId: extra[6] ?? null
  }
  return extra.length > 7
    ? { ...base, hold, released: BigInt(extra[7]!), returned: BigInt(extra[8]!) }
    : { ...base, hold }
}
