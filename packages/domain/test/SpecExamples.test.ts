/**
 * The request/response examples of agent-economy-mvp.md for entities that have no reference JSON
 * Schema (workers, submissions, tip pools, tips): each decodes with our schema (placeholders such as
 * `did:key:zWorker` and `bty_123` replaced by valid values), and our encoded form keeps every field
 * of the example with the same value.
 */
import { assert, describe, it } from "@effect/vitest"
import { Submission, Tip, TipPool, Worker } from "@clawbounties/domain"
import { Either, Schema } from "effect"
import { dids, substitute, wire } from "./fixtures.js"

/** `actual` has every field of `expected` with the same value (it may add defaults). */
const assertCovers = (actual: unknown, expected: unknown, path = "$"): void => {
  if (typeof expected === "object" && expected !== null && !Array.isArray(expected)) {
    assert.isObject(actual, path)
    for (const [key, value] of Object.entries(expected)) {
      assertCovers((actual as Record<string, unknown>)[key], value, `${path}.${key}`)
    }
  } else if (Array.isArray(expected)) {
    assert.isArray(actual, path)
    assert.strictEqual((actual as Array<unknown>).length, expected.length, path)
    expected.forEach((value, i) => assertCovers((actual as Array<unknown>)[i], value, `${path}[${i}]`))
  } else {
    assert.strictEqual(actual, expected, path)
  }
}

const check = <A, I>(schema: Schema.Schema<A, I>, example: unknown) => {
  const input = substitute(example)
  const decoded = Schema.decodeUnknownSync(schema)(input)
  const encoded = wire(Schema.encodeSync(schema)(decoded))
  assertCovers(encoded, input)
  return { decoded, encoded }
}

const refused = <A, I>(schema: Schema.Schema<A, I>, value: unknown) =>
  assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(schema)(value)), JSON.stringify(value))

const listing = {
  name: "G’s Code Worker",
  headline: "Fast TypeScript fixes + reliable tests",
  tags: ["typescript", "testing", "openclaw"]
}
const capabilities = { job_types: ["code", "research", "agent_pack"], languages: ["ts", "py"], max_minutes: 20 }
const offers = { skills: ["did-work", "moltbook"], mcp: [{ name: "github", description: "Reads repos/issues/PRs via MCP" }] }

