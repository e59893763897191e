/**
 * Decoded inputs of the marketplace commands. The encoded side is the wire form (snake_case, money
 * as digit strings); decoding rejects unknown fields, so a typo never silently drops a setting.
 */
import { Did, ErrorCatalogue, Money, Text as StoredText } from "@clawbounties/domain"
import { Effect, ParseResult, Schema } from "effect"

/**
 * A command's own check of its input against the rules of its Schema. Commands take decoded types,
 * but an embedder can build a value of that type that breaks a rule no type expresses (a NaN
 * deadline, a title with U+0000, a share of 1.5): it is refused here, as the HTTP edge refuses it,
 * before anything is written.
 */
export const validate = <A, I>(schema: Schema.Schema<A, I>) => {
  const check = Schema.validate(schema, { errors: "all" })
  return (input: A): Effect.Effect<A, ErrorCatalogue.InvalidRequest> =>
    Effect.mapError(check(input), (error) => new ErrorCatalogue.InvalidRequest({
      message: "the command's input breaks its schema",
      issues: ParseResult.ArrayFormatter.formatErrorSync(error).slice(0, 20).map((issue) => ({
        path: issue.path.map(String).join("."),
        message: issue.message.slice(0, 300)
      }))
    }))
}

/**
 * Free text of 1..max characters. Control characters are refused: PostgreSQL cannot store U+0000 at
 * all (SQLite can), and both stores would silently replace an unpaired surrogate.
 */
export const Text = (max: number) =>
  Schema.String.pipe(
    Schema.minLength(1),
    Schema.maxLength(max),
    Schema.filter((s) => StoredText.isProse(s) || "must not contain control characters (other than tab and newline) or an unpaired surrogate")
  )

const Seconds = Schema.Int.pipe(Schema.positive())

export const IdempotencyKey = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(200),
  Schema.pattern(/^[\x21-\x7e]+$/, { message: () => "an idempotency key is printable ASCII without spaces" })
)

/**
 * A page size in a query string: plain decimal digits only (`Schema.NumberFromString` alone also
 * reads `0x10`, `1e2`, `+2` and ` 5`), from 1 to `max`.
 */
export const PageLimit = (max: number) =>
  Schema.compose(
    Schema.String.pipe(Schema.pattern(/^[1-9][0-9]{0,5}$/)).annotations({ description: `a page size in decimal digits, 1 to ${max}` }),
    Schema.NumberFromString
  ).pipe(
    // The OpenAPI document shows this (the decoded) side: it must say integer and state the bound,
    // or a client generated from it sends a size the server refuses.
    Schema.int(),
    Schema.between(1, max)
  )

/**
 * A page size an embedder passed: the default when it is not a whole number (NaN reached SQL and
 * failed there; a negative LIMIT is no limit at all on SQLite), otherwise clamped to 1..max, as the
 * ledger's `history` does.
 */
export const pageSize = (limit: number | undefined, fallback: number, max: number): number =>
  limit === undefined || !Number.isInteger(limit) ? fallback : Math.min(Math.max(limit, 1), max)

export const ProofTierFloor = Schema.Literal("self", "gateway", "sandbox")
export type ProofTierFloor = typeof ProofTierFloor.Type

/** Nesting JSON may have: of a stored value here, and of a whole body at the HTTP edge. */
export const MAX_JSON_DEPTH = 64

/** Whether JSON keeps `value` as it is (an undefined property is left out, as JSON leaves it). */
const isJsonValue = (value: unknown, depth: number): boolean => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true
    case "number":
      return Number.isFinite(value)
    case "object": {
      if (value === null) return true
      if (depth >= MAX_JSON_DEPTH) return false
      if (Array.isArray(value)) return value.every((item) => isJsonValue(item, depth + 1))
      const prototype = Object.getPrototypeOf(value)
      return (prototype === Object.prototype || prototype === null) &&
        Object.values(value).every((field) => field === undefined || isJsonValue(field, depth + 1))
    }
    default:
      return false
  }
}

/**
 * Free-form data stored as JSON. What JSON would change is refused rather than stored changed: an
 * embedder's Date became `{}`, NaN `null`, a bigint a string, and a cyclic object overflowed the stack.
 */
const JsonValue = Schema.Unknown.pipe(Schema.filter((value) =>
  isJsonValue(value, 0) || `must be JSON data (no Date, bigint, NaN, function or cycle), nested at most ${MAX_JSON_DEPTH} levels`
))

