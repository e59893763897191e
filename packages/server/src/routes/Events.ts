/** The caller's event feed: pull and acknowledge. */
import { EventFeed } from "@clawbounties/marketplace"
import { Effect } from "effect"
import { route } from "../Route.js"
import * as Schemas from "../Schemas.js"
import { anyRole } from "./Common.js"

export const pullEvents = route({
  method: "GET",
  path: "/v1/events",
  operationId: "pullEvents",
  tag: "Events",
  summary: "The caller's events not yet acknowledged, oldest first.",
  description: "Poll without a cursor, handle the page, acknowledge it with POST /v1/events/ack, and poll again: an event is delivered until its recipient acknowledges it, so a consumer that restarts loses nothing, and `event_id` tells a copy it already handled. `cursor` pages within one poll; `include_acked=true` replays acknowledged events too. With `wait_seconds` (up to 30) a poll that finds nothing waits for an event and answers as soon as one is there, or empty at the end of the wait.",
  auth: anyRole,
  query: Schemas.EventsQuery,
  status: 200,
  response: EventFeed.PullResponse,
  errors: ["InvalidRequest"],
  handler: ({ actor, closing, query }) => {
    const input = { cursor: query.cursor, limit: query.limit, includeAcked: query.include_acked }
    if (query.wait_seconds === undefined) return EventFeed.pull(actor, input)
    // A server that starts to stop answers a waiting poll with what is there, not 503 after its grace.
    return Effect.raceFirst(EventFeed.pull(actor, { ...input, waitSeconds: query.wait_seconds }), Effect.zipRight(closing, EventFeed.pull(actor, input)))
  }
})

export const ackEvents = route({
  method: "POST",
  path: "/v1/events/ack",
  operationId: "ackEvents",
  tag: "Events",
  summary: "Acknowledge handled events: they leave the caller's feed.",
  description: "Acknowledging an event again changes nothing, so a retry needs no idempotency key. An id that is not one of the caller's events is NOT_FOUND, and then nothing is acknowledged.",
  auth: anyRole,
  body: EventFeed.AckRequest,
  status: 200,
  response: EventFeed.AckResponse,
  errors: ["InvalidRequest", "NotFound"],
  handler: ({ actor, body }) => EventFeed.ack(actor, body)
})
