/**
 * Operator money commands: manual credits and debits of a participant's available balance, each a
 * journal entry against `world:manual` with a mandatory reason, audited with the operator as actor.
 *
 * Each says what it is, because statements report it: until payment rails exist a credit is how a
 * requester's top-up arrives (`purpose: "deposit"`, the default) and a debit how a worker is paid
 * out (`"payout"`, the default); either may instead be a `"correction"` of a mistake, entry kind
 * `adjustment`, which statements show as its own line outside the deposits and payouts.
 */
import { Did, type ErrorCatalogue, Money } from "@clawbounties/domain"
import { Ledger } from "@clawbounties/ledger"
import { Effect, Schema } from "effect"
import { type Actor, requireRole } from "./Actor.js"
import * as Audit from "./Audit.js"
import * as Outbox from "./Outbox.js"
import { transaction } from "./Command.js"
import * as Idempotency from "./Idempotency.js"
import * as Json from "./Json.js"
import { IdempotencyKey, Text, validate } from "./Requests.js"

/** The world account that manual adjustments come from and go to. */
export const WORLD_MANUAL = "world:manual"

const adjustmentFields = {
  /** A participant: system accounts (`platform:*`, `clearing:*`, `world:*`) are not adjusted by hand. */
  did: Schema.String.pipe(Schema.filter((did) => Schema.is(Did.DidKey)(did) || "must be a participant's did:key DID")),
  amount_minor: Money.PositiveAmountMinor,
  currency: Money.Currency,
  reason: Text(1000),
  idempotency_key: IdempotencyKey
}

/** A manual credit: a top-up (`deposit`, the default) or a `correction`. */
export const Credit = Schema.Struct({ ...adjustmentFields, purpose: Schema.optional(Schema.Literal("deposit", "correction")) })
export type Credit = typeof Credit.Type

/** A manual debit: a payout made outside the engine (`payout`, the default) or a `correction`. */
export const Debit = Schema.Struct({ ...adjustmentFields, purpose: Schema.optional(Schema.Literal("payout", "correction")) })
export type Debit = typeof Debit.Type

export type Purpose = "deposit" | "payout" | "correction"

export const AdjustmentResponse = Schema.Struct({
  did: Schema.String,
  direction: Schema.Literal("credit", "debit"),
  purpose: Schema.Literal("deposit", "payout", "correction"),
  amount_minor: Schema.String,
  currency: Schema.String,
  ledger_entry_id: Schema.String,
  available_after_minor: Schema.String
}).annotations({ identifier: "BalanceAdjustment" })
export type AdjustmentResponse = typeof AdjustmentResponse.Type

/** `valid`: the command's own check of its input against its direction's schema. */
const adjust = <I extends Credit | Debit>(direction: "credit" | "debit", valid: (input: I) => Effect.Effect<I, ErrorCatalogue.InvalidRequest>) =>
  Effect.fn(`Operators.${direction}`)(function* (actor: Actor, input: I) {
    yield* requireRole(actor, "operator")
    yield* valid(input)
    const purpose: Purpose = input.purpose ?? (direction === "credit" ? "deposit" : "payout")
    const command = Effect.gen(function* () {
      const ledger = yield* Ledger.Ledger
      const metadata = { reason: input.reason, operator: actor.did, adjustment: direction, purpose }
      yield* ledger.openAccount({ account: WORLD_MANUAL, currency: input.currency })
      if (direction === "credit") yield* ledger.openAccount({ account: input.did, currency: input.currency })
      // The ledger's keys are global and the caller's key is the operator's own (an embedder may
      // name each of its staff as an operator): scoped by operator, hashed to stay in the ledger's
      // 255 characters.
      const idempotencyKey = `manual:${direction}:${Json.hash([actor.did, input.idempotency_key])}`
      // A correction is kind `adjustment`; deposits and payouts keep `mint` and `burn`.
      const kind = purpose === "correction" ? "adjustment" : undefined
      const entry = direction === "credit"
        ? yield* ledger.mint({ kind, world: WORLD_MANUAL, account: input.did, currency: input.currency, amount: input.amount_minor, idempotencyKey, metadata })
        : yield* ledger.burn({ kind, account: input.did, world: WORLD_MANUAL, currency: input.currency, amount: input.amount_minor, idempotencyKey, metadata })
      const posting = entry.postings.find((p) => p.account === input.did && p.bucket === "A")
      if (posting === undefined) return yield* Effect.dieMessage("a manual adjustment must post to the participant's A bucket")
      const response: AdjustmentResponse = {
        did: input.did,
        direction,
        purpose,
        amount_minor: input.amount_minor.toString(),
        currency: input.currency,
        ledger_entry_id: entry.entryId,
        available_after_minor: posting.balanceAfter.toString()
      }
      // The participant learns of money moved on its account like of any other state change.
      yield* Outbox.append({
        type: `balance.manual_${direction}`,
        subjectType: "account",
        subjectId: input.did,
        recipients: [input.did],
        payload: { ...response, reason: input.reason }
      })
      const before = posting.balanceAfter - posting.amount
      yield* Audit.record({
        actor: actor.did,
        action: `ledger.manual_${direction}`,
        entityType: "account",
        entityId: input.did,
        before: { available_minor: before.toString(), currency: input.currency },
        after: { ...response, reason: input.reason }
      })
      return response
    })
    return yield* transaction(
      Idempotency.once({ principal: actor.did, command: `ledger.manual_${direction}`, key: input.idempotency_key, request: input, response: AdjustmentResponse })(command)
    )
  })

/** Adds money to a participant's available balance (a top-up before payment rails exist, or a correction). */
export const credit = adjust("credit", validate(Credit))
/** Removes money from a participant's available balance (a payout or a correction); `INSUFFICIENT_FUNDS` if short. */
export const debit = adjust("debit", validate(Debit))

