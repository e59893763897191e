/**
 * Validation and the canonical form of a request: defaults applied, fields in a fixed order.
 *
 * The canonical form is what idempotency compares: its SHA-256 is the request hash, and on a
 * mismatch the first field that differs is named. Validation failures are decided by the request
 * alone, so they are returned before any write and never stored under the key.
 */
import { ErrorCatalogue, Money, Text } from "@clawbounties/domain"
import { hash as digest } from "node:crypto"
import type {
  Bucket,
  Destination,
  EntryKind,
  Leg,
  Location,
  Metadata,
  Operation,
  OperationName
} from "../Ledger.js"

export const BUCKETS: ReadonlyArray<Bucket> = ["A", "H", "B", "F", "P"]
const ENTRY_KINDS: ReadonlySet<string> = new Set([
  "mint", "burn", "transfer", "hold", "release", "refund", "stake_lock", "stake_release", "stake_slash",
  "fee_transfer", "tip_transfer", "promo_mint", "promo_burn", "payout_lock", "payout_settle",
  "payout_reverse", "reversal", "adjustment"
])
const ACCOUNT_PATTERN = /^[a-z][a-z0-9_-]*:[A-Za-z0-9._:-]{1,200}$/
const CURRENCY_PATTERN = /^[A-Z]{3}$/
const MAX_LEGS = 64

/** Balances stay within ±4·10^18, inside a signed 64-bit integer with room for a sum of a few. */
export const BALANCE_LIMIT = 4_000_000_000_000_000_000n

export const isWorld = (account: string): boolean => account.startsWith("world:")

/** What the transaction has to do for one request, before the state is known. */
export type Plan =
  | { readonly _tag: "Legs"; readonly legs: ReadonlyArray<Leg> }
  | { readonly _tag: "Hold"; readonly account: string; readonly amount: bigint }
  | { readonly _tag: "Release"; readonly holdId: string; readonly destinations: ReadonlyArray<Destination> }
  | { readonly _tag: "Void"; readonly holdId: string }

export interface Prepared {
  readonly key: string
  readonly op: OperationName
  readonly kind: EntryKind
  /** Undefined for release and void: the hold's currency applies. */
  readonly currency: string | undefined
  readonly metadata: Metadata
  readonly metadataJson: string
  readonly requestJson: string
  readonly hash: string
  readonly plan: Plan
}

export type ValidationError =
  | ErrorCatalogue.InvalidRequest
  | ErrorCatalogue.UnsupportedCurrency
  | ErrorCatalogue.InvalidAccount
  | ErrorCatalogue.AmountOutOfRange
  | ErrorCatalogue.UnbalancedEntry
  | ErrorCatalogue.InvalidPosting

class Invalid {
  constructor(readonly error: ValidationError) {}
}

const fail = (error: ValidationError): never => {
  throw new Invalid(error)
}

const invalid = (message: string) => fail(new ErrorCatalogue.InvalidRequest({ message }))

const checkKey = (key: unknown): string => {
  if (typeof key !== "string" || key.length === 0 || key.length > 255 || !Text.isPlain(key)) {
    return invalid("idempotencyKey must be a string of 1 to 255 characters, without control characters or unpaired surrogates")
  }
  return key
}

const checkAccount = (account: unknown, field: string): string => {
  if (typeof account !== "string" || !ACCOUNT_PATTERN.test(account)) {
    return fail(new ErrorCatalogue.InvalidAccount({ account: String(account), reason: `${field} is not a valid account name` }))
  }
  return account
}

const checkWorld = (account: unknown, field: string): string => {
  const name = checkAccount(account, field)
  if (!isWorld(name)) {
    return fail(new ErrorCatalogue.InvalidAccount({ account: name, reason: `${field} must be a world:* account` }))
  }
  return name
}

const checkNotWorld = (account: unknown, field: string): string => {
  const name = checkAccount(account, field)
  if (isWorld(name)) {
    return fail(new ErrorCatalogue.InvalidAccount({ account: name, reason: `${field} must not be a world:* account` }))
  }
  return name
}

