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

const equal = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) return false
  try {
    return JSON.stringify(a) === JSON.stringify(b)
  } catch {
    return false // a value too deep to write is not the schema's constant
  }
}

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

/**
 * Paths are built lazily as a linked list and rendered only for the error reported: building a
 * string for every property visited was a third of the validation time.
 */
type Path = { readonly parent: Path; readonly key: string | number } | string
const child = (parent: Path, key: string | number): Path => ({ parent, key })
const render = (path: Path): string => {
  if (typeof path === "string") return path
  const base = render(path.parent)
  return typeof path.key === "number" ? `${base}[${path.key}]` : base === "" ? path.key : `${base}.${path.key}`
}

/** Validates `value` against `schema`; the first failure, or undefined. */
export const validate = (schema: Schema, value: unknown, path = ""): SchemaError | undefined => {
  const e = check(schema, value, path)
  return e === undefined ? undefined : { path: render(e.path), message: e.message }
}

interface RawError {
  readonly path: Path
  readonly message: string
}

/**
 * Each schema node is turned once into a plan with a fixed shape, so the hot loop reads
 * monomorphic fields instead of probing twenty optional keys on differently shaped objects.
 */
interface Plan {
  readonly always: boolean | undefined
  readonly ref: Schema | undefined
  readonly types: ReadonlyArray<string> | undefined
  readonly hasConst: boolean
  readonly constValue: unknown
  readonly enumValues: ReadonlyArray<unknown> | undefined
  readonly minLength: number | undefined
  readonly maxLength: number | undefined
  readonly pattern: RegExp | undefined
  readonly patternSource: string | undefined
  readonly format: ((s: string) => boolean) | undefined
  readonly formatName: string | undefined
  readonly minimum: number | undefined
  readonly maximum: number | undefined
  readonly minItems: number | undefined
  readonly maxItems: number | undefined
  readonly items: Schema | undefined
  readonly contains: Schema | undefined
  readonly required: ReadonlyArray<string> | undefined
  readonly properties: Map<string, Schema> | undefined
  readonly patternProperties: ReadonlyArray<readonly [RegExp, Schema]> | undefined
  readonly additional: Schema | undefined
  readonly allOf: ReadonlyArray<Schema> | undefined
  readonly anyOf: ReadonlyArray<Schema> | undefined
  readonly oneOf: ReadonlyArray<Schema> | undefined
  readonly ifSchema: Schema | undefined
  readonly thenSchema: Schema | undefined
  readonly elseSchema: Schema | undefined
}

const plans = new WeakMap<object, Plan>()
const TRUE_PLAN = { always: true } as Plan
const FALSE_PLAN = { always: false } as Plan

const planOf = (schema: Schema): Plan => {
  if (schema === true) return TRUE_PLAN
  if (schema === false) return FALSE_PLAN
  const cached = plans.get(schema)
  if (cached !== undefined) return cached
  const s = schema
  let ref: Schema | undefined
  if (typeof s.$ref === "string") {
    ref = byId.get(new URL(s.$ref, baseOf.get(s) ?? "https://schemas.clawbureau.org/").href)
    if (ref === undefined) throw new Error(`JsonSchema: unresolved $ref ${s.$ref}`)
  }
  const plan: Plan = {
    always: undefined,
    ref,
    types: s.type === undefined ? undefined : Array.isArray(s.type) ? (s.type as Array<string>) : [s.type as string],
    hasConst: "const" in s,
    constValue: s.const,
    enumValues: s.enum as Array<unknown> | undefined,
    minLength: s.minLength as number | undefined,
    maxLength: s.maxLength as number | undefined,
    pattern: s.pattern === undefined ? undefined : regex(s.pattern as string),
    patternSource: s.pattern as string | undefined,
    format: s.format === undefined ? undefined : formats[s.format as string],
    formatName: s.format as string | undefined,
    minimum: s.minimum as number | undefined,
    maximum: s.maximum as number | undefined,
    minItems: s.minItems as number | undefined,
    maxItems: s.maxItems as number | undefined,
    items: s.items as Schema | undefined,
    contains: s.contains as Schema | undefined,
    required: s.required as Array<string> | undefined,
    properties: s.properties === undefined ? undefined : new Map(Object.entries(s.properties as Record<string, Schema>)),
    patternProperties: s.patternProperties === undefined ? undefined
      : Object.entries(s.patternProperties as Record<string, Schema>).map(([p, sub]) => [regex(p), sub] as const),
    additional: s.additionalProperties as Schema | undefined,
    allOf: s.allOf as Array<Schema> | undefined,
    anyOf: s.anyOf as Array<Schema> | undefined,
    oneOf: s.oneOf as Array<Schema> | undefined,
    ifSchema: s.if as Schema | undefined,
    thenSchema: s.then as Schema | undefined,
    elseSchema: s.else as Schema | undefined
  }
  plans.set(s, plan)
  return plan
}

