/**
 * Worker profiles (spec B2 "Worker profile", B3 `POST /v1/workers/register` and `GET /v1/workers`),
 * wire form. The reference has no JSON Schema for them; fields follow the spec's examples.
 */
import { Schema } from "effect"
import * as Did from "./Did.js"
import * as Ids from "./Ids.js"
import * as Money from "./Money.js"
import { Timestamp } from "./Wire.js"

export const Status = Schema.Literal("online", "offline", "paused")
export type Status = typeof Status.Type

export const JobType = Schema.Literal("code", "research", "agent_pack")
export type JobType = typeof JobType.Type

const Label = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(100))

export const Listing = Schema.Struct({
  name: Label,
  headline: Schema.optional(Schema.String.pipe(Schema.maxLength(280))),
  tags: Schema.optionalWith(Schema.Array(Schema.String.pipe(Schema.maxLength(50))).pipe(Schema.maxItems(20)), {
    default: () => []
  })
})

export const Capabilities = Schema.Struct({
  job_types: Schema.Array(JobType).pipe(Schema.minItems(1)),
  languages: Schema.optionalWith(Schema.Array(Schema.String.pipe(Schema.maxLength(50))), { default: () => [] }),
  /** Longest job the worker takes, in minutes. */
  max_minutes: Schema.optional(Schema.Int.pipe(Schema.positive()))
})

/** Advertising in the MVP: skills and MCP servers the worker is built around. */
export const Offers = Schema.Struct({
  skills: Schema.optionalWith(Schema.Array(Label), { default: () => [] }),
  mcp: Schema.optionalWith(
    Schema.Array(Schema.Struct({ name: Label, description: Schema.optional(Schema.String.pipe(Schema.maxLength(500))) })),
    { default: () => [] }
  )
})

export const Pricing = Schema.Struct({
  /** The smallest reward the worker accepts. */
  price_floor_minor: Money.AmountMinor
})

export const Availability = Schema.Struct({
  mode: Schema.Literal("manual", "auto"),
  paused: Schema.Boolean
})

/** `POST /v1/workers/register`. */
export const RegisterRequest = Schema.Struct({
  worker_did: Did.DidKey,
  worker_version: Schema.optional(Schema.String.pipe(Schema.maxLength(100))),
  listing: Listing,
  capabilities: Capabilities,
  offers: Schema.optionalWith(Offers, { default: () => ({ skills: [], mcp: [] }) }),
  pricing: Schema.optionalWith(Pricing, { default: () => ({ price_floor_minor: 0n }) }),
  availability: Schema.optionalWith(Availability, { default: () => ({ mode: "manual" as const, paused: false }) })
}).annotations({ identifier: "RegisterWorkerRequest" })
export type RegisterRequest = typeof RegisterRequest.Type

export const RegisterResponse = Schema.Struct({
  worker_id: Ids.WorkerId,
  auth: Schema.Struct({ mode: Schema.Literal("token"), token: Schema.String })
}).annotations({ identifier: "RegisterWorkerResponse" })
export type RegisterResponse = typeof RegisterResponse.Type

/** The stored profile; `GET /v1/workers` lists these. */
export const Worker = Schema.Struct({
  worker_id: Ids.WorkerId,
  worker_did: Did.DidKey,
  status: Status,
  worker_version: Schema.optional(Schema.String),
  listing: Listing,
  capabilities: Capabilities,
  offers: Offers,
  pricing: Pricing,
  availability: Availability,
  created_at: Timestamp,
  updated_at: Timestamp
}).annotations({ identifier: "Worker" })
export type Worker = typeof Worker.Type

export const ListResponse = Schema.Struct({ workers: Schema.Array(Worker) })
