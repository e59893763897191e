/**
 * A small JSON Schema (2020-12 / draft-07) validator covering exactly the keywords the reference's
 * proof-of-harness schemas use: type, const, enum, properties, required, additionalProperties,
 * patternProperties, items, min/maxItems, min/maxLength, pattern, minimum/maximum, oneOf, anyOf,
 * allOf, if/then/else, contains, format (date-time, uri) and $ref resolved by `$id` (relative refs
 * against the referring schema's `$id`, as Ajv does).
 *
 * It stands in for the reference's Ajv (`allErrors:false` here: the first failure is reported,
 * which is all a verifier needs). A keyword it does not know is a defect at load time, so a schema
 * update cannot silently weaken validation.
 */
import { schemas } from "./schemas.js"

type Schema = Record<string, unknown> | boolean

export interface SchemaError {
  /** Path of the failing value, e.g. `payload.receipts[0].binding.phase`. */
  readonly path: string
  readonly message: string
}

const KNOWN = new Set([
  "$id", "$schema", "$ref", "$defs", "definitions", "type", "const", "enum", "properties", "required",
  "additionalProperties", "patternProperties", "items", "minItems", "maxItems", "minLength", "maxLength",
  "pattern", "minimum", "maximum", "oneOf", "anyOf", "allOf", "if", "then", "else", "contains", "format"
])

const byId = new Map<string, Record<string, unknown>>()
/** The `$id` in scope for each schema node, for resolving relative `$ref`s. */
const baseOf = new WeakMap<object, string>()
const regexCache = new Map<string, RegExp>()

const index = (node: unknown, base: string): void => {
  if (Array.isArray(node)) {
    for (const n of node) index(n, base)
    return
  }
  if (typeof node !== "object" || node === null) return
  const record = node as Record<string, unknown>
  const id = typeof record.$id === "string" ? new URL(record.$id, base).href : base
  if (typeof record.$id === "string") byId.set(id, record)
  baseOf.set(record, id)
  for (const [key, value] of Object.entries(record)) {
    if (key === "enum" || key === "const") continue
    if (key === "properties" || key === "patternProperties" || key === "$defs" || key === "definitions") {
      for (const sub of Object.values(value as Record<string, unknown>)) index(sub, id)
    } else {
      if (!KNOWN.has(key)) throw new Error(`JsonSchema: unsupported keyword ${key} in ${id}`)
      if (typeof value === "object") index(value, id)
    }
  }
}
for (const schema of schemas) index(schema, "https://schemas.clawbureau.org/")

const ID_PREFIX = "https://schemas.clawbureau.org/claw.poh."

/** A schema by `$id`, or by short name (`proof_bundle_envelope.v1`). */
export const schemaFor = (nameOrId: string): Record<string, unknown> => {
  const schema = byId.get(nameOrId) ?? byId.get(`${ID_PREFIX}${nameOrId}.json`) ??
    byId.get(`https://schemas.clawbureau.org/claw.identity.${nameOrId}.json`)
  if (schema === undefined) throw new Error(`JsonSchema: no schema ${nameOrId}`)
  return schema
}

const regex = (pattern: string): RegExp => {
  let r = regexCache.get(pattern)
  if (r === undefined) {
    r = new RegExp(pattern, "u")
    regexCache.set(pattern, r)
  }
  return r
}

// ajv-formats "date-time" (full): RFC 3339 with a required timezone and valid calendar values.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/
const DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
const isDateTime = (s: string): boolean => {
  const m = DATE_TIME.exec(s)
  if (m === null) return false
  const y = +m[1]!, mo = +m[2]!, d = +m[3]!, h = +m[4]!, mi = +m[5]!, se = +m[6]!
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)
  const maxDay = mo === 2 && leap ? 29 : DAYS[mo] ?? 0
  if (mo < 1 || mo > 12 || d < 1 || d > maxDay) return false
  if (h > 23 || mi > 59 || se > 60) return false
  const tz = m[8]!
  if (tz.length === 6 && (+tz.slice(1, 3) > 23 || +tz.slice(4, 6) > 59)) return false
  return true
}
const URI = /^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]*$/
const formats: Record<string, (s: string) => boolean> = {
  "date-time": isDateTime,
  uri: (s) => URI.test(s)
}

const typeOf = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "number" ? (Number.isInteger(v) ? "integer" : "number") : typeof v

const hasType = (v: unknown, t: string): boolean => {
  const actual = typeOf(v)
  return actual === t || (t === "number" && actual === "integer")
}

const equal = (a: unknown, b: unknown): boolean =>
  a === b || (typeof a === "object" && a !== null && typeof b === "object" && b !== null && JSON.stringify(a) === JSON.stringify(b))

/** Length in Unicode code points, as Ajv counts. */
const codePoints = (s: string): number => {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    n++
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) i++
  }
  return n
}

const child = (path: string, key: string | number): string =>
  typeof key === "number" ? `${path}[${key}]` : path === "" ? key : `${path}.${key}`

