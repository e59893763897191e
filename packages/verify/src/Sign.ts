/**
 * Signing builders: produce every envelope type this package verifies, from an Ed25519 key pair,
 * so the testkit and workers sign exactly what we verify. Time is an argument (`issuedAt`, ISO
 * string), never read from a clock here.
 *
 * Payloads are hashed in the key order given (the protocol hashes `JSON.stringify`), so build
 * payload objects with a fixed literal key order.
 */
import * as Base64Url from "./Base64Url.js"
import * as DidKey from "./DidKey.js"
import * as Ed25519 from "./Ed25519.js"
import type { SignedEnvelope } from "./Envelope.js"
import * as EventChain from "./EventChain.js"
import * as ExportBundle from "./ExportBundle.js"
import * as Hash from "./Hash.js"
import * as Manifest from "./Manifest.js"
import * as ProofBundle from "./ProofBundle.js"
import * as ProtocolM from "./ProtocolM.js"

export type KeyPair = Ed25519.KeyPair

/** A signer: a key pair and its did:key. */
export interface Signer extends Ed25519.KeyPair {
  readonly did: string
}

export const signerFromSeed = (seed: Uint8Array): Signer => {
  const kp = Ed25519.keyPairFromSeed(seed)
  return { ...kp, did: DidKey.fromPublicKey(kp.publicKey) }
}

/** b64u(Ed25519(UTF-8(text))). */
export const signText = (signer: Signer, text: string): string => Base64Url.encode(Ed25519.sign(signer, Hash.utf8(text)))

export interface EnvelopeTimes {
  readonly issuedAt: string
  readonly expiresAt?: string
  /** "1" (default) or "2" (tool receipt v2). */
  readonly envelopeVersion?: string
}

/** Hash the payload (JSON.stringify), sign the hash string, and wrap it. */
export const envelope = <P>(signer: Signer, envelopeType: string, payload: P, times: EnvelopeTimes): SignedEnvelope<P> => {
  const payload_hash_b64u = Hash.jsonHashB64u(payload)!
  return {
    envelope_version: times.envelopeVersion ?? "1",
    envelope_type: envelopeType,
    payload,
    payload_hash_b64u,
    hash_algorithm: "SHA-256",
    signature_b64u: signText(signer, payload_hash_b64u),
    algorithm: "Ed25519",
    signer_did: signer.did,
    issued_at: times.issuedAt,
    ...(times.expiresAt === undefined ? {} : { expires_at: times.expiresAt })
  }
}

export interface ArtifactInput {
  readonly artifact_id: string
  readonly artifact_type: string
  readonly content_hash_b64u: string
  readonly content_type: string
  readonly content_size_bytes: number
}

export const artifact = (signer: Signer, a: ArtifactInput, times: EnvelopeTimes) =>
  envelope(signer, "artifact_signature", {
    artifact_version: "1",
    artifact_id: a.artifact_id,
    artifact_type: a.artifact_type,
    content_hash_b64u: a.content_hash_b64u,
    content_type: a.content_type,
    content_size_bytes: a.content_size_bytes
  }, times)

export interface MessageInput {
  readonly message_type: "account_binding" | "ownership_proof" | "challenge_response"
  readonly message: string
  readonly nonce: string
  readonly audience?: string
  readonly expires_at?: string
}

export const message = (signer: Signer, m: MessageInput, times: EnvelopeTimes) =>
  envelope(signer, "message_signature", {
    message_version: "1",
    message_type: m.message_type,
    message: m.message,
    nonce: m.nonce,
    ...(m.audience === undefined ? {} : { audience: m.audience }),
    ...(m.expires_at === undefined ? {} : { expires_at: m.expires_at })
  }, times)

/** Answer a server challenge (DID registration). */
export const challengeResponse = (signer: Signer, challenge: { readonly nonce: string; readonly message: string; readonly audience?: string }, times: EnvelopeTimes) =>
  message(signer, { message_type: "challenge_response", ...challenge }, times)

export interface GatewayReceiptInput {
  readonly receipt_id: string
  readonly gateway_id: string
  readonly provider: string
  readonly model: string
  readonly request_hash_b64u: string
  readonly response_hash_b64u: string
  readonly tokens_input: number
  readonly tokens_output: number
  readonly latency_ms: number
  readonly timestamp: string
  readonly binding?: { readonly run_id: string; readonly event_hash_b64u: string; readonly nonce?: string }
}

export const gatewayReceipt = (gateway: Signer, r: GatewayReceiptInput, times: EnvelopeTimes) =>
  envelope(gateway, "gateway_receipt", {
    receipt_version: "1",
    receipt_id: r.receipt_id,
    gateway_id: r.gateway_id,
    provider: r.provider,
    model: r.model,
    request_hash_b64u: r.request_hash_b64u,
    response_hash_b64u: r.response_hash_b64u,
    tokens_input: r.tokens_input,
    tokens_output: r.tokens_output,
    latency_ms: r.latency_ms,
    timestamp: r.timestamp,
    ...(r.binding === undefined ? {} : { binding: r.binding })
  }, times)

export interface ProofBundleInput {
  readonly bundle_id: string
  readonly event_chain?: ReadonlyArray<EventChain.Event>
  readonly receipts?: ReadonlyArray<unknown>
  readonly tool_receipts?: ReadonlyArray<unknown>
  readonly urm?: { readonly urm_id: string; readonly resource_type: string; readonly resource_hash_b64u: string }
  readonly attestations?: ReadonlyArray<unknown>
  readonly rate_limit_claims?: ReadonlyArray<unknown>
  readonly metadata?: Record<string, unknown>
}

