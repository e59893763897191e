/**
 * Event payloads only grow. Consumers parse events by their `type`, and the feed decodes each stored
 * event with today's schema for as long as it is kept, so a type is never removed, a field is never
 * removed, retyped or narrowed, and a field added to a type must decode from events written before
 * it (a default for when it is absent: `Schema.optionalWith(..., { default })`).
 *
 * `contracts/event-payloads.json` records each type's subject and the JSON Schema of its payload as
 * stored (the encoded side). The test fails on a change that breaks it, and on an addition not yet
 * recorded: `RECORD_EVENT_PAYLOADS=1 npx vitest run packages/marketplace/test/EventContract.test.ts`
 * records additions, and refuses to record a break.
 */
import { assert, describe, it } from "@effect/vitest"
import { JSONSchema, Schema } from "effect"
import { readFileSync, writeFileSync } from "node:fs"
import * as Events from "../src/Events.js"

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
type JsonObject = { readonly [key: string]: Json }

interface Recorded {
  readonly subject: string
  readonly payload: JsonObject
}

const file = new URL("./contracts/event-payloads.json", import.meta.url)

/** Words for people, not structure: changing them breaks no consumer. */
const PROSE = new Set(["description", "title", "$comment", "$schema"])

const isObject = (value: Json | undefined): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * The structure of a JSON Schema: references inlined, prose dropped, nested `anyOf`s flattened, so
 * two schemas that accept the same documents compare equal however they were annotated.
 */
const structure = (schema: Json): Json => {
  const defs = isObject(schema) && isObject(schema.$defs) ? schema.$defs : {}
  const walk = (value: Json): Json => {
    if (Array.isArray(value)) return value.map(walk)
    if (!isObject(value)) return value
    const ref = value.$ref
    if (typeof ref === "string" && ref.startsWith("#/$defs/")) return walk(defs[ref.slice("#/$defs/".length)] ?? null)
    const out: Record<string, Json> = {}
    for (const [key, inner] of Object.entries(value)) {
      if (PROSE.has(key) || key === "$defs") continue
      out[key] = walk(inner)
    }
    if (Array.isArray(out.anyOf)) {
      out.anyOf = out.anyOf.flatMap((alternative) =>
        isObject(alternative) && Object.keys(alternative).length === 1 && Array.isArray(alternative.anyOf) ? alternative.anyOf : [alternative]
      )
    }
    return out
  }
  return walk(schema)
}

const same = (a: Json | undefined, b: Json | undefined) => JSON.stringify(a) === JSON.stringify(b)

/**
 * What in `now` breaks a reader of `before`: an object loses a property, a property becomes
 * required that was not (events stored before it lack it), an alternative (`anyOf`) or an enum value
 * goes, or anything else changes. Properties, enum values and alternatives may be added.
 */
export const breaks = (before: Json, now: Json, path = "payload"): Array<string> => {
  if (!isObject(before) || !isObject(now)) return same(before, now) ? [] : [`${path} changed`]
  if (Array.isArray(before.anyOf) || Array.isArray(now.anyOf)) {
    const alternatives = (schema: JsonObject): ReadonlyArray<Json> => Array.isArray(schema.anyOf) ? schema.anyOf : [schema]
    return alternatives(before)
      .filter((was) => !alternatives(now).some((is) => breaks(was, is).length === 0))
      .map((was) => `${path} no longer accepts ${JSON.stringify(was)}`)
  }
  const problems: Array<string> = []
  const keys = new Set([...Object.keys(before), ...Object.keys(now)])
  for (const key of keys) {
    const was = before[key]
    const is = now[key]
    if (key === "properties" && isObject(was)) {
      for (const [name, schema] of Object.entries(was)) {
        const current = isObject(is) ? is[name] : undefined
        if (current === undefined) problems.push(`${path}.${name} was removed`)
        else problems.push(...breaks(schema, current, `${path}.${name}`))
      }
    } else if (key === "required") {
      const wasRequired = new Set(Array.isArray(was) ? was : [])
      const isRequired = new Set(Array.isArray(is) ? is : [])
      for (const name of wasRequired) if (!isRequired.has(name)) problems.push(`${path}.${String(name)} is no longer always present`)
      for (const name of isRequired) {
        if (!wasRequired.has(name)) problems.push(`${path}.${String(name)} is required, but events stored before it lack it: give it a default`)
      }
    } else if (key === "enum" && Array.isArray(was)) {
      const current: ReadonlyArray<Json> = Array.isArray(is) ? is : []
      for (const value of was) if (!current.some((c) => same(c, value))) problems.push(`${path} no longer accepts ${JSON.stringify(value)}`)
    } else if (key !== "properties" && key !== "enum" && !same(was, is)) {
      problems.push(`${path}: ${key} changed from ${JSON.stringify(was)} to ${JSON.stringify(is)}`)
    }
  }
  return problems.sort()
}