/** Validates `value` against `schema`; the first failure, or undefined. */
export const validate = (schema: Schema, value: unknown, path = ""): SchemaError | undefined => {
  if (schema === true) return undefined
  if (schema === false) return { path, message: "no value is allowed here" }
  const s = schema
  if (typeof s.$ref === "string") {
    const target = byId.get(new URL(s.$ref, baseOf.get(s) ?? "https://schemas.clawbureau.org/").href)
    if (target === undefined) throw new Error(`JsonSchema: unresolved $ref ${s.$ref}`)
    const e = validate(target, value, path)
    if (e !== undefined) return e
  }
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as Array<string>) : [s.type as string]
    if (!types.some((t) => hasType(value, t))) return { path, message: `must be ${types.join(" or ")}` }
  }
  if ("const" in s && !equal(value, s.const)) return { path, message: `must be equal to constant ${JSON.stringify(s.const)}` }
  if (s.enum !== undefined && !(s.enum as Array<unknown>).some((e) => equal(value, e))) {
    return { path, message: "must be equal to one of the allowed values" }
  }
  if (typeof value === "string") {
    if (s.minLength !== undefined && codePoints(value) < (s.minLength as number)) return { path, message: `must NOT have fewer than ${String(s.minLength)} characters` }
    if (s.maxLength !== undefined && codePoints(value) > (s.maxLength as number)) return { path, message: `must NOT have more than ${String(s.maxLength)} characters` }
    if (s.pattern !== undefined && !regex(s.pattern as string).test(value)) return { path, message: `must match pattern "${String(s.pattern)}"` }
    if (s.format !== undefined) {
      const check = formats[s.format as string]
      if (check !== undefined && !check(value)) return { path, message: `must match format "${String(s.format)}"` }
    }
  }
  if (typeof value === "number") {
    if (s.minimum !== undefined && value < (s.minimum as number)) return { path, message: `must be >= ${String(s.minimum)}` }
    if (s.maximum !== undefined && value > (s.maximum as number)) return { path, message: `must be <= ${String(s.maximum)}` }
  }
  if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < (s.minItems as number)) return { path, message: `must NOT have fewer than ${String(s.minItems)} items` }
    if (s.maxItems !== undefined && value.length > (s.maxItems as number)) return { path, message: `must NOT have more than ${String(s.maxItems)} items` }
    if (s.items !== undefined) {
      for (let i = 0; i < value.length; i++) {
        const e = validate(s.items as Schema, value[i], child(path, i))
        if (e !== undefined) return e
      }
    }
    if (s.contains !== undefined && !value.some((v, i) => validate(s.contains as Schema, v, child(path, i)) === undefined)) {
      return { path, message: "must contain at least 1 valid item" }
    }
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>
    if (s.required !== undefined) {
      for (const key of s.required as Array<string>) {
        if (!(key in obj)) return { path, message: `must have required property '${key}'` }
      }
    }
    const props = s.properties as Record<string, Schema> | undefined
    const patterns = s.patternProperties as Record<string, Schema> | undefined
    for (const key of Object.keys(obj)) {
      let matched = false
      const sub = props?.[key]
      if (props !== undefined && Object.hasOwn(props, key) && sub !== undefined) {
        matched = true
        const e = validate(sub, obj[key], child(path, key))
        if (e !== undefined) return e
      }
      if (patterns !== undefined) {
        for (const [p, ps] of Object.entries(patterns)) {
          if (regex(p).test(key)) {
            matched = true
            const e = validate(ps, obj[key], child(path, key))
            if (e !== undefined) return e
          }
        }
      }
      if (!matched && s.additionalProperties !== undefined) {
        const e = s.additionalProperties === false
          ? { path: child(path, key), message: "must NOT have additional properties" }
          : validate(s.additionalProperties as Schema, obj[key], child(path, key))
        if (e !== undefined) return e
      }
    }
  }
  if (s.allOf !== undefined) {
    for (const sub of s.allOf as Array<Schema>) {
      const e = validate(sub, value, path)
      if (e !== undefined) return e
    }
  }
  if (s.anyOf !== undefined) {
    const subs = s.anyOf as Array<Schema>
    let first: SchemaError | undefined
    let ok = false
    for (const sub of subs) {
      const e = validate(sub, value, path)
      if (e === undefined) {
        ok = true
        break
      }
      first ??= e
    }
    if (!ok) return first ?? { path, message: "must match a schema in anyOf" }
  }
  if (s.oneOf !== undefined) {
    let matches = 0
    let first: SchemaError | undefined
    for (const sub of s.oneOf as Array<Schema>) {
      const e = validate(sub, value, path)
      if (e === undefined) matches++
      else first ??= e
    }
    if (matches !== 1) return matches === 0 ? (first ?? { path, message: "must match exactly one schema in oneOf" }) : { path, message: "must match exactly one schema in oneOf" }
  }
  if (s.if !== undefined) {
    const branch = validate(s.if as Schema, value, path) === undefined ? s.then : s.else
    if (branch !== undefined) {
      const e = validate(branch as Schema, value, path)
      if (e !== undefined) return e
    }
  }
  return undefined
}

/** Validates against a named schema (`proof_bundle_envelope.v1`). */
export const validateNamed = (name: string, value: unknown, path = ""): SchemaError | undefined =>
  validate(schemaFor(name), value, path)
