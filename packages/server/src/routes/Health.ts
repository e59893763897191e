/** Liveness and readiness. */
import { ErrorCatalogue } from "@clawbounties/domain"
import { Effect } from "effect"
import * as Engine from "../Engine.js"
import { route } from "../Route.js"
import * as Schemas from "../Schemas.js"

export const health = route({
  method: "GET",
  path: "/health",
  operationId: "health",
  tag: "Health",
  summary: "Liveness: the process is serving requests.",
  auth: "public",
  status: 200,
  response: Schemas.Health,
  errors: [],
  handler: () => Effect.succeed({ status: "ok" as const })
})

export const ready = route({
  method: "GET",
  path: "/ready",
  operationId: "ready",
  tag: "Health",
  summary: "Readiness: the database answers.",
  auth: "public",
  status: 200,
  response: Schemas.Ready,
  errors: ["ServiceUnavailable"],
  handler: () =>
    Engine.ping.pipe(
      Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => new ErrorCatalogue.ServiceUnavailable({ reason: "the database did not answer in time" }) }),
      Effect.catchTag("SqlError", () => Effect.fail(new ErrorCatalogue.ServiceUnavailable({ reason: "the database is unreachable" }))),
      Effect.as({ status: "ready" as const, database: "ok" as const })
    )
})
