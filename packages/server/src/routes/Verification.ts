/**
 * Verification: results are values (VALID or INVALID with a code), verified at the server's Clock.
 */
import { MarketplaceConfig } from "@clawbounties/marketplace"
import { CommitProof, Envelope, ProofBundle } from "@clawbounties/verify"
import { Clock, Effect } from "effect"
import { route } from "../Route.js"
import * as Schemas from "../Schemas.js"
import { anyRole } from "./Common.js"

const verificationOptions = Effect.gen(function* () {
  const config = yield* MarketplaceConfig.MarketplaceConfig
  return {
    mode: "strict" as const,
    verifyAt: yield* Clock.currentTimeMillis,
    ttlSkewMs: config.verification.clockSkewMs,
    gatewaySignerDids: config.verification.gatewaySignerDids
  }
})

export const verifyEnvelope = route({
  method: "POST",
  path: "/v1/verify",
  operationId: "verifyEnvelope",
  tag: "Verification",
  summary: "Verify one signed envelope (artifact, message, commit proof, event chain), strict mode.",
  auth: anyRole,
  body: Schemas.VerifyRequest,
  status: 200,
  response: Schemas.VerificationResult,
  errors: [],
  handler: ({ body }) =>
    Effect.map(verificationOptions, (options) => ({
      ...Envelope.verifyEnvelope(body.envelope, { ...options, ...(body.expected_type === undefined ? {} : { expectedType: body.expected_type }) })
    }))
})

export const verifyBundle = route({
  method: "POST",
  path: "/v1/verify/bundle",
  operationId: "verifyProofBundle",
  tag: "Verification",
  summary: "Verify a proof bundle envelope and compute its proof tier, strict mode, with the marketplace's trusted gateway signers.",
  auth: anyRole,
  body: Schemas.VerifyBundleRequest,
  status: 200,
  response: Schemas.VerificationResult,
  errors: [],
  handler: ({ body }) =>
    Effect.map(verificationOptions, (options) => ({
      ...ProofBundle.verify(body.envelope, {
        ...options,
        ...(body.urm === undefined ? {} : { urm: body.urm }),
        ...(body.execution_attestations === undefined ? {} : { executionAttestations: body.execution_attestations })
      })
    }))
})

export const verifyCommitProof = route({
  method: "POST",
  path: "/v1/verify/commit-proof",
  operationId: "verifyCommitProof",
  tag: "Verification",
  summary: "Verify a commit proof (envelope or legacy m1), strict mode.",
  description: "Repository claims are not checked against a registry yet (as in submission verification): any claim id is accepted.",
  auth: anyRole,
  body: Schemas.VerifyCommitProofRequest,
  status: 200,
  response: Schemas.VerificationResult,
  errors: [],
  handler: ({ body }) =>
    Effect.map(verificationOptions, (options) => ({
      ...CommitProof.verify(body.envelope, { ...options, repoClaimIds: () => true })
    }))
})
