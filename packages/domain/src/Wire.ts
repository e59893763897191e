/**
 * Wire primitives shared by the entity schemas: timestamps, opaque JSON objects, and the way a module
 * documents where it extends the reference's JSON Schemas.
 */
import { Schema } from "effect"

const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/

/**
 * An instant: an RFC 3339 `date-time` string on the wire (`2026-02-03T10:00:00.000Z` when we write
 * it), a `DateTime.Utc` in memory. Dates without a time or an offset are refused, as JSON Schema's
 * `date-time` format refuses them.
 */
export const Timestamp = Schema.compose(
  Schema.String.pipe(Schema.pattern(rfc3339, { message: () => "expected an RFC 3339 date-time, e.g. 2026-02-03T10:00:00Z" })),
  Schema.DateTimeUtc
).annotations({ identifier: "Timestamp" })
export type Timestamp = typeof Timestamp.Type

/** Free-form JSON object (`metadata`), or a signed envelope whose structure `verify` checks. */
export const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })
export type JsonObject = typeof JsonObject.Type

/**
 * One documented difference between our encoded form and a reference JSON Schema. `path` is a
 * dotted path of property names (`status`, `all_in_cost.currency`). The reference-schema test relaxes
 * the reference by exactly these entries, so any undocumented difference fails it.
 */
export type ReferenceExtension =
  /** A property the reference does not have (it sets `additionalProperties: false`). */
  | { readonly kind: "property"; readonly path: string; readonly why: string }
  /** Extra values of a reference enum. */
  | { readonly kind: "enum"; readonly path: string; readonly values: ReadonlyArray<string>; readonly why: string }
  /** A property the reference requires that we may leave out. */
  | { readonly kind: "optional"; readonly path: string; readonly why: string }