describe("spec examples", () => {
  it("worker register request and response, and the worker list (B3)", () => {
    const { decoded } = check(Worker.RegisterRequest, {
      worker_did: "did:key:zWorker",
      worker_version: "openclaw-worker/0.1.0",
      listing,
      capabilities,
      offers,
      pricing: { price_floor_minor: "500" },
      availability: { mode: "manual", paused: false }
    })
    assert.strictEqual(decoded.pricing.price_floor_minor, 500n)
    check(Worker.RegisterResponse, { worker_id: "wrk_123", auth: { mode: "token", token: "..." } })
    const minimal = Schema.decodeUnknownSync(Worker.RegisterRequest)({ worker_did: dids.worker, listing: { name: "w" }, capabilities: { job_types: ["code"] } })
    assert.deepStrictEqual(minimal.availability, { mode: "manual", paused: false })
    assert.strictEqual(minimal.pricing.price_floor_minor, 0n)
    check(Worker.ListResponse, {
      workers: [{
        worker_id: "wrk_123",
        worker_did: "did:key:zWorker",
        status: "online",
        listing,
        capabilities,
        offers,
        pricing: { price_floor_minor: "500" },
        availability: { mode: "auto", paused: false },
        created_at: "2026-02-03T10:00:00.000Z",
        updated_at: "2026-02-03T10:00:00.000Z"
      }]
    })
    refused(Worker.RegisterRequest, { worker_did: "did:key:zWorker", listing, capabilities })
    refused(Worker.RegisterRequest, { worker_did: dids.worker, listing, capabilities: { job_types: [] } })
    refused(Worker.RegisterRequest, { worker_did: dids.worker, listing, capabilities, pricing: { price_floor_minor: 500 } })
  })

  it("submit request and response (B3), and the stored submission", () => {
    const { decoded } = check(Submission.SubmitRequest, {
      worker_did: "did:key:zWorker",
      proof_bundle_envelope: { "... SignedEnvelope<ProofBundlePayload> ...": "..." },
      artifacts: [{ envelope: { "... SignedEnvelope<ArtifactPayload> ...": "..." }, download_url: "https://..." }],
      commit_proof_envelope: { "... SignedEnvelope<CommitProofPayload> ...": "..." },
      result_summary: "Optional short summary (useful for requester-reviewed research)",
      agent_pack: { bundle_url: "https://...", bundle_sha256_b64u: "abc_-123", manifest_path: "agent-pack/manifest.json" }
    })
    assert.strictEqual(decoded.worker_did, dids.worker)
    check(Submission.SubmitResponse, { submission_id: "sub_123", status: "pending_review", verification: { status: "valid" } })
    refused(Submission.SubmitRequest, { worker_did: dids.worker })

    const stored = {
      submission_id: "sub_000001",
      bounty_id: "bty_000001",
      worker_did: dids.worker,
      status: "invalid",
      proof_bundle_envelope: { envelope_type: "proof_bundle" },
      artifacts: [],
      proof_tier: "self",
      invalid_reason: { code: "SIGNATURE_INVALID", message: "the envelope signature does not verify" },
      created_at: "2026-02-03T10:00:00.000Z",
      updated_at: "2026-02-03T10:00:00.000Z"
    }
    check(Submission.Submission, stored)
    // invalid_reason goes with status invalid, and only with it.
    refused(Submission.Submission, { ...stored, invalid_reason: undefined })
    refused(Submission.Submission, { ...stored, status: "pending_review" })
    refused(Submission.Submission, { ...stored, status: "none", invalid_reason: undefined })
  })

  it("tip pool request and response (B7.1)", () => {
    const request = {
      currency: "USD",
      period: "week",
      budget_minor: "200",
      min_tip_minor: "5",
      max_tip_minor: "25",
      max_per_recipient_minor: "100",
      allow_unverified: false,
      allowlist_recipient_dids: null
    }
    const { decoded } = check(TipPool.PutRequest, request)
    assert.strictEqual(decoded.budget_minor, 200n)
    const defaults = Schema.decodeUnknownSync(TipPool.PutRequest)({ currency: "USD", period: "day", budget_minor: "100" })
    assert.deepStrictEqual([defaults.min_tip_minor, defaults.max_tip_minor, defaults.allow_unverified], [5n, 25n, false])
    refused(TipPool.PutRequest, { ...request, min_tip_minor: "30" })
    refused(TipPool.PutRequest, { ...request, max_tip_minor: "300" })
    refused(TipPool.PutRequest, { ...request, budget_minor: "0" })

    const response = {
      pool_id: "tp_123",
      payer_did: "did:key:zPayer",
      currency: "USD",
      period: "week",
      budget_minor: "200",
      spent_in_period_minor: "35",
      remaining_in_period_minor: "165",
      period_ends_at: "2026-02-09T00:00:00.000Z"
    }
    check(TipPool.TipPool, { ...request, ...response, period_started_at: "2026-02-02T00:00:00.000Z" })
    refused(TipPool.TipPool, substitute({ ...request, ...response, remaining_in_period_minor: "166", period_started_at: "2026-02-02T00:00:00.000Z" }))
  })

  it("tip batch request and response (B7.2)", () => {
    const { decoded } = check(Tip.BatchRequest, {
      payer_did: "did:key:zPayer",
      pool_id: "tp_123",
      currency: "USD",
      idempotency_key: "tips:did:key:zPayer:2026-02-03:flush:001",
      aggregation: { window_start: "2026-02-03T00:00:00.000Z", window_end: "2026-02-03T23:59:59.000Z" },
      items: [{
        amount_minor: "25",
        attribution: {
          kind: "skill",
          skill_name: "did-work",
          pack_id: "ap_123",
          bundle_artifact_envelope: { "... SignedEnvelope<ArtifactPayload> ...": "..." }
        }
      }]
    })
    assert.strictEqual(decoded.items[0]!.amount_minor, 25n)
    check(Tip.BatchResponse, {
      tip_batch_id: "tipb_123",
      status: "applied",
      applied_minor: "25",
      items: [{ status: "applied", amount_minor: "25", recipient_did: "did:key:zAuthor" }]
    })
    // A tip names its recipient through a signed artifact or (if the pool allows) explicitly.
    refused(Tip.ItemRequest, { amount_minor: "25", attribution: { kind: "skill", skill_name: "did-work" } })
    refused(Tip.BatchResponse, substitute({ tip_batch_id: "tipb_123", status: "applied", applied_minor: "30", items: [{ status: "applied", amount_minor: "25" }] }))
    refused(Tip.BatchResponse, substitute({
      tip_batch_id: "tipb_123",
      status: "applied",
      applied_minor: "25",
      items: [{ status: "applied", amount_minor: "25" }, { status: "rejected", amount_minor: "5", reason: "TIP_POOL_BUDGET_EXCEEDED" }]
    }))
  })
})