const checkCurrency = (currency: unknown): string => {
  if (typeof currency !== "string" || !CURRENCY_PATTERN.test(currency)) {
    return fail(new ErrorCatalogue.UnsupportedCurrency({ currency: String(currency) }))
  }
  return currency
}

const checkBucket = (bucket: unknown, field: string, allowHeld = false): Bucket => {
  if (typeof bucket !== "string" || !BUCKETS.includes(bucket as Bucket)) {
    return invalid(`${field} must be one of A, H, B, F, P`)
  }
  if (bucket === "H" && !allowHeld) return fail(new ErrorCatalogue.InvalidPosting({ reason: "reserved_bucket" }))
  return bucket as Bucket
}

const checkAmount = (amount: unknown, field: string): bigint => {
  if (typeof amount !== "bigint") return invalid(`${field} must be a bigint of minor units`)
  if (amount < 1n || amount > Money.MAX_AMOUNT_MINOR) {
    return fail(new ErrorCatalogue.AmountOutOfRange({ field, amount, min: 1n, max: Money.MAX_AMOUNT_MINOR }))
  }
  return amount
}

const checkKind = (kind: unknown, fallback: EntryKind): EntryKind => {
  if (kind === undefined) return fallback
  if (typeof kind !== "string" || !ENTRY_KINDS.has(kind)) return invalid(`kind must be a journal entry kind`)
  return kind as EntryKind
}

const checkHoldId = (holdId: unknown): string => {
  if (typeof holdId !== "string" || holdId.length === 0 || holdId.length > 64 || !Text.isPlain(holdId)) {
    return invalid("holdId must be a string of 1 to 64 characters, without control characters or unpaired surrogates")
  }
  return holdId
}

const checkMetadata = (metadata: unknown): Metadata => {
  if (metadata === undefined) return {}
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    return invalid("metadata must be an object of strings, numbers, booleans and nulls")
  }
  const entries = Object.entries(metadata)
  if (entries.length > 32) return invalid("metadata has at most 32 keys")
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > 64) return invalid("metadata keys have 1 to 64 characters")
    const ok = value === null || typeof value === "boolean" ||
      (typeof value === "number" && Number.isFinite(value)) ||
      (typeof value === "string" && value.length <= 1024)
    if (!ok) return invalid(`metadata.${key} must be a string (at most 1024 characters), a finite number, a boolean or null`)
  }
  return metadata as Metadata
}

const sameLocation = (a: Location, b: Location) => a.account === b.account && a.bucket === b.bucket

/** Builds the canonical request object in a fixed field order, then its JSON and hash. */
const canonical = (
  key: string,
  op: OperationName,
  kind: EntryKind,
  currency: string | undefined,
  fields: ReadonlyArray<readonly [string, string]>,
  metadata: Metadata,
  plan: Plan
): Prepared => {
  const request: Record<string, string | number | boolean | null> = { op, kind }
  if (currency !== undefined) request.currency = currency
  for (const [path, value] of fields) request[path] = value
  // No prototype, so a `__proto__` metadata key is kept as data (see marketplace `Json.canonical`).
  const sortedMetadata: Record<string, string | number | boolean | null> = Object.create(null)
  for (const name of Object.keys(metadata).sort()) {
    sortedMetadata[name] = metadata[name]!
    request[`metadata.${name}`] = metadata[name]!
  }
  const requestJson = JSON.stringify(request)
  return {
    key,
    op,
    kind,
    currency,
    metadata: sortedMetadata,
    metadataJson: JSON.stringify(sortedMetadata),
    requestJson,
    // One-shot crypto.hash: a third of createHash's cost on a short string (measured, 1.1 vs 2.4 µs).
    hash: digest("sha256", requestJson, "hex"),
    plan
  }
}

const legsOf = (from: Location, to: Location, amount: bigint): ReadonlyArray<Leg> => [
  { account: from.account, bucket: from.bucket, amount: -amount },
  { account: to.account, bucket: to.bucket, amount }
]