/** `POST /v1/bounties` (post_bounty_request.v2, plus the engine's `deadlines`). */
export const PostBounty = Schema.Struct({
  title: Text(256),
  description: Text(10_000),
  reward: Schema.Struct({ amount_minor: Money.PositiveAmountMinor, currency: Schema.String }),
  closure_type: Schema.Literal("test", "requester", "quorum"),
  difficulty_scalar: Schema.Number.pipe(Schema.between(0.1, 10)),
  is_code_bounty: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  min_proof_tier: Schema.optionalWith(ProofTierFloor, { default: () => "self" as const }),
  /** post_bounty_request.v2's name of the same floor (`none` = `self`); the stricter of the two holds. */
  minimum_proof_tier: Schema.optional(Schema.Literal("none", "gateway", "sandbox")),
  test_harness_id: Schema.optional(Text(200)),
  tags: Schema.optionalWith(Schema.Array(Text(50)).pipe(Schema.maxItems(10)), { default: () => [] }),
  task_spec: Schema.optional(JsonValue),
  metadata: Schema.optionalWith(
    Schema.Struct(
      { requested_worker_did: Schema.optional(Did.DidKey) },
      Schema.Record({ key: Schema.String, value: JsonValue })
    ),
    { default: () => ({}) }
  ),
  /** Engine extension: per-bounty deadlines, within the configured bounds. */
  deadlines: Schema.optional(Schema.Struct({
    accept_within_seconds: Schema.optional(Seconds),
    work_within_seconds: Schema.optional(Seconds),
    review_within_seconds: Schema.optional(Seconds)
  })),
  /**
   * Required: posting moves the reward into escrow, and a key derived from the body would make two
   * identical posts one bounty forever (the spec: every money call carries a key).
   */
  idempotency_key: IdempotencyKey
})
export type PostBounty = typeof PostBounty.Type

export const Accept = Schema.Struct({
  idempotency_key: Schema.optional(IdempotencyKey),
  /** Optional: when present it must be the caller's own DID. */
  worker_did: Schema.optional(Schema.String)
})
export type Accept = typeof Accept.Type

export const Cancel = Schema.Struct({
  idempotency_key: Schema.optional(IdempotencyKey),
  reason: Schema.optional(Text(1000))
})
export type Cancel = typeof Cancel.Type

const envelopeDescription = "a signed envelope (verified in strict mode)"
/**
 * A signed envelope as received: any JSON object. It is verified, not decoded, here: its payload
 * hash is over `JSON.stringify` of the parsed payload, so it must reach the verifier untouched.
 */
const EnvelopeObject = Schema.Object.annotations({
  identifier: "SignedEnvelope",
  description: envelopeDescription,
  // `Schema.Object` alone is documented as "an object or an array" naming no properties, which client
  // generators turn into an empty object type: no envelope could be sent through them.
  jsonSchema: { type: "object", additionalProperties: true, description: envelopeDescription }
})

/** A submission's reference to its agent pack (spec B3): where the bundle is and what it hashes to. */
export const AgentPackRef = Schema.Struct({
  bundle_url: Schema.optional(Text(2048)),
  bundle_sha256_b64u: Text(64),
  manifest_path: Schema.optional(Text(512))
})

/** `POST /v1/bounties/:id/submit` (spec B3). */
export const Submit = Schema.Struct({
  idempotency_key: Schema.optional(IdempotencyKey),
  worker_did: Schema.optional(Schema.String),
  proof_bundle_envelope: EnvelopeObject,
  commit_proof_envelope: Schema.optional(EnvelopeObject),
  artifacts: Schema.optionalWith(
    Schema.Array(Schema.Struct({ envelope: EnvelopeObject, download_url: Schema.optional(Text(2048)) })).pipe(Schema.maxItems(20)),
    { default: () => [] }
  ),
  result_summary: Schema.optional(Text(10_000)),
  agent_pack: Schema.optional(AgentPackRef)
})
export type Submit = typeof Submit.Type

export const Approve = Schema.Struct({
  idempotency_key: Schema.optional(IdempotencyKey),
  requester_did: Schema.optional(Schema.String),
  submission_id: Schema.String
})
export type Approve = typeof Approve.Type

export const Reject = Schema.Struct({
  idempotency_key: Schema.optional(IdempotencyKey),
  requester_did: Schema.optional(Schema.String),
  submission_id: Schema.String,
  reason: Text(2000)
})
export type Reject = typeof Reject.Type

/** How an operator resolves a dispute. */
export const DisputeOutcome = Schema.Literal("worker_award", "requester_refund", "split")
export type DisputeOutcome = typeof DisputeOutcome.Type

export const ResolveDispute = Schema.Struct({
  idempotency_key: Schema.optional(IdempotencyKey),
  outcome: DisputeOutcome,
  /** For `split`: the worker's share in basis points, 1..9999. */
  worker_share_bps: Schema.optional(Schema.Int.pipe(Schema.between(1, 9999))),
  note: Schema.optional(Text(2000))
})
export type ResolveDispute = typeof ResolveDispute.Type
