/**
 * Verification outcomes are values, never thrown errors: `status` is VALID or INVALID and an
 * INVALID result carries `error: { code, message, field? }` with the reference verifier's codes,
 * so conformance vectors compare directly.
 */

/** Codes produced by this package. All but the last group are the reference's own. */
export type ErrorCode =
  // envelope and crypto
  | "MALFORMED_ENVELOPE"
  | "UNKNOWN_ENVELOPE_VERSION"
  | "UNKNOWN_ENVELOPE_TYPE"
  | "UNKNOWN_ALGORITHM"
  | "UNKNOWN_HASH_ALGORITHM"
  | "INVALID_DID_FORMAT"
  | "HASH_MISMATCH"
  | "SIGNATURE_INVALID"
  | "SCHEMA_VALIDATION_FAILED"
  | "MISSING_REQUIRED_FIELD"
  | "EXPIRED"
  | "EXPIRED_TTL"
  | "CLAIM_NOT_FOUND"
  | "DEPENDENCY_NOT_CONFIGURED"
  | "REVOKED"
  | "UNKNOWN_VERSION"
  | "PARSE_ERROR"
  // binding and evidence
  | "CO_SIGNATURE_INVALID"
  | "DISCLOSURE_ALGORITHM_UNKNOWN"
  | "DISCLOSURE_ROOT_MISMATCH"
  | "DISCLOSURE_TYPE_MISMATCH"
  | "EVIDENCE_MISMATCH"
  | "RECEIPT_BINDING_MISMATCH"
  | "RECEIPT_VERIFICATION_FAILED"
  | "PROOF_BUNDLE_AGENT_MISMATCH"
  | "URM_MISSING"
  | "URM_MISMATCH"
  | "INCLUSION_PROOF_INVALID"
  | "CAUSAL_CLOCK_CONTRADICTION"
  | "CAUSAL_PHASE_INVALID"
  | "CAUSAL_CONFIDENCE_OUT_OF_RANGE"
  | "CAUSAL_BINDING_NORMALIZATION_FAILED"
  | "CAUSAL_RECEIPT_REPLAY_DETECTED"
  | "FUTURE_TIMESTAMP_POISONING"
  // rate limits
  | "RATE_LIMIT_EXCEEDED"
  | "RATE_LIMIT_CLAIM_INCONSISTENT"
  | "RATE_LIMIT_WINDOW_INVALID"
  // aggregates
  | "AGGREGATE_SIGNER_MISMATCH"
  | "AGGREGATE_MEMBER_INVALID"
  | "AGGREGATE_DUPLICATE_RUN_ID"
  | "UNSORTED_MEMBER_ARRAY"
  | "FLEET_SUMMARY_MISMATCH"
  | "IDENTITY_CONFLICT"
  // legacy m1 commit signatures (reference CLI codes)
  | "UNKNOWN_TYPE"
  | "UNKNOWN_ALGO"
  | "COMMIT_MESSAGE_INVALID"
  // ours: a message_signature that does not answer the challenge it was asked for
  | "CHALLENGE_MISMATCH"

export interface VerificationError {
  readonly code: ErrorCode
  readonly message: string
  readonly field?: string
}

export type Status = "VALID" | "INVALID"

/** What every verification returns; specific verifiers add fields. */
export interface BaseResult {
  readonly status: Status
  readonly reason: string
  /** `verifyAt` as an ISO-8601 string. */
  readonly verified_at: string
  readonly error?: VerificationError
}

/**
 * A value as an error message shows it: strings as sent (cut short), other values by their kind.
 * `String(value)` of a hostile input is not safe: a deeply nested array overflows the stack.
 */
export const shown = (value: unknown): string => {
  if (typeof value === "string") return value.length > 200 ? `${value.slice(0, 200)}...` : value
  if (value === null || typeof value === "number" || typeof value === "boolean" || value === undefined) return String(value)
  return Array.isArray(value) ? "an array" : `a value of type ${typeof value}`
}

export const fail = (code: ErrorCode, message: string, field?: string): VerificationError =>
  field === undefined ? { code, message } : { code, message, field }

export const invalid = (verifiedAt: string, error: VerificationError): BaseResult => ({
  status: "INVALID",
  reason: error.message,
  verified_at: verifiedAt,
  error
})

/** Verification modes, see the package README. */
export type Mode = "strict" | "compat"

/** Options every verifier takes. */
export interface CommonOptions {
  /** `strict` (default) or `compat` (the reference's outcomes, for parity). */
  readonly mode?: Mode
  /** The instant of verification, epoch milliseconds. Never the wall clock. */
  readonly verifyAt: number
  /** Tolerance for expiry checks, milliseconds (default 0, as in the reference). */
  readonly ttlSkewMs?: number
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

export const isNonEmptyString = (value: unknown): value is string => typeof value === "string" && value.length > 0

export const isNonBlankString = (value: unknown): value is string =>
  typeof value === "string" && value.trim().length > 0

/** The reference's date check: `Date.parse` does not return NaN. */
export const parseTime = (value: unknown): number | undefined => {
  if (typeof value !== "string") return undefined
  const t = Date.parse(value)
  return Number.isNaN(t) ? undefined : t
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

const daysIn = (year: number, month: number): number =>
  month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31

/**
 * RFC 3339 `date-time` (the JSON-schema format; a timezone is required). Date.parse alone is not
 * enough: it takes Feb 30 and hour 24 and rolls them over into another instant.
 */
export const isDateTime = (value: unknown): value is string => {
  if (typeof value !== "string") return false
  const m = RFC3339.exec(value)
  if (m === null || Number.isNaN(Date.parse(value))) return false
  return +m[3]! <= daysIn(+m[1]!, +m[2]!) && +m[4]! <= 23
}

export const isoAt = (verifyAt: number): string => new Date(verifyAt).toISOString()