/** A proof bundle signed by its agent (agent_did = the signer's DID, as verification requires). */
export const proofBundle = (agent: Signer, b: ProofBundleInput, times: EnvelopeTimes) =>
  envelope(agent, "proof_bundle", {
    bundle_version: "1",
    bundle_id: b.bundle_id,
    agent_did: agent.did,
    ...(b.urm === undefined ? {} : { urm: { urm_version: "1", ...b.urm } }),
    ...(b.event_chain === undefined ? {} : { event_chain: b.event_chain }),
    ...(b.receipts === undefined ? {} : { receipts: b.receipts }),
    ...(b.tool_receipts === undefined ? {} : { tool_receipts: b.tool_receipts }),
    ...(b.rate_limit_claims === undefined ? {} : { rate_limit_claims: b.rate_limit_claims }),
    ...(b.attestations === undefined ? {} : { attestations: b.attestations }),
    ...(b.metadata === undefined ? {} : { metadata: b.metadata })
  }, times)

export interface CommitProofInput {
  readonly repo_claim_id: string
  readonly commit_sha: string
  readonly repository: string
  readonly branch?: string
}

/** The reference's default claim id: `claim_` + 32 hex of sha256(lower-case repository). */
export const defaultRepoClaimId = (repository: string): string =>
  `claim_${Hash.sha256Hex(Hash.utf8(repository.toLowerCase())).slice(0, 32)}`

export const commitProof = (signer: Signer, c: CommitProofInput, times: EnvelopeTimes) =>
  envelope(signer, "commit_proof", {
    proof_version: "1",
    repo_claim_id: c.repo_claim_id,
    commit_sha: c.commit_sha.toLowerCase(),
    repository: c.repository,
    ...(c.branch === undefined ? {} : { branch: c.branch })
  }, times)

/** A legacy m1 `commit.sig.json`. */
export const m1CommitSignature = (signer: Signer, commitSha: string, createdAt: string) => {
  const obj = { version: "m1", type: "message_signature", algo: "ed25519", did: signer.did, message: `commit:${commitSha.toLowerCase()}`, createdAt, signature: "" }
  const text = ProtocolM.signingText(obj)!
  return { ...obj, signature: Base64Url.encodeStandardBase64(Ed25519.sign(signer, Hash.utf8(text))) }
}

export interface ExecutionAttestationInput {
  readonly attestation_id: string
  readonly execution_type: "sandbox_execution" | "tee_execution"
  readonly agent_did: string
  readonly run_id: string
  readonly proof_bundle_hash_b64u: string
  readonly issued_at: string
  readonly runtime_metadata?: Record<string, unknown>
}

export const executionAttestation = (attester: Signer, a: ExecutionAttestationInput, times: { readonly issuedAt: string }) =>
  envelope(attester, "execution_attestation", {
    attestation_version: "1",
    attestation_id: a.attestation_id,
    execution_type: a.execution_type,
    agent_did: a.agent_did,
    attester_did: attester.did,
    run_id: a.run_id,
    proof_bundle_hash_b64u: a.proof_bundle_hash_b64u,
    issued_at: a.issued_at,
    ...(a.runtime_metadata === undefined ? {} : { runtime_metadata: a.runtime_metadata })
  }, { issuedAt: times.issuedAt })

/** An attestation reference for `payload.attestations[]` (detached JCS signature). */
export const attestationReference = (
  attester: Signer,
  a: { readonly attestation_id: string; readonly attestation_type: "owner" | "third_party"; readonly subject_did: string; readonly expires_at?: string }
) => {
  const body = { attestation_id: a.attestation_id, attestation_type: a.attestation_type, attester_did: attester.did, subject_did: a.subject_did, ...(a.expires_at === undefined ? {} : { expires_at: a.expires_at }) }
  return { ...body, signature_b64u: signText(attester, ProofBundle.attestationSigningText({ ...body, signature_b64u: "" })!) }
}

/** A tool receipt v2 envelope with optional co-signatures over the same payload hash. */
export const toolReceiptV2 = (
  signer: Signer,
  payload: Record<string, unknown>,
  times: EnvelopeTimes,
  coSigners: ReadonlyArray<{ readonly signer: Signer; readonly role: "proxy" | "approver" | "auditor" | "supervisor" }> = []
) => {
  const env = envelope(signer, "tool_receipt", payload, { ...times, envelopeVersion: "2" })
  if (coSigners.length === 0) return env
  return {
    ...env,
    co_signatures: coSigners.map((c) => ({ signature_b64u: signText(c.signer, env.payload_hash_b64u), algorithm: "Ed25519", signer_did: c.signer.did, issued_at: times.issuedAt, role: c.role }))
  }
}

/** An export bundle around a signed proof bundle. */
export const exportBundle = (
  issuer: Signer,
  b: { readonly export_id: string; readonly created_at: string; readonly issued_at: string; readonly artifacts: Record<string, unknown>; readonly expires_at?: string }
) => {
  const body: Record<string, unknown> = {
    export_version: "1",
    export_id: b.export_id,
    created_at: b.created_at,
    issuer_did: issuer.did,
    manifest: { manifest_version: "1", generated_at: b.created_at, entries: Manifest.expectedEntries(b.artifacts) },
    artifacts: b.artifacts,
    ...(b.expires_at === undefined ? {} : { expires_at: b.expires_at }),
    issued_at: b.issued_at
  }
  const bundle_hash_b64u = ExportBundle.bundleHash(body)!
  return { ...body, bundle_hash_b64u, hash_algorithm: "SHA-256", signature_b64u: signText(issuer, bundle_hash_b64u), algorithm: "Ed25519" }
}
