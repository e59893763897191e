/**
 * Event chains: the hash-linked log of a run inside a proof bundle.
 *
 * `event_hash_b64u = b64u(SHA-256(JSON.stringify({event_id, run_id, event_type, timestamp,
 * payload_hash_b64u, prev_hash_b64u})))` with the keys in exactly that order and `prev_hash_b64u`
 * null on the first event; each later event's `prev_hash_b64u` equals the previous event's hash.
 */
import * as Base64Url from "./Base64Url.js"
import * as Hash from "./Hash.js"
import { fail, isDateTime, isNonEmptyString, isRecord, parseTime, type VerificationError } from "./Result.js"

export interface Event {
  readonly event_id: string
  readonly run_id: string
  readonly event_type: string
  readonly timestamp: string
  readonly payload_hash_b64u: string
  readonly prev_hash_b64u: string | null
  readonly event_hash_b64u: string
}

/** The hash of an event from its six hashed fields. */
export const eventHash = (e: Omit<Event, "event_hash_b64u">): string =>
  // Same text as JSON.stringify of the six-key object (fields are strings after the checks),
  // without building the object.
  Hash.sha256B64uOfString(
    `{"event_id":${JSON.stringify(e.event_id)},"run_id":${JSON.stringify(e.run_id)},"event_type":${JSON.stringify(e.event_type)},` +
      `"timestamp":${JSON.stringify(e.timestamp)},"payload_hash_b64u":${JSON.stringify(e.payload_hash_b64u)},` +
      `"prev_hash_b64u":${JSON.stringify(e.prev_hash_b64u ?? null)}}`
  )

/** Builds a linked chain for one run (signing side). */
export const build = (
  runId: string,
  events: ReadonlyArray<{ readonly event_id: string; readonly event_type: string; readonly timestamp: string; readonly payload_hash_b64u: string }>
): Array<Event> => {
  const out: Array<Event> = []
  let prev: string | null = null
  for (const e of events) {
    const base = { event_id: e.event_id, run_id: runId, event_type: e.event_type, timestamp: e.timestamp, payload_hash_b64u: e.payload_hash_b64u, prev_hash_b64u: prev }
    const event_hash_b64u = eventHash(base)
    out.push({ ...base, event_hash_b64u })
    prev = event_hash_b64u
  }
  return out
}

const isHashLike = (v: unknown): v is string => typeof v === "string" && v.length >= 8 && Base64Url.isAlphabet(v)

/**
 * Checks fields, run id, linkage and (when `recompute`) every event hash, in the reference's
 * order. Field and linkage problems are MALFORMED_ENVELOPE, a wrong hash HASH_MISMATCH.
 */
export const check = (
  events: ReadonlyArray<unknown>,
  fieldPrefix: string,
  options: {
    readonly recompute?: boolean
    readonly strict?: boolean
    /** The events already passed the proof-bundle schema (non-empty strings, date-time, b64u). */
    readonly schemaChecked?: boolean
  } = {}
): VerificationError | undefined => {
  const recompute = options.recompute ?? true
  const strict = options.strict ?? false
  const shaped = options.schemaChecked ?? false
  if (events.length === 0) return fail("MALFORMED_ENVELOPE", "Event chain is empty", fieldPrefix)
  let runId: string | undefined
  let prevHash: string | undefined
  for (let i = 0; i < events.length; i++) {
    const e = events[i]
    const at = `${fieldPrefix}[${i}]`
    if (!isRecord(e)) return fail("MALFORMED_ENVELOPE", "Event must be an object", at)
    if (!shaped) {
      for (const f of ["event_id", "run_id", "event_type"]) {
        if (!isNonEmptyString(e[f])) return fail("MALFORMED_ENVELOPE", `Event is missing ${f}`, `${at}.${f}`)
      }
    }
    // Date.parse stays even after the schema: RFC 3339 admits values (a leap second) it refuses.
    if (parseTime(e.timestamp) === undefined || (!shaped && strict && !isDateTime(e.timestamp))) {
      return fail("MALFORMED_ENVELOPE", "Event timestamp is invalid", `${at}.timestamp`)
    }
    if (!shaped) {
      for (const f of ["payload_hash_b64u", "event_hash_b64u"]) {
        if (!isHashLike(e[f])) return fail("MALFORMED_ENVELOPE", `Event ${f} is not a base64url hash`, `${at}.${f}`)
      }
    }
    if (i === 0) runId = e.run_id as string
    else if (e.run_id !== runId) return fail("MALFORMED_ENVELOPE", "Event run_id differs from the chain's run_id", `${at}.run_id`)
    const prev = e.prev_hash_b64u
    if (i === 0) {
      // The reference also lets "" through here (its schema does not); strict requires null.
      if (prev !== null && (strict || (prev !== "" && prev !== undefined))) {
        return fail("MALFORMED_ENVELOPE", "First event must have a null prev_hash_b64u", `${at}.prev_hash_b64u`)
      }
    } else if (!isHashLike(prev) || prev !== prevHash) {
      return fail("MALFORMED_ENVELOPE", "Hash chain break", `${at}.prev_hash_b64u`)
    }
    if (recompute) {
      const computed = eventHash(e as unknown as Event)
      if (computed !== e.event_hash_b64u) return fail("HASH_MISMATCH", "Event hash mismatch", `${at}.event_hash_b64u`)
    }
    prevHash = e.event_hash_b64u as string
  }
  return undefined
}