/** The JSON Schema of what `schema` writes, as structure. */
const stored = (schema: Schema.Schema.AnyNoContext): JsonObject =>
  structure(JSONSchema.make(Schema.encodedSchema(schema)) as unknown as Json) as JsonObject

const current = (): Record<string, Recorded> =>
  Object.fromEntries(Events.catalogue.map((entry) => [entry.type, { subject: entry.subject, payload: stored(entry.payload) }]))

describe("event payloads only grow", () => {
  it("every recorded type keeps its subject and its fields, and every addition is recorded", () => {
    const recorded: Record<string, Recorded> = JSON.parse(readFileSync(file, "utf8"))
    const now = current()
    const broken: Array<string> = []
    for (const [type, before] of Object.entries(recorded)) {
      const after = now[type]
      if (after === undefined) broken.push(`${type} was removed: a type is never removed`)
      else if (after.subject !== before.subject) broken.push(`${type}: its subject changed from ${before.subject} to ${after.subject}`)
      else broken.push(...breaks(before.payload, after.payload, type))
    }
    assert.deepStrictEqual(broken, [], "a change of meaning is a new event type")
    if (process.env.RECORD_EVENT_PAYLOADS === "1") {
      writeFileSync(file, `${JSON.stringify(now, null, 2)}\n`)
      return
    }
    const unrecorded = Object.entries(now)
      .filter(([type, after]) => !same(recorded[type] as unknown as Json, after as unknown as Json))
      .map(([type]) => type)
    assert.deepStrictEqual(unrecorded, [], "additions not recorded yet: run this test with RECORD_EVENT_PAYLOADS=1")
  })

  describe("what breaks a reader", () => {
    const v1 = stored(Schema.Struct({ id: Schema.String, status: Schema.Literal("open", "done"), note: Schema.NullOr(Schema.String) }))
    const problemsOf = (v2: Schema.Schema.AnyNoContext) => breaks(v1, stored(v2))

    it("adding a field with a default, an enum value or an alternative does not", () => {
      assert.deepStrictEqual(problemsOf(Schema.Struct({
        id: Schema.String,
        status: Schema.Literal("open", "done", "archived"),
        note: Schema.NullOr(Schema.Union(Schema.String, Schema.Number)),
        added: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null })
      })), [])
    })

    it("removing, retyping or narrowing a field does, and so does adding a field without a default", () => {
      assert.deepStrictEqual(problemsOf(Schema.Struct({ status: Schema.Literal("open", "done"), note: Schema.NullOr(Schema.String) })), ["payload.id is no longer always present", "payload.id was removed"])
      assert.deepStrictEqual(problemsOf(Schema.Struct({ id: Schema.Number, status: Schema.Literal("open", "done"), note: Schema.NullOr(Schema.String) })), ["payload.id: type changed from \"string\" to \"number\""])
      assert.deepStrictEqual(problemsOf(Schema.Struct({ id: Schema.String, status: Schema.Literal("open"), note: Schema.NullOr(Schema.String) })), ["payload.status no longer accepts \"done\""])
      assert.deepStrictEqual(problemsOf(Schema.Struct({ id: Schema.String, status: Schema.Literal("open", "done"), note: Schema.String })), ["payload.note no longer accepts {\"type\":\"null\"}"])
      assert.deepStrictEqual(problemsOf(Schema.Struct({ id: Schema.String, status: Schema.Literal("open", "done"), note: Schema.NullOr(Schema.String), added: Schema.String })), [
        "payload.added is required, but events stored before it lack it: give it a default"
      ])
    })
  })
})