const check = (schema: Schema, value: unknown, path: Path): RawError | undefined => {
  const s = planOf(schema)
  if (s.always === true) return undefined
  if (s.always === false) return { path, message: "no value is allowed here" }
  if (s.ref !== undefined) {
    const e = check(s.ref, value, path)
    if (e !== undefined) return e
  }
  if (s.types !== undefined && !s.types.some((t) => hasType(value, t))) return { path, message: `must be ${s.types.join(" or ")}` }
  if (s.hasConst && !equal(value, s.constValue)) return { path, message: `must be equal to constant ${JSON.stringify(s.constValue)}` }
  if (s.enumValues !== undefined && !s.enumValues.some((e) => equal(value, e))) {
    return { path, message: "must be equal to one of the allowed values" }
  }
  if (typeof value === "string") {
    if (s.minLength !== undefined && value.length < 2 * s.minLength && codePoints(value) < s.minLength) return { path, message: `must NOT have fewer than ${s.minLength} characters` }
    if (s.maxLength !== undefined && value.length > s.maxLength && codePoints(value) > s.maxLength) return { path, message: `must NOT have more than ${s.maxLength} characters` }
    if (s.pattern !== undefined && !s.pattern.test(value)) return { path, message: `must match pattern "${s.patternSource}"` }
    if (s.format !== undefined && !s.format(value)) return { path, message: `must match format "${s.formatName}"` }
  }
  if (typeof value === "number") {
    if (s.minimum !== undefined && value < s.minimum) return { path, message: `must be >= ${s.minimum}` }
    if (s.maximum !== undefined && value > s.maximum) return { path, message: `must be <= ${s.maximum}` }
  }
  if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < s.minItems) return { path, message: `must NOT have fewer than ${s.minItems} items` }
    if (s.maxItems !== undefined && value.length > s.maxItems) return { path, message: `must NOT have more than ${s.maxItems} items` }
    if (s.items !== undefined) {
      for (let i = 0; i < value.length; i++) {
        const e = check(s.items, value[i], child(path, i))
        if (e !== undefined) return e
      }
    }
    if (s.contains !== undefined && !value.some((v, i) => check(s.contains!, v, child(path, i)) === undefined)) {
      return { path, message: "must contain at least 1 valid item" }
    }
  } else if (typeof value === "object" && value !== null) {
    const obj = value as Record<string, unknown>
    if (s.required !== undefined) {
      for (const key of s.required) {
        if (!(key in obj)) return { path, message: `must have required property '${key}'` }
      }
    }
    if (s.properties !== undefined || s.patternProperties !== undefined || s.additional !== undefined) {
      for (const key in obj) {
        let matched = false
        const sub = s.properties?.get(key)
        if (sub !== undefined) {
          matched = true
          const e = check(sub, obj[key], child(path, key))
          if (e !== undefined) return e
        }
        if (s.patternProperties !== undefined) {
          for (const [re, ps] of s.patternProperties) {
            if (re.test(key)) {
              matched = true
              const e = check(ps, obj[key], child(path, key))
              if (e !== undefined) return e
            }
          }
        }
        if (!matched && s.additional !== undefined) {
          const e = s.additional === false
            ? { path: child(path, key), message: "must NOT have additional properties" }
            : check(s.additional, obj[key], child(path, key))
          if (e !== undefined) return e
        }
      }
    }
  }
  if (s.allOf !== undefined) {
    for (const sub of s.allOf) {
      const e = check(sub, value, path)
      if (e !== undefined) return e
    }
  }
  if (s.anyOf !== undefined) {
    let first: RawError | undefined
    let ok = false
    for (const sub of s.anyOf) {
      const e = check(sub, value, path)
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
    let first: RawError | undefined
    for (const sub of s.oneOf) {
      const e = check(sub, value, path)
      if (e === undefined) matches++
      else first ??= e
    }
    if (matches !== 1) return matches === 0 ? (first ?? { path, message: "must match exactly one schema in oneOf" }) : { path, message: "must match exactly one schema in oneOf" }
  }
  if (s.ifSchema !== undefined) {
    const branch = check(s.ifSchema, value, path) === undefined ? s.thenSchema : s.elseSchema
    if (branch !== undefined) {
      const e = check(branch, value, path)
      if (e !== undefined) return e
    }
  }
  return undefined
}

/** Validates against a named schema (`proof_bundle_envelope.v1`). */
export const validateNamed = (name: string, value: unknown, path = ""): SchemaError | undefined =>
  validate(schemaFor(name), value, path)
