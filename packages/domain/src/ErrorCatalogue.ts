/**
 * The error catalogue: every typed error the engine can return, each with one stable wire code and
 * one HTTP status. Sections live in `errors/`, one per area; this module joins them.
 */
import { type CommonError, commonEntries } from "./errors/Common.js"
import type { Entry } from "./errors/Entry.js"
import { type IdentityError, identityEntries } from "./errors/Identity.js"
import { type LedgerError, ledgerEntries } from "./errors/Ledger.js"
import { type MarketplaceError, marketplaceEntries } from "./errors/Marketplace.js"

export type { Entry } from "./errors/Entry.js"
export * from "./errors/Common.js"
export * from "./errors/Identity.js"
export * from "./errors/Ledger.js"
export * from "./errors/Marketplace.js"

/** Every error a command can fail with. */
export type EngineError = CommonError | LedgerError | IdentityError | MarketplaceError

export const entries: { readonly [K in EngineError["_tag"]]: Entry } = {
  ...commonEntries,
  ...ledgerEntries,
  ...identityEntries,
  ...marketplaceEntries
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

/** The wire body of an error: `{ error: CODE, message, details }`, and the status to send it with. */
export const toWire = (error: EngineError): {
  readonly status: Entry["status"]
  readonly body: { readonly error: string; readonly message: string; readonly details: Record<string, unknown> }
} => {
  const entry = entryOf(error)
  const message = "message" in error && typeof error.message === "string" && error.message.length > 0
    ? error.message
    : entry.summary
  return { status: entry.status, body: { error: entry.code, message, details: detailsOf(error) } }
}
