/**
 * The error catalogue: every typed error the engine can return, each with one stable wire code and
 * one HTTP status. Sections live in `errors/`, one per area; this module joins them.
 */
import { type CommonError, commonEntries } from "./errors/Common.js"
import type { Entry } from "./errors/Entry.js"
import { type FeesError, feesEntries } from "./errors/Fees.js"
import { type HttpError, httpEntries } from "./errors/Http.js"
import { type IdentityError, identityEntries } from "./errors/Identity.js"
import { type LedgerError, ledgerEntries } from "./errors/Ledger.js"
import { type MarketplaceError, marketplaceEntries } from "./errors/Marketplace.js"
import { type WebhookError, webhookEntries } from "./errors/Webhooks.js"

export type { Entry } from "./errors/Entry.js"
export * from "./errors/Common.js"
export * from "./errors/Fees.js"
export * from "./errors/Http.js"
export * from "./errors/Identity.js"
export * from "./errors/Ledger.js"
export * from "./errors/Marketplace.js"
export * from "./errors/Webhooks.js"

/** Every error a command can fail with. */
export type EngineError = CommonError | LedgerError | IdentityError | MarketplaceError | FeesError | HttpError | WebhookError

export const entries: { readonly [K in EngineError["_tag"]]: Entry } = {
  ...commonEntries,
  ...ledgerEntries,
  ...identityEntries,
  ...marketplaceEntries,
  ...feesEntries,
  ...httpEntries,
  ...webhookEntries
}

/** The catalogue as a table, sorted by code: for documentation and OpenAPI. */
export const table: ReadonlyArray<Entry & { readonly tag: string }> = Object.entries(entries)
  .map(([tag, entry]) => ({ tag, ...(entry as Entry) }))
  .sort((a, b) => a.code.localeCompare(b.code))

export const entryOf = (error: EngineError): Entry => entries[error._tag]

/** Data fields of an error, with bigints as digit strings, for the wire `details`. */
const detailsOf = (error: EngineError): Record<string, unknown> => {
  const details: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(error)) {
    if (key === "_tag" || key === "message") continue
    details[key] = typeof value === "bigint" ? value.toString() : value
  }
  return details
}

/**
 * Whether the error says something of its own: a `message` field, or a `message` getter written in its
 * class. Without either, `Schema.TaggedError` generates a message that dumps the fields (with bigints
 * as `100n`), which is no use on the wire; the catalogue's summary is sent instead.
 */
const hasOwnMessage = (error: EngineError): boolean => {
  for (let o: object | null = error; o !== null; o = Object.getPrototypeOf(o)) {
    // The generated getter sits on the class `Schema.TaggedError` returns, two steps up the chain.
    if (Object.getOwnPropertyDescriptor(o, "message") !== undefined) {
      return o === error || o === Object.getPrototypeOf(error)
    }
  }
  return false
}

/** The wire body of an error: `{ error: CODE, message, details }`, and the status to send it with. */
export const toWire = (error: EngineError): {
  readonly status: Entry["status"]
  readonly body: { readonly error: string; readonly message: string; readonly details: Record<string, unknown> }
} => {
  const entry = entryOf(error)
  const message = hasOwnMessage(error) && error.message.length > 0 ? error.message : entry.summary
  return { status: entry.status, body: { error: entry.code, message, details: detailsOf(error) } }
}
