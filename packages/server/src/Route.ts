/**
 * One route of the API as data: method, path, who may call it, the Schemas of its query and body,
 * its success status and response Schema, the error codes it can return, and a thin handler that
 * runs one engine command. Authentication, decoding, error mapping and the OpenAPI document are all
 * derived from these definitions, so they cannot disagree.
 *
 * {@link route} checks at compile time that `errors` names every catalogued error the handler's
 * effect can fail with, and none it cannot (a `SqlError` becomes `SERVICE_UNAVAILABLE` when the
 * database is out of reach and `INTERNAL_ERROR` otherwise, as every other unexpected failure does;
 * `DatabaseTimeout` and `CommitOutcomeUnknown`, which any command can meet, every route declares).
 */
import type { ErrorCatalogue } from "@clawbounties/domain"
import type { Tokens } from "@clawbounties/marketplace"
import type { Effect, Schema } from "effect"
import type * as Engine from "./Engine.js"
import { classOf } from "./RateLimits.js"
import type { Scheduler } from "./Scheduler.js"

export type Method = "GET" | "POST" | "PATCH" | "DELETE"
export type Role = Tokens.Role
/** `public`: no token needed; otherwise the roles whose tokens may call the route. */
export type Auth = "public" | ReadonlyArray<Role>

/** Services a handler may use. */
export type Services = Engine.Services | Scheduler

export type ErrorTag = ErrorCatalogue.EngineError["_tag"]

export interface Input<Auth_, B, Q> {
  readonly actor: Auth_ extends "public" ? undefined : Tokens.Principal
  readonly params: Readonly<Record<string, string>>
  readonly body: B
  readonly query: Q
  /** Completes once the server starts to stop: a handler that waits (a long poll) answers then. */
  readonly closing: Effect.Effect<void>
}

type AnySchema = Schema.Schema<any, any, never>

export interface Definition<A extends Auth, BS extends AnySchema | undefined, QS extends AnySchema | undefined, RS extends AnySchema, E> {
  readonly method: Method
  /** OpenAPI form: `/v1/bounties/{bounty_id}`. */
  readonly path: string
  readonly operationId: string
  readonly tag: string
  readonly summary: string
  readonly description?: string
  readonly auth: A
  readonly body?: BS
  readonly query?: QS
  /** Accepts `idempotency_key` in the body or an `Idempotency-Key` header. */
  readonly idempotent?: boolean
  readonly status: 200 | 201
  readonly response: RS
  /** Catalogued errors the handler can fail with (the edge's own errors are added by the app). */
  readonly errors: ReadonlyArray<ErrorTag>
  readonly handler: (
    input: Input<A, BS extends AnySchema ? Schema.Schema.Type<BS> : undefined, QS extends AnySchema ? Schema.Schema.Type<QS> : undefined>
  ) => Effect.Effect<Schema.Schema.Type<RS>, E, Services>
}

/** A route with its types erased, as the app and the OpenAPI generator see it. */
export interface Route {
  readonly method: Method
  readonly path: string
  readonly operationId: string
  readonly tag: string
  readonly summary: string
  readonly description?: string
  readonly auth: Auth
  readonly body?: AnySchema
  readonly query?: AnySchema
  readonly idempotent?: boolean
  readonly status: 200 | 201
  readonly response: AnySchema
  readonly errors: ReadonlyArray<ErrorTag>
  readonly handler: (input: Input<Auth, any, any>) => Effect.Effect<unknown, unknown, Services>
}

type TagOf<E> = E extends { readonly _tag: infer T extends string } ? T : never
/** Failures of the database any route can meet, added to every route by {@link errorsOf}. */
type DatabaseFailure = "SqlError" | "CommitOutcomeUnknown" | "DatabaseTimeout"
type Undeclared<E, D extends string> = Exclude<TagOf<E>, D | DatabaseFailure>
/**
 * Declared tags the handler cannot fail with. None while `E` is `unknown`, as TypeScript has it
 * before it infers `E` from a handler whose parameters take their types from the definition;
 * without that, every route would fail the check.
 */
type Overdeclared<E, D extends string> = unknown extends E ? never : Exclude<D, TagOf<E>>

/**
 * Defines a route. A handler that can fail with a catalogued error the route does not declare is a
 * type error naming the missing tags (`undeclared_errors`), and so is a declared error the handler
 * cannot fail with (`overdeclared_errors`): `/openapi.json` lists exactly the codes a route returns.
 */
export const route = <
  const A extends Auth,
  BS extends AnySchema | undefined,
  QS extends AnySchema | undefined,
  RS extends AnySchema,
  E,
  const D extends ReadonlyArray<ErrorTag>
>(
  definition: Definition<A, BS, QS, RS, E> & { readonly errors: D } & (
    [Undeclared<E, D[number]>] extends [never] ? unknown : { readonly undeclared_errors: Undeclared<E, D[number]> }
  ) & (
    [Overdeclared<E, D[number]>] extends [never] ? unknown : { readonly overdeclared_errors: Overdeclared<E, D[number]> }
  )
): Route => definition as unknown as Route

/** `/v1/bounties/{bounty_id}` -> `/v1/bounties/:bounty_id` (Hono's form). */
export const honoPath = (path: string): string => path.replace(/\{([a-z_]+)\}/g, ":$1")

/** The longest path parameter, in characters, the document allows and the app accepts (ids are far shorter). */
export const MAX_PATH_PARAM_LENGTH = 200

/** The names of a path's parameters. */
export const pathParams = (path: string): ReadonlyArray<string> => Array.from(path.matchAll(/\{([a-z_]+)\}/g), (m) => m[1]!)

/** A matcher for the path (method-not-allowed detection). */
export const pathPattern = (path: string): RegExp =>
  new RegExp(`^${path.split(/\{[a-z_]+\}/).map((part) => part.replace(/[.*+?^$(){}|[\]\\]/g, "\\$&")).join("[^/]+")}$`)

/** The errors a route can answer with: its own, plus those the edge adds for auth and input. */
export const errorsOf = (route: Route): ReadonlyArray<ErrorTag> => {
  const tags = new Set<ErrorTag>(route.errors)
  if (route.auth !== "public") {
    tags.add("Unauthorized")
    tags.add("Forbidden")
  }
  if (route.body !== undefined) {
    tags.add("MalformedJson")
    tags.add("UnsupportedMediaType")
    tags.add("PayloadTooLarge")
    tags.add("InvalidRequest")
  }
  if (route.query !== undefined || route.idempotent || pathParams(route.path).length > 0) tags.add("InvalidRequest")
  // Any request can be interrupted by shutdown, meet the database out of reach or past a timeout, or
  // lose its connection while it commits.
  tags.add("ServiceUnavailable")
  tags.add("DatabaseTimeout")
  tags.add("CommitOutcomeUnknown")
  tags.add("InternalError")
  // Any request can be refused before it reaches a route (`EdgeRefusals`): headers too large, too
  // slow to arrive, or not HTTP a URL can be built from.
  tags.add("HeadersTooLarge")
  tags.add("RequestTimeout")
  tags.add("InvalidRequest")
  // A rate-limited route can refuse a caller over its limit before anything else (`RateLimits`).
  if (classOf(route) !== undefined) tags.add("RateLimited")
  return Array.from(tags)
}
