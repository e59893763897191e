/** Registration by signed challenge, and the caller's tokens. */
import { Identities, Tokens, Workers } from "@clawbounties/marketplace"
import { Effect } from "effect"
import { route } from "../Route.js"
import * as Schemas from "../Schemas.js"
import { anyRole } from "./Common.js"

export const challenge = route({
  method: "POST",
  path: "/v1/auth/challenge",
  operationId: "createChallenge",
  tag: "Identities",
  summary: "Issue a single-use challenge for a DID to sign (registration).",
  description: "Sign `messages.<role>` in a `message_signature` envelope (payload: message_version \"1\", message_type \"challenge_response\", message, nonce, audience \"clawbounties\") with the DID's key, then register.",
  auth: "public",
  body: Identities.ChallengeRequest,
  status: 201,
  response: Identities.ChallengeResponse,
  errors: ["InvalidRequest", "ChallengeCapacityReached"],
  handler: ({ body }) => Identities.challenge(body)
})

export const registerRequester = route({
  method: "POST",
  path: "/v1/requesters/register",
  operationId: "registerRequester",
  tag: "Identities",
  summary: "Register a requester DID by its signed challenge; returns a requester token (shown once).",
  auth: "public",
  body: Schemas.RegisterRequesterRequest,
  status: 201,
  response: Identities.RegisterResponse,
  errors: ["InvalidRequest", "ChallengeNotFound", "DidMismatch", "ChallengeUsed", "ChallengeExpired", "DidProofInvalid"],
  handler: ({ body }) =>
    Identities.register({ did: body.requester_did, role: "requester", challenge_id: body.challenge_id, proof: body.proof })
})

export const registerWorker = route({
  method: "POST",
  path: "/v1/workers/register",
  operationId: "registerWorker",
  tag: "Workers",
  summary: "Register a worker DID and its profile by its signed challenge; returns a worker token (shown once).",
  description: "A DID that already has a profile proves control again and gets a new token (`created: false`); its profile is unchanged (update it with PATCH /v1/workers/self). This is how a worker that lost or revoked its token recovers.",
  auth: "public",
  body: Schemas.RegisterWorkerRequest,
  status: 201,
  response: Workers.RegisterWorkerResponse,
  errors: ["InvalidRequest", "ChallengeNotFound", "DidMismatch", "ChallengeUsed", "ChallengeExpired", "DidProofInvalid", "WorkerAlreadyRegistered"],
  handler: ({ body }) => Workers.register(body)
})

export const listTokens = route({
  method: "GET",
  path: "/v1/auth/tokens",
  operationId: "listTokens",
  tag: "Identities",
  summary: "The caller's tokens (never the tokens themselves): every live one and the newest 100 revoked ones, oldest first.",
  auth: anyRole,
  status: 200,
  response: Schemas.TokenList,
  errors: [],
  handler: ({ actor }) => Effect.map(Tokens.list(actor), (tokens) => ({ tokens }))
})

export const rotateToken = route({
  method: "POST",
  path: "/v1/auth/tokens/rotate",
  operationId: "rotateToken",
  tag: "Identities",
  summary: "Replace the presented token: a new one is issued (shown once) and the old one revoked.",
  auth: ["worker", "requester"],
  body: Schemas.Empty,
  status: 201,
  response: Schemas.RotateResponse,
  errors: ["Unauthorized", "Forbidden"],
  handler: ({ actor }) => Tokens.rotate(actor)
})

export const revokeToken = route({
  method: "POST",
  path: "/v1/auth/tokens/{token_id}/revoke",
  operationId: "revokeToken",
  tag: "Identities",
  summary: "Revoke one of the caller's tokens (operators: any token).",
  description: "Every token it was rotated into is revoked with it, so a stolen token that was rotated leaves no live replacement.",
  auth: anyRole,
  body: Schemas.RevokeRequest,
  status: 200,
  response: Schemas.TokenInfo,
  errors: ["NotFound", "InvalidRequest"],
  handler: ({ actor, params, body }) =>
    Tokens.revoke(actor, { token_id: params.token_id!, ...(body.reason === undefined ? {} : { reason: body.reason }) })
})
