/** Errors any command can return: bad input, missing records, idempotency, authentication. */
import { Schema } from "effect"
import type { Section } from "./Entry.js"

export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  message: Schema.String,
  issues: Schema.optional(Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String })))
}) {}

export class UnsupportedCurrency extends Schema.TaggedError<UnsupportedCurrency>()("UnsupportedCurrency", {
  currency: Schema.String
}) {}

export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {
  entity: Schema.String,
  id: Schema.String
}) {}

/** The same idempotency key was used for a different request; `field` names the first difference. */
export class IdempotencyConflict extends Schema.TaggedError<IdempotencyConflict>()("IdempotencyConflict", {
  key: Schema.String,
  field: Schema.String
}) {}

export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  reason: Schema.Literal("missing_token", "invalid_token", "revoked_token")
}) {}

export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  reason: Schema.String
}) {}

/**
 * A state-machine table (`StateMachine.ts`) has no row for this event from this state: the record is
 * not in a state where the action is allowed. `machine` names the table (`bounty`, `escrow`, ...).
 */
export class InvalidTransition extends Schema.TaggedError<InvalidTransition>()("InvalidTransition", {
  machine: Schema.String,
  from: Schema.String,
  event: Schema.String
}) {
  override get message(): string {
    return `a ${this.machine} in state '${this.from}' does not allow '${this.event}'`
  }
}

export type CommonError =
  | InvalidRequest
  | UnsupportedCurrency
  | NotFound
  | IdempotencyConflict
  | Unauthorized
  | Forbidden
  | InvalidTransition

export const commonEntries = {
  InvalidRequest: { code: "INVALID_REQUEST", status: 400, summary: "The request does not match its schema." },
  UnsupportedCurrency: { code: "UNSUPPORTED_CURRENCY", status: 400, summary: "The currency is not one the engine accepts." },
  NotFound: { code: "NOT_FOUND", status: 404, summary: "No such record, or not visible to the caller." },
  IdempotencyConflict: {
    code: "IDEMPOTENCY_CONFLICT",
    status: 409,
    summary: "The idempotency key was already used for a different request."
  },
  Unauthorized: { code: "UNAUTHORIZED", status: 401, summary: "A valid bearer token is required." },
  Forbidden: { code: "FORBIDDEN", status: 403, summary: "The caller may not perform this action on this record." },
  InvalidTransition: {
    code: "INVALID_STATUS",
    status: 409,
    summary: "The record's current status does not allow this action."
  }
} as const satisfies Section<CommonError>
