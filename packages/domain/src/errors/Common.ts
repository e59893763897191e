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

/**
 * The connection to the database was lost while it committed the command's transaction (a server
 * restart, a killed backend, a network cut): it may or may not have committed, and no one can tell
 * from here. Only a retry under the same idempotency key settles it safely: the command is applied
 * if it was not, and replayed if it was. Never retried by the engine itself, since it does not hold
 * the caller's key.
 */
export class CommitOutcomeUnknown extends Schema.TaggedError<CommitOutcomeUnknown>()("CommitOutcomeUnknown", {}) {
  override get message(): string {
    return "the database connection was lost at COMMIT, so the outcome is unknown: retry with the same idempotency key"
  }
}

/**
 * PostgreSQL gave up on the command past a limit it was given: waiting for a row lock another
 * transaction holds (`lock_timeout`), or running a statement (`statement_timeout`). The transaction
 * was rolled back, so nothing was written; a retry later may succeed.
 */
export class DatabaseTimeout extends Schema.TaggedError<DatabaseTimeout>()("DatabaseTimeout", {
  limit: Schema.Literal("lock_timeout", "statement_timeout")
}) {
  override get message(): string {
    return this.limit === "lock_timeout"
      ? "the command waited too long for a lock another transaction holds; nothing was written: retry later"
      : "a statement of the command ran too long; nothing was written: retry later"
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
  | CommitOutcomeUnknown
  | DatabaseTimeout

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
  },
  CommitOutcomeUnknown: {
    code: "COMMIT_OUTCOME_UNKNOWN",
    status: 503,
    summary: "The database connection was lost at COMMIT: the command may or may not have been applied. Retry with the same idempotency key."
  },
  DatabaseTimeout: {
    code: "DATABASE_TIMEOUT",
    status: 503,
    summary: "The database gave up waiting for a lock or on a statement; nothing was written. Retry later."
  }
} as const satisfies Section<CommonError>
