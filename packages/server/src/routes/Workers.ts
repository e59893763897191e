/** Worker profiles: discovery and the caller's own. */
import { Workers } from "@clawbounties/marketplace"
import { route } from "../Route.js"
import { anyRole } from "./Common.js"

export const listWorkers = route({
  method: "GET",
  path: "/v1/workers",
  operationId: "listWorkers",
  tag: "Workers",
  summary: "Worker profiles, filtered by job type, tag and status (buyer discovery).",
  auth: anyRole,
  query: Workers.ListWorkersQuery,
  status: 200,
  response: Workers.ListWorkersResponse,
  errors: ["InvalidRequest"],
  handler: ({ query }) => Workers.list(query)
})

export const workerSelf = route({
  method: "GET",
  path: "/v1/workers/self",
  operationId: "getWorkerSelf",
  tag: "Workers",
  summary: "The caller's own worker profile.",
  auth: ["worker"],
  status: 200,
  response: Workers.Worker,
  errors: ["NotFound", "Forbidden"],
  handler: ({ actor }) => Workers.self(actor)
})

export const updateWorkerSelf = route({
  method: "PATCH",
  path: "/v1/workers/self",
  operationId: "updateWorkerSelf",
  tag: "Workers",
  summary: "Update the caller's profile (status, listing, capabilities, offers, pricing, availability).",
  auth: ["worker"],
  body: Workers.UpdateWorkerRequest,
  status: 200,
  response: Workers.Worker,
  errors: ["NotFound", "Forbidden", "InvalidRequest"],
  handler: ({ actor, body }) => Workers.update(actor, body)
})

export const getWorker = route({
  method: "GET",
  path: "/v1/workers/{worker_id}",
  operationId: "getWorker",
  tag: "Workers",
  summary: "One worker profile.",
  auth: anyRole,
  status: 200,
  response: Workers.Worker,
  errors: ["NotFound"],
  handler: ({ params }) => Workers.get(params.worker_id!)
})
