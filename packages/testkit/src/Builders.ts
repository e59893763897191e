/**
 * Builders of what a worker signs and a requester checks: proof bundles (valid, tampered, with
 * gateway receipts bound or unbound to the run), commit proofs, agent packs (a real `.tar.gz` and
 * the artifact envelope that signs it) and answers to DID registration challenges. All signing goes
 * through `@clawbounties/verify`'s `Sign` builders, so we build exactly what the engine verifies.
 *
 * Time is an argument (`issuedAt`, ISO), never read here: pass the engine's clock time.
 */
import { Identities } from "@clawbounties/marketplace"
import { EventChain, Hash, Sign } from "@clawbounties/verify"
import { gzipSync } from "node:zlib"
import type { Key } from "./Keys.js"

export const DEFAULT_ISSUED_AT = "2026-01-01T00:00:00.000Z"
/** The repository of commit proofs unless one is given; its claim id is `Sign.defaultRepoClaimId` of it. */
export const DEFAULT_REPOSITORY = "github.com/clawbounties/example"

// -------------------------------------------------------------------------------------------------
// Proof bundles

export interface ReceiptSpec {
  /** The gateway that signs the receipt (its DID must be in the engine's `gatewaySignerDids`). */
  readonly gateway: Key
  /**
   * `true` (default): bound to this bundle's run and one of its events, so it counts toward the
   * `gateway` tier. `false`: no binding at all. `"other_run"`: bound to a different run (a receipt
   * lifted from another bundle), which strict verification refuses.
   */
  readonly bound?: boolean | "other_run"
  readonly receiptId?: string
}

export interface ProofBundleOptions {
  readonly runId?: string
  readonly issuedAt?: string
  /** Number of events in the chain (at least 1; 2 by default). */
  readonly events?: number
  readonly receipts?: ReadonlyArray<ReceiptSpec>
  /**
   * Change the payload after signing, so the hash no longer matches (`HASH_MISMATCH`):
   * the typical forgery the engine must refuse fail-closed.
   */
  readonly tamper?: boolean
}

/** A signed `proof_bundle` envelope for a run by `worker`. */
export const proofBundle = (worker: Key, options: ProofBundleOptions = {}) => {
  const issuedAt = options.issuedAt ?? DEFAULT_ISSUED_AT
  const runId = options.runId ?? "run_1"
  const count = Math.max(1, options.events ?? 2)
  const chain = EventChain.build(runId, Array.from({ length: count }, (_, i) => ({
    event_id: `evt_${i + 1}`,
    event_type: i === 0 ? "run_start" : i === count - 1 ? "run_end" : "llm_call",
    timestamp: issuedAt,
    payload_hash_b64u: Hash.sha256B64uOfString(`${runId}:event:${i + 1}`)
  })))
  const receipts = (options.receipts ?? []).map((spec, i) => {
    const bound = spec.bound ?? true
    const target = chain[Math.min(i, chain.length - 1)]!
    return Sign.gatewayReceipt(spec.gateway.signer, {
      receipt_id: spec.receiptId ?? `rcpt_${runId}_${i + 1}`,
      gateway_id: "gw_testkit",
      provider: "testkit",
      model: "testkit-model",
      request_hash_b64u: Hash.sha256B64uOfString(`${runId}:request:${i}`),
      response_hash_b64u: Hash.sha256B64uOfString(`${runId}:response:${i}`),
      tokens_input: 10,
      tokens_output: 20,
      latency_ms: 5,
      timestamp: issuedAt,
      ...(bound === false
        ? {}
        : { binding: { run_id: bound === "other_run" ? `${runId}_other` : runId, event_hash_b64u: target.event_hash_b64u } })
    }, { issuedAt })
  })
  const envelope = Sign.proofBundle(worker.signer, {
    bundle_id: `bundle_${runId}`,
    event_chain: chain,
    ...(receipts.length === 0 ? {} : { receipts })
  }, { issuedAt })
  return options.tamper === true
    ? { ...envelope, payload: { ...envelope.payload, bundle_id: `${envelope.payload.bundle_id}_tampered` } }
    : envelope
}

// -------------------------------------------------------------------------------------------------
// Commit proofs

export interface CommitProofOptions {
  readonly repository?: string
  readonly commitSha?: string
  readonly branch?: string
  readonly issuedAt?: string
  readonly tamper?: boolean
}

/** A signed `commit_proof` envelope (what a code bounty's submission must carry). */
export const commitProof = (worker: Key, options: CommitProofOptions = {}) => {
  const repository = options.repository ?? DEFAULT_REPOSITORY
  const envelope = Sign.commitProof(worker.signer, {
    repo_claim_id: Sign.defaultRepoClaimId(repository),
    commit_sha: options.commitSha ?? "0123456789abcdef0123456789abcdef01234567",
    repository,
    ...(options.branch === undefined ? {} : { branch: options.branch })
  }, { issuedAt: options.issuedAt ?? DEFAULT_ISSUED_AT })
  return options.tamper === true
    ? { ...envelope, payload: { ...envelope.payload, commit_sha: "ffffffffffffffffffffffffffffffffffffffff" } }
    : envelope
}

// -------------------------------------------------------------------------------------------------
// Agent packs

const enc = new TextEncoder()

