/**
 * What a submission must prove, checked in strict mode before anything is stored (fail-closed):
 *
 * 1. a `proof_bundle` envelope that verifies, signed by the submitting worker (a bundle signed by
 *    anyone else proves nothing about this worker's run);
 * 2. a proof tier at least the bounty's `min_proof_tier`, and no event dated in the future;
 * 3. for code bounties, a `commit_proof` envelope that verifies, signed by the worker, naming no
 *    other run or bundle than the submission's;
 * 4. every artifact envelope verifies as an `artifact_signature` signed by the worker;
 * 5. for agent-pack bounties, the artifacts and the `agent_pack` reference are present and the
 *    declared bundle hash equals the `content_hash_b64u` of an `agent_pack_bundle` artifact;
 * 6. (in `Submissions.submit`) the bundle, its run and its commit proof back no other submission
 *    (`EVIDENCE_REUSED`).
 *
 * Every failed rule is reported (not only the first), each with a stable code.
 */
import { AgentPack, Envelope, ExportBundle, ProofBundle, Tier } from "@clawbounties/verify"
import { DateTime, Effect } from "effect"
import type { BountyRow } from "./BountyStore.js"
import { MarketplaceConfig } from "./MarketplaceConfig.js"
import type * as Requests from "./Requests.js"

export interface Reason {
  readonly code: string
  readonly message: string
}

export interface Verdict {
  readonly status: "valid" | "invalid"
  readonly reasons: ReadonlyArray<Reason>
  readonly proofTier: Tier.ProofTier | null
  readonly proofBundleHash: string | null
  /**
   * The pieces of evidence a valid submission uses up (see `submission_evidence`): the bundle, and
   * its run by the hash of the run's first event, which a bundle re-signed by another key still has.
   */
  readonly evidenceKeys: ReadonlyArray<string>
}

/** The events of a verified bundle's chain, as records. */
const eventsOf = (envelope: unknown): ReadonlyArray<Record<string, unknown>> => {
  const payload = isRecord(envelope) && isRecord(envelope.payload) ? envelope.payload : undefined
  const chain: ReadonlyArray<unknown> = payload !== undefined && Array.isArray(payload.event_chain) ? payload.event_chain : []
  return chain.filter(isRecord)
}

/** The signed timestamps of a verified bundle's events, in epoch milliseconds. */
const eventTimes = (envelope: unknown): ReadonlyArray<number> =>
  eventsOf(envelope).flatMap((event) => (typeof event.timestamp === "string" ? [Date.parse(event.timestamp)] : []))

