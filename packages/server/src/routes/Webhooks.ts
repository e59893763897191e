/** Webhook endpoints for the caller's events, their deliveries and replays. */
import { Webhooks } from "@clawbounties/marketplace"
import { route } from "../Route.js"
import * as Schemas from "../Schemas.js"
import { anyRole } from "./Common.js"

export const createWebhook = route({
  method: "POST",
  path: "/v1/webhooks",
  operationId: "createWebhook",
  tag: "Webhooks",
  summary: "Register an endpoint for the caller's events; returns its signing secret (shown once).",
  description: "The caller's events (those of `event_types`, or all) are POSTed to `url`, signed (`Webhook-Signature: v1=` and the hex HMAC-SHA256 of `${Webhook-Timestamp}.${raw body}` keyed with the secret), and retried with backoff until a 2xx answer. The URL must be https, carry no credentials, and resolve only to public addresses; redirects are not followed. docs/webhooks.md gives the scheme and a verification snippet.",
  auth: anyRole,
  body: Webhooks.CreateRequest,
  status: 201,
  response: Webhooks.WebhookWithSecret,
  errors: ["InvalidRequest", "WebhookUrlRefused", "WebhookLimitReached"],
  handler: ({ actor, body }) => Webhooks.create(actor, body)
})

export const listWebhooks = route({
  method: "GET",
  path: "/v1/webhooks",
  operationId: "listWebhooks",
  tag: "Webhooks",
  summary: "The caller's webhook endpoints, oldest first (never their secrets).",
  auth: anyRole,
  status: 200,
  response: Webhooks.WebhookList,
  errors: [],
  handler: ({ actor }) => Webhooks.list(actor)
})

export const deleteWebhook = route({
  method: "DELETE",
  path: "/v1/webhooks/{webhook_id}",
  operationId: "deleteWebhook",
  tag: "Webhooks",
  summary: "Delete one of the caller's endpoints, its pending deliveries and its delivery log.",
  auth: anyRole,
  status: 200,
  response: Webhooks.Deleted,
  errors: ["NotFound"],
  handler: ({ actor, params }) => Webhooks.remove(actor, params.webhook_id!)
})

export const rotateWebhookSecret = route({
  method: "POST",
  path: "/v1/webhooks/{webhook_id}/rotate-secret",
  operationId: "rotateWebhookSecret",
  tag: "Webhooks",
  summary: "Replace the endpoint's signing secret; the new one is shown once and signs every later attempt.",
  auth: anyRole,
  body: Schemas.Empty,
  status: 200,
  response: Webhooks.WebhookWithSecret,
  errors: ["NotFound"],
  handler: ({ actor, params }) => Webhooks.rotateSecret(actor, params.webhook_id!)
})

export const listWebhookDeliveries = route({
  method: "GET",
  path: "/v1/webhooks/{webhook_id}/deliveries",
  operationId: "listWebhookDeliveries",
  tag: "Webhooks",
  summary: "The endpoint's delivery log: every attempt (status code or error, duration), newest first.",
  auth: anyRole,
  query: Schemas.WebhookDeliveriesQuery,
  status: 200,
  response: Webhooks.DeliveryLog,
  errors: ["NotFound", "InvalidRequest"],
  handler: ({ actor, params, query }) => Webhooks.deliveries(actor, params.webhook_id!, { cursor: query.cursor, limit: query.limit })
})

export const replayWebhook = route({
  method: "POST",
  path: "/v1/webhooks/{webhook_id}/replay",
  operationId: "replayWebhook",
  tag: "Webhooks",
  summary: "Deliver the caller's events after a feed cursor to this endpoint again, oldest first, at most `limit` (100 by default, 500 at most).",
  description: "`after` is an event's `cursor` from GET /v1/events (absent: from the oldest event kept). Pass the answer's `next_cursor` as `after` for the next events. An event already waiting for delivery to the endpoint is not added twice.",
  auth: anyRole,
  body: Webhooks.ReplayRequest,
  status: 200,
  response: Webhooks.ReplayResponse,
  errors: ["NotFound", "InvalidRequest"],
  handler: ({ actor, params, body }) => Webhooks.replay(actor, params.webhook_id!, body)
})