const prepareUnsafe = (operation: Operation): Prepared => {
  const key = checkKey(operation.idempotencyKey)
  const metadata = checkMetadata(operation.metadata)
  const move = (
    kind: EntryKind,
    currency: string,
    from: Location,
    to: Location,
    amount: bigint
  ): Prepared => {
    if (sameLocation(from, to)) fail(new ErrorCatalogue.InvalidPosting({ reason: "same_location" }))
    return canonical(key, operation.op, kind, currency, [
      ["from.account", from.account],
      ["from.bucket", from.bucket],
      ["to.account", to.account],
      ["to.bucket", to.bucket],
      ["amount", amount.toString()]
    ], metadata, { _tag: "Legs", legs: legsOf(from, to, amount) })
  }
  switch (operation.op) {
    case "mint": {
      const world = checkWorld(operation.world, "world")
      const account = checkNotWorld(operation.account, "account")
      const bucket = checkBucket(operation.bucket ?? "A", "bucket")
      return move(checkKind(operation.kind, "mint"), checkCurrency(operation.currency), { account: world, bucket: "A" }, { account, bucket }, checkAmount(operation.amount, "amount"))
    }
    case "burn": {
      const account = checkNotWorld(operation.account, "account")
      const bucket = checkBucket(operation.bucket ?? "A", "bucket")
      const world = checkWorld(operation.world, "world")
      return move(checkKind(operation.kind, "burn"), checkCurrency(operation.currency), { account, bucket }, { account: world, bucket: "A" }, checkAmount(operation.amount, "amount"))
    }
    case "transfer": {
      const from = { account: checkAccount(operation.from?.account, "from.account"), bucket: checkBucket(operation.from?.bucket, "from.bucket") }
      const to = { account: checkAccount(operation.to?.account, "to.account"), bucket: checkBucket(operation.to?.bucket, "to.bucket") }
      return move(checkKind(operation.kind, "transfer"), checkCurrency(operation.currency), from, to, checkAmount(operation.amount, "amount"))
    }
    case "stakeLock":
    case "stakeRelease": {
      const account = checkNotWorld(operation.account, "account")
      const lock = operation.op === "stakeLock"
      return move(lock ? "stake_lock" : "stake_release", checkCurrency(operation.currency), { account, bucket: lock ? "A" : "B" }, { account, bucket: lock ? "B" : "A" }, checkAmount(operation.amount, "amount"))
    }
    case "stakeSlash": {
      const account = checkNotWorld(operation.account, "account")
      const to = { account: checkAccount(operation.to?.account, "to.account"), bucket: checkBucket(operation.to?.bucket, "to.bucket") }
      return move("stake_slash", checkCurrency(operation.currency), { account, bucket: "B" }, to, checkAmount(operation.amount, "amount"))
    }
    case "feeTransfer": {
      const from = { account: checkAccount(operation.from?.account, "from.account"), bucket: checkBucket(operation.from?.bucket ?? "A", "from.bucket") }
      const to = { account: checkAccount(operation.to, "to"), bucket: "F" as const }
      return move("fee_transfer", checkCurrency(operation.currency), from, to, checkAmount(operation.amount, "amount"))
    }
    case "promoMint": {
      const world = checkWorld(operation.world, "world")
      const account = checkNotWorld(operation.account, "account")
      return move("promo_mint", checkCurrency(operation.currency), { account: world, bucket: "A" }, { account, bucket: "P" }, checkAmount(operation.amount, "amount"))
    }
    case "promoBurn": {
      const world = checkWorld(operation.world, "world")
      const account = checkNotWorld(operation.account, "account")
      return move("promo_burn", checkCurrency(operation.currency), { account, bucket: "P" }, { account: world, bucket: "A" }, checkAmount(operation.amount, "amount"))
    }
    case "post": {
      const kind = checkKind(operation.kind, "transfer")
      const currency = checkCurrency(operation.currency)
      const input = operation.legs
      if (!Array.isArray(input) || input.length < 2) return fail(new ErrorCatalogue.InvalidPosting({ reason: "no_legs" }))
      if (input.length > MAX_LEGS) return fail(new ErrorCatalogue.InvalidPosting({ reason: "too_many_legs" }))
      const legs: Array<Leg> = []
      const fields: Array<readonly [string, string]> = []
      let sum = 0n
      input.forEach((leg, i) => {
        const account = checkAccount(leg?.account, `legs[${i}].account`)
        const bucket = checkBucket(leg?.bucket, `legs[${i}].bucket`)
        const amount = leg?.amount
        if (typeof amount !== "bigint") return invalid(`legs[${i}].amount must be a bigint`)
        const magnitude = amount < 0n ? -amount : amount
        if (magnitude < 1n || magnitude > Money.MAX_AMOUNT_MINOR) {
          return fail(new ErrorCatalogue.AmountOutOfRange({ field: `legs[${i}].amount`, amount, min: -Money.MAX_AMOUNT_MINOR, max: Money.MAX_AMOUNT_MINOR }))
        }
        if (legs.some((other) => sameLocation(other, { account, bucket }))) {
          return fail(new ErrorCatalogue.InvalidPosting({ reason: "same_location" }))
        }
        sum += amount
        legs.push({ account, bucket, amount })
        fields.push([`legs[${i}].account`, account], [`legs[${i}].bucket`, bucket], [`legs[${i}].amount`, amount.toString()])
      })
      if (sum !== 0n) return fail(new ErrorCatalogue.UnbalancedEntry({ sum }))
      return canonical(key, "post", kind, currency, fields, metadata, { _tag: "Legs", legs })
    }
    case "hold": {
      const account = checkAccount(operation.account, "account")
      const amount = checkAmount(operation.amount, "amount")
      return canonical(key, "hold", checkKind(operation.kind, "hold"), checkCurrency(operation.currency), [
        ["account", account],
        ["amount", amount.toString()]
      ], metadata, { _tag: "Hold", account, amount })
    }
    case "releaseHold": {
      const holdId = checkHoldId(operation.holdId)
      const input = operation.destinations
      if (!Array.isArray(input) || input.length === 0) return fail(new ErrorCatalogue.InvalidPosting({ reason: "no_legs" }))
      if (input.length > MAX_LEGS) return fail(new ErrorCatalogue.InvalidPosting({ reason: "too_many_legs" }))
      const fields: Array<readonly [string, string]> = [["holdId", holdId]]
      const destinations = input.map((destination, i): Destination => {
        const account = checkAccount(destination?.account, `destinations[${i}].account`)
        const bucket = checkBucket(destination?.bucket, `destinations[${i}].bucket`)
        const amount = checkAmount(destination?.amount, `destinations[${i}].amount`)
        fields.push([`destinations[${i}].account`, account], [`destinations[${i}].bucket`, bucket], [`destinations[${i}].amount`, amount.toString()])
        return { account, bucket, amount }
      })
      return canonical(key, "releaseHold", checkKind(operation.kind, "release"), undefined, fields, metadata, { _tag: "Release", holdId, destinations })
    }
    case "voidHold": {
      const holdId = checkHoldId(operation.holdId)
      return canonical(key, "voidHold", checkKind(operation.kind, "refund"), undefined, [["holdId", holdId]], metadata, { _tag: "Void", holdId })
    }
    default:
      return invalid(`unknown operation ${String((operation as { op?: unknown }).op)}`)
  }
}

/** Validates and canonicalises one operation. */
export const prepare = (operation: Operation): Prepared | ValidationError => {
  try {
    return prepareUnsafe(operation)
  } catch (error) {
    if (error instanceof Invalid) return error.error
    throw error
  }
}

export const isValidationError = (value: Prepared | ValidationError): value is ValidationError => "_tag" in value

/**
 * The first field in which two canonical requests differ. Fields are compared in canonical order; a
 * list of a different length is named by the list (`destinations`).
 */
export const firstDifference = (storedJson: string, requestJson: string): string => {
  const stored = Object.entries(JSON.parse(storedJson) as Record<string, unknown>)
  const current = Object.entries(JSON.parse(requestJson) as Record<string, unknown>)
  const length = Math.max(stored.length, current.length)
  for (let i = 0; i < length; i++) {
    const a = stored[i]
    const b = current[i]
    if (a !== undefined && b !== undefined && a[0] === b[0]) {
      if (a[1] !== b[1]) return a[0]
      continue
    }
    const path = (b ?? a)![0]
    const list = /^([a-z]+)\[\d+\]/i.exec(path)
    return list !== null ? list[1]! : path.startsWith("metadata.") ? "metadata" : path
  }
  return "request"
}
