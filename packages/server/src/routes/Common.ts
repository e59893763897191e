/**
 * What the route modules share: who may call any route, the time, and the error lists several
 * routes declare.
 */
import { ErrorCatalogue } from "@clawbounties/domain"
import { DateTime, Effect } from "effect"

export const anyRole = ["worker", "requester", "operator"] as const
export const nowIso = Effect.map(DateTime.now, DateTime.formatIso)
export const notFound = (entity: string, id: string) => new ErrorCatalogue.NotFound({ entity, id })

export const bountyErrors = ["NotFound", "IdempotencyConflict"] as const

export const ledgerErrors = [
  "InsufficientFunds", "UnknownAccount", "InvalidAccount", "CurrencyMismatch", "HoldNotFound", "HoldAlreadyResolved",
  "HoldOverspent", "AmountOutOfRange", "UnbalancedEntry", "InvalidPosting", "UnsupportedCurrency", "InvalidRequest"
] as const
