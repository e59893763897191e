/**
 * Branded, prefixed identifiers and the `IdGen` service that makes them.
 *
 * Production ids are time-ordered (a millisecond timestamp from `Clock`, then random bits from
 * `Random`), so they sort by creation time and a seeded test run reproduces them. Tests may swap in
 * `IdGen.layerCounter`, whose ids are `bty_000001`, `bty_000002`, ... per prefix (per `IdScope`).
 */
import { Clock, Context, Effect, FiberRef, Layer, Random, Schema } from "effect"

/** Every id kind the engine issues, with its wire prefix. */
export const prefixes = {
  bounty: "bty",
  submission: "sub",
  escrow: "esc",
  worker: "wrk",
  account: "acc",
  hold: "hld",
  journalEntry: "led_evt",
  dispute: "dsp",
  tipPool: "tpl",
  tip: "tip",
  tipBatch: "tipb",
  event: "evt",
  challenge: "chl",
  token: "tok",
  audit: "aud",
  webhook: "whk"
} as const

export type IdKind = keyof typeof prefixes

const prefixed = <B extends string>(prefix: string, brand: B) =>
  Schema.String.pipe(
    Schema.pattern(new RegExp(`^${prefix}_[0-9a-z]{6,40}$`), {
      message: () => `expected an id of the form ${prefix}_<base32>`
    }),
    Schema.brand(brand)
  )

export const BountyId = prefixed(prefixes.bounty, "BountyId")
export type BountyId = typeof BountyId.Type
export const SubmissionId = prefixed(prefixes.submission, "SubmissionId")
export type SubmissionId = typeof SubmissionId.Type
export const EscrowId = prefixed(prefixes.escrow, "EscrowId")
export type EscrowId = typeof EscrowId.Type
export const WorkerId = prefixed(prefixes.worker, "WorkerId")
export type WorkerId = typeof WorkerId.Type
export const AccountId = prefixed(prefixes.account, "AccountId")
export type AccountId = typeof AccountId.Type
export const HoldId = prefixed(prefixes.hold, "HoldId")
export type HoldId = typeof HoldId.Type
export const JournalEntryId = prefixed(prefixes.journalEntry, "JournalEntryId")
export type JournalEntryId = typeof JournalEntryId.Type
export const DisputeId = prefixed(prefixes.dispute, "DisputeId")
export type DisputeId = typeof DisputeId.Type
export const TipPoolId = prefixed(prefixes.tipPool, "TipPoolId")
export type TipPoolId = typeof TipPoolId.Type
export const TipId = prefixed(prefixes.tip, "TipId")
export type TipId = typeof TipId.Type
export const TipBatchId = prefixed(prefixes.tipBatch, "TipBatchId")
export type TipBatchId = typeof TipBatchId.Type
export const EventId = prefixed(prefixes.event, "EventId")
export type EventId = typeof EventId.Type
export const ChallengeId = prefixed(prefixes.challenge, "ChallengeId")
export type ChallengeId = typeof ChallengeId.Type
export const TokenId = prefixed(prefixes.token, "TokenId")
export type TokenId = typeof TokenId.Type
export const AuditId = prefixed(prefixes.audit, "AuditId")
export type AuditId = typeof AuditId.Type
export const WebhookId = prefixed(prefixes.webhook, "WebhookId")
export type WebhookId = typeof WebhookId.Type

/** Crockford base32, lower case: sortable and unambiguous. */
const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

/** `length` base32 digits of `value` (a non-negative integer below 2^53), most significant first. */
const base32 = (value: number, length: number): string => {
  let out = ""
  for (let i = 0; i < length; i++) {
    out = alphabet[value % 32]! + out
    value = Math.floor(value / 32)
  }
  return out
}

/**
 * The id scope of a fiber, for `IdGen.layerCounter`; none by default, and inherited by the fibers it
 * forks. A counter shared by concurrent work hands its numbers out in execution order, which moves
 * with timing; ids made inside a scope (a simulated job, say: `Effect.locally(effect, IdScope, 17)`)
 * are numbered within it, so they depend only on what runs inside. Production ids ignore it.
 */
export const IdScope: FiberRef.FiberRef<number | undefined> = FiberRef.unsafeMake<number | undefined>(undefined)

export class IdGen extends Context.Tag("@clawbounties/domain/IdGen")<
  IdGen,
  {
    /** A fresh id with the prefix of `kind`, e.g. `make("bounty")` -> `"bty_01j..."`. */
    readonly make: (kind: IdKind) => Effect.Effect<string>
  }
>() {
  /**
   * Time-ordered ids: 10 base32 characters of milliseconds (sortable until the year 10889), then 16
   * of randomness (80 bits). Time and randomness come from Effect's services, so they are replayable.
   */
  static readonly layer = Layer.succeed(IdGen, {
    make: (kind) =>
      Effect.gen(function* () {
        const millis = yield* Clock.currentTimeMillis
        const high = yield* Random.nextIntBetween(0, 2 ** 30)
        const mid = yield* Random.nextIntBetween(0, 2 ** 30)
        const low = yield* Random.nextIntBetween(0, 2 ** 20)
        // 80 random bits as 30 + 30 + 20: each part fills whole base32 digits (6, 6 and 4).
        return `${prefixes[kind]}_${base32(millis, 10)}${base32(high, 6)}${base32(mid, 6)}${base32(low, 4)}`
      })
  })

  /**
   * Counter ids per prefix, readable in test output and fully deterministic: `bty_000001`,
   * `bty_000002`, ... outside an {@link IdScope}, `bty_j00017n001`, ... inside scope 17 (the two
   * forms never collide). A fresh counter each time the layer is built.
   */
  static readonly layerCounter = Layer.sync(IdGen, () => {
    const counters = new Map<string, number>()
    const next = (key: string) => {
      const n = (counters.get(key) ?? 0) + 1
      counters.set(key, n)
      return n
    }
    return {
      make: (kind: IdKind) =>
        Effect.map(FiberRef.get(IdScope), (scope) =>
          scope === undefined
            ? `${prefixes[kind]}_${String(next(kind)).padStart(6, "0")}`
            : `${prefixes[kind]}_j${String(scope).padStart(5, "0")}n${String(next(`${scope}:${kind}`)).padStart(3, "0")}`
        )
    }
  })
}