/** A ustar header for a regular file. */
const tarHeader = (name: string, size: number): Uint8Array => {
  const h = new Uint8Array(512)
  const put = (offset: number, length: number, text: string) => h.set(enc.encode(text).subarray(0, length), offset)
  put(0, 100, name)
  put(100, 8, "0000644\0")
  put(108, 8, "0001750\0")
  put(116, 8, "0001750\0")
  put(124, 12, size.toString(8).padStart(11, "0") + "\0")
  put(136, 12, "14567000000\0")
  h[156] = "0".charCodeAt(0)
  put(257, 6, "ustar\0")
  put(263, 2, "00")
  h.fill(0x20, 148, 156)
  const sum = h.reduce((a, b) => a + b, 0)
  put(148, 8, sum.toString(8).padStart(6, "0") + "\0 ")
  return h
}

/** A `.tar.gz` of `files` (paths as given), deterministic bytes for the same input. */
export const tarGz = (files: ReadonlyArray<{ readonly path: string; readonly data: Uint8Array }>): Uint8Array => {
  const parts: Array<Uint8Array> = []
  for (const file of files) {
    parts.push(tarHeader(file.path, file.data.length), file.data, new Uint8Array((512 - (file.data.length % 512)) % 512))
  }
  parts.push(new Uint8Array(1024))
  return new Uint8Array(gzipSync(Buffer.concat(parts), { level: 9 }))
}

export interface AgentPackOptions {
  readonly packId?: string
  readonly title?: string
  readonly createdAt?: string
  /** Extra skills besides `skills/main/SKILL.md`. */
  readonly skills?: ReadonlyArray<string>
}

export interface AgentPack {
  /** The pack's bytes (`.tar.gz`). */
  readonly bytes: Uint8Array
  /** base64url SHA-256 of the bytes: what `agent_pack.bundle_sha256_b64u` declares. */
  readonly bundleHash: string
  /** The worker's `artifact_signature` over the bytes. */
  readonly artifact: ReturnType<typeof Sign.artifact>
  /** The `agent_pack` reference of a submission. */
  readonly reference: { readonly bundle_sha256_b64u: string; readonly manifest_path: string }
}

/**
 * A valid agent pack (spec B6) authored and signed by `worker`: manifest, README, install notes and
 * at least one skill, all under `agent-pack/`, every file listed with its hash and size.
 */
export const agentPack = (worker: Key, options: AgentPackOptions = {}): AgentPack => {
  const createdAt = options.createdAt ?? DEFAULT_ISSUED_AT
  const skills = ["main", ...(options.skills ?? [])]
  const content: Array<{ readonly path: string; readonly data: Uint8Array; readonly type: string }> = [
    { path: "README.md", data: enc.encode(`# ${options.title ?? "Testkit pack"}\n`), type: "text/markdown" },
    { path: "install.md", data: enc.encode("Copy `agent-pack/` into your skills directory.\n"), type: "text/markdown" },
    ...skills.map((skill) => ({ path: `skills/${skill}/SKILL.md`, data: enc.encode(`# ${skill}\nDoes ${skill}.\n`), type: "text/markdown" }))
  ]
  const manifest = {
    schema_version: "1",
    pack_id: options.packId ?? "pack_testkit",
    title: options.title ?? "Testkit pack",
    created_at: createdAt,
    author_did: worker.did,
    files: content.map((f) => ({ path: f.path, sha256_b64u: Hash.sha256B64u(f.data), content_type: f.type, size_bytes: f.data.length })),
    entrypoints: { skills: skills.map((skill) => `skills/${skill}/SKILL.md`), install: "install.md" }
  }
  const bytes = tarGz([
    { path: "agent-pack/manifest.json", data: enc.encode(JSON.stringify(manifest)) },
    ...content.map((f) => ({ path: `agent-pack/${f.path}`, data: f.data }))
  ])
  const bundleHash = Hash.sha256B64u(bytes)
  const artifact = Sign.artifact(worker.signer, {
    artifact_id: `art_${manifest.pack_id}`,
    artifact_type: "agent_pack_bundle",
    content_hash_b64u: bundleHash,
    content_type: "application/gzip",
    content_size_bytes: bytes.length
  }, { issuedAt: createdAt })
  return { bytes, bundleHash, artifact, reference: { bundle_sha256_b64u: bundleHash, manifest_path: "agent-pack/manifest.json" } }
}

// -------------------------------------------------------------------------------------------------
// DID challenges

export interface ChallengeAnswerOptions {
  /** Sign with this key instead of the DID's own: a forgery that must not verify. */
  readonly signWith?: Key
  /** Change the payload after signing (the hash no longer matches). */
  readonly tamper?: boolean
  readonly issuedAt?: string
}

/**
 * The `message_signature` envelope that answers a registration challenge for `role` (see
 * `Identities` in the marketplace for the protocol).
 */
export const challengeAnswer = (
  who: Key,
  challenge: { readonly challenge_id: string; readonly nonce: string },
  role: Identities.RegistrableRole,
  options: ChallengeAnswerOptions = {}
) => {
  const signer = options.signWith ?? who
  const envelope = Sign.challengeResponse(
    { ...signer.signer, did: who.did },
    {
      message: Identities.challengeMessage(challenge.challenge_id, challenge.nonce, role),
      nonce: challenge.nonce,
      audience: Identities.AUDIENCE
    },
    { issuedAt: options.issuedAt ?? DEFAULT_ISSUED_AT }
  )
  return options.tamper === true
    ? { ...envelope, payload: { ...envelope.payload, message: `${envelope.payload.message}:tampered` } }
    : envelope
}