/** The hash of a verified bundle's first event: the run it proves, whoever signed the bundle. */
const firstEventHash = (envelope: unknown): string | undefined => {
  const hash = eventsOf(envelope)[0]?.event_hash_b64u
  return typeof hash === "string" ? hash : undefined
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * The proof tiers a submission here can reach: `self` always, `gateway` when gateway signers are
 * configured. (No attestation evidence is verified yet, so `sandbox` never.) A bounty asking for
 * more could never be delivered: its money would wait for the work deadline for nothing.
 */
export const reachableTiers = Effect.map(MarketplaceConfig, (config): ReadonlyArray<string> =>
  config.verification.gatewaySignerDids.length > 0 ? ["self", "gateway"] : ["self"])

export const verifySubmission = Effect.fn("Evidence.verifySubmission")(function* (
  bounty: BountyRow,
  input: Requests.Submit,
  nowIso: string
) {
  const config = yield* MarketplaceConfig
  const verifyAt = DateTime.toEpochMillis(DateTime.unsafeMake(nowIso))
  const workerDid = bounty.worker_did
  const reasons: Array<Reason> = []
  const options = { mode: "strict" as const, verifyAt, ttlSkewMs: config.verification.clockSkewMs }

  const bundle = ProofBundle.verify(input.proof_bundle_envelope, {
    ...options,
    gatewaySignerDids: config.verification.gatewaySignerDids
  })
  if (bundle.status !== "VALID") {
    reasons.push({ code: bundle.error?.code ?? "PROOF_BUNDLE_INVALID", message: bundle.error?.message ?? bundle.reason })
  } else {
    if (bundle.agent_did !== workerDid) {
      reasons.push({ code: "PROOF_BUNDLE_AGENT_MISMATCH", message: "the proof bundle is not signed by the assigned worker" })
    }
    if (!Tier.atLeast(bundle.proof_tier, bounty.min_proof_tier as Tier.ProofTier)) {
      reasons.push({
        code: "MINIMUM_PROOF_TIER_NOT_MET",
        message: `proof tier '${bundle.proof_tier}' is below the bounty's minimum '${bounty.min_proof_tier}'`
      })
    }
  }

  // Signed events from the future are a forged timeline (the clocks of worker and server may differ
  // by minutes, not more). The envelope's issued_at is not signed; the events' timestamps are.
  if (bundle.status === "VALID") {
    const latest = verifyAt + Math.max(config.verification.clockSkewMs, ExportBundle.DEFAULT_FUTURE_SKEW_MS)
    const future = eventTimes(input.proof_bundle_envelope).some((at) => at > latest)
    if (future) reasons.push({ code: "FUTURE_TIMESTAMP_POISONING", message: "the proof bundle's events are dated in the future" })
  }

  let commitKey: string | undefined
  if (bounty.is_code_bounty) {
    if (input.commit_proof_envelope === undefined) {
      reasons.push({ code: "COMMIT_PROOF_REQUIRED", message: "a code bounty needs a commit_proof envelope" })
    } else {
      const commit = Envelope.verifyEnvelope(input.commit_proof_envelope, { ...options, expectedType: "commit_proof" })
      if (commit.status !== "VALID") {
        reasons.push({ code: commit.error?.code ?? "COMMIT_PROOF_INVALID", message: `commit proof: ${commit.error?.message ?? commit.reason}` })
      } else if (commit.signer_did !== workerDid) {
        reasons.push({ code: "COMMIT_PROOF_SIGNER_MISMATCH", message: "the commit proof is not signed by the assigned worker" })
      } else {
        // A commit proof that names its run or bundle must name this one: it says it proves other work.
        const claims = isRecord(input.commit_proof_envelope) && isRecord(input.commit_proof_envelope.payload) ? input.commit_proof_envelope.payload : {}
        const otherRun = typeof claims.run_id === "string" && bundle.status === "VALID" && claims.run_id !== bundle.run_id
        const otherBundle = typeof claims.proof_bundle_hash_b64u === "string" && claims.proof_bundle_hash_b64u !== bundle.payload_hash_b64u
        if (otherRun || otherBundle) {
          reasons.push({ code: "COMMIT_PROOF_BINDING_MISMATCH", message: `the commit proof names another ${otherRun ? "run" : "proof bundle"}` })
        }
        const commitHash = isRecord(input.commit_proof_envelope) ? input.commit_proof_envelope.payload_hash_b64u : undefined
        if (typeof commitHash === "string") commitKey = `commit:${commitHash}`
      }
    }
  }

  const packHashes: Array<string> = []
  input.artifacts.forEach((artifact, index) => {
    const result = Envelope.verifyArtifact(artifact.envelope, options)
    if (result.status !== "VALID") {
      reasons.push({ code: result.error?.code ?? "ARTIFACT_INVALID", message: `artifacts[${index}]: ${result.error?.message ?? result.reason}` })
    } else if (result.signer_did !== workerDid) {
      reasons.push({ code: "ARTIFACT_SIGNER_MISMATCH", message: `artifacts[${index}] is not signed by the assigned worker` })
    } else if (isRecord(artifact.envelope) && isRecord(artifact.envelope.payload)) {
      // Only a signed pack bundle can stand for the pack: a readme with the same hash claims nothing.
      const payload = artifact.envelope.payload
      const isPack = payload.artifact_type === AgentPack.ARTIFACT_TYPE && Object.values(AgentPack.CONTENT_TYPES).includes(payload.content_type as string)
      if (isPack && typeof payload.content_hash_b64u === "string") packHashes.push(payload.content_hash_b64u)
    }
  })

  if (bounty.tags.includes("agent_pack")) {
    if (input.artifacts.length === 0) {
      reasons.push({ code: "ARTIFACTS_REQUIRED", message: "an agent-pack bounty needs the bundle's artifact_signature" })
    }
    if (input.agent_pack === undefined) {
      reasons.push({ code: "AGENT_PACK_REQUIRED", message: "an agent-pack bounty needs the agent_pack reference" })
    } else if (!packHashes.includes(input.agent_pack.bundle_sha256_b64u)) {
      reasons.push({ code: "PACK_BUNDLE_HASH_MISMATCH", message: "no agent_pack_bundle artifact (gzip or zip) signs the declared bundle hash" })
    }
  }

  const runEvent = bundle.status === "VALID" ? firstEventHash(input.proof_bundle_envelope) : undefined
  return {
    status: reasons.length === 0 ? "valid" : "invalid",
    reasons,
    proofTier: bundle.status === "VALID" ? bundle.proof_tier : null,
    proofBundleHash: bundle.payload_hash_b64u ?? null,
    evidenceKeys: [
      ...(bundle.payload_hash_b64u === undefined ? [] : [`bundle:${bundle.payload_hash_b64u}`]),
      ...(runEvent === undefined ? [] : [`run:${runEvent}`]),
      ...(commitKey === undefined ? [] : [commitKey])
    ]
  } satisfies Verdict
})
