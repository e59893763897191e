/**
 * Aggregate (fleet) bundles: an issuer's signed envelope over many member proof bundles.
 *
 * The reference's implementation was not available to us; the rules below are those its
 * conformance vectors pin down, in this order (first failure wins):
 * 1. envelope header (as every envelope), schema `aggregate_bundle_envelope.v1`
 *    (SCHEMA_VALIDATION_FAILED), signer DID format;
 * 2. `signer_did` = `payload.issuer_did` → AGGREGATE_SIGNER_MISMATCH;
 * 3. issued_at, `created_at` ≤ `issued_at` (CAUSAL_CLOCK_CONTRADICTION), `issued_at` not beyond
 *    verifyAt + 5 min (FUTURE_TIMESTAMP_POISONING), envelope or payload `expires_at` (EXPIRED_TTL);
 * 4. encodings, payload hash, signature;
 * 5. manifest over `artifacts/member_bundles/<i>.json` (see Manifest);
 * 6. members sorted by their manifest `sha256_b64u` (code-unit order) → UNSORTED_MEMBER_ARRAY;
 * 7. each member verifies as a proof bundle (or export bundle) → AGGREGATE_MEMBER_INVALID;
 * 8. no run id twice → AGGREGATE_DUPLICATE_RUN_ID; the issuer is not one of the member agents
 *    → IDENTITY_CONFLICT (self-dealing: an issuer vouching for itself);
 * 9. rate-limit claims across members: claims for the same scope, key and window must state the
 *    same maxima (RATE_LIMIT_CLAIM_INCONSISTENT) and their observed sums stay within them
 *    (RATE_LIMIT_EXCEEDED);
 * 10. `metadata.fleet_summary`: total_members, unique_agents, total_runs and (if present)
 *    fleet_proof_tier, the weakest member tier → FLEET_SUMMARY_MISMATCH.
 */
import * as Envelope from "./Envelope.js"
import * as ExportBundle from "./ExportBundle.js"
import * as Manifest from "./Manifest.js"
import * as ProofBundle from "./ProofBundle.js"
import * as Tier from "./Tier.js"
import { validateNamed } from "./internal/JsonSchema.js"
import { type BaseResult, fail, invalid, isRecord, parseTime, type VerificationError, shown } from "./Result.js"

export interface Options extends ExportBundle.Options {}

export interface AggregateResult extends BaseResult {
  readonly aggregate_id?: string
  readonly issuer_did?: string
  readonly members?: ReadonlyArray<ProofBundle.ProofBundleResult>
  readonly fleet_proof_tier?: Tier.ProofTier
}

interface Member {
  readonly agentDid: string
  readonly runIds: ReadonlyArray<string>
  readonly tier: Tier.ProofTier
  readonly claims: ReadonlyArray<Record<string, unknown>>
  readonly result: ProofBundle.ProofBundleResult
}

const memberProofEnvelope = (m: unknown): Record<string, unknown> | undefined => {
  if (!isRecord(m)) return undefined
  if (m.envelope_type === "proof_bundle") return m
  return isRecord(m.artifacts) && isRecord(m.artifacts.proof_bundle_envelope) ? m.artifacts.proof_bundle_envelope : undefined
}

const checkRateLimits = (members: ReadonlyArray<Member>): VerificationError | undefined => {
  const groups = new Map<string, { max: Record<string, unknown>; observed: Record<string, number> }>()
  const fields = ["requests", "tokens_input", "tokens_output"]
  for (const m of members) {
    for (const c of m.claims) {
      const key = JSON.stringify([c.scope, c.scope_key, c.window_start, c.window_end])
      let g = groups.get(key)
      if (g === undefined) {
        g = { max: Object.fromEntries(fields.map((f) => [f, c[`max_${f}`]])), observed: Object.fromEntries(fields.map((f) => [f, 0])) }
        groups.set(key, g)
      }
      for (const f of fields) {
        if (c[`max_${f}`] !== g.max[f]) return fail("RATE_LIMIT_CLAIM_INCONSISTENT", `Members disagree on max_${f} for ${shown(c.scope)}:${shown(c.scope_key)}`, "payload.artifacts.member_bundles")
        const observed = c[`observed_${f}`]
        if (typeof observed === "number") g.observed[f]! += observed
        const max = g.max[f]
        if (typeof max === "number" && g.observed[f]! > max) {
          return fail("RATE_LIMIT_EXCEEDED", `Fleet observed_${f} exceeds max_${f} for ${shown(c.scope)}:${shown(c.scope_key)}`, "payload.artifacts.member_bundles")
        }
      }
    }
  }
  return undefined
}

export const verify = (input: unknown, options: Options): AggregateResult => {
  const ctx = Envelope.makeCtx(options)
  const members: Array<Member> = []
  let fleetTier: Tier.ProofTier | undefined
  const error = ((): VerificationError | undefined => {
    const header = Envelope.checkHeader(input, "aggregate_bundle", ctx)
    if (header) return header
    const env = input as Record<string, unknown>
    const schema = validateNamed("aggregate_bundle_envelope.v1", env)
    if (schema) return fail("SCHEMA_VALIDATION_FAILED", `Schema validation failed: ${schema.message}`, schema.path)
    const p = env.payload as Record<string, unknown>
    const pre =
      Envelope.checkDidFormat(env.signer_did, "signer_did") ??
      (env.signer_did !== p.issuer_did ? fail("AGGREGATE_SIGNER_MISMATCH", "signer_did must equal payload.issuer_did", "signer_did") : undefined) ??
      Envelope.checkIssuedAt(env, ctx)
    if (pre) return pre
    const created = parseTime(p.created_at)!, issued = parseTime(env.issued_at)!
    if (created > issued) return fail("CAUSAL_CLOCK_CONTRADICTION", "created_at is after issued_at", "payload.created_at")
    if (issued > ctx.verifyAt + (options.futureSkewMs ?? ExportBundle.DEFAULT_FUTURE_SKEW_MS)) return fail("FUTURE_TIMESTAMP_POISONING", "issued_at is in the future", "issued_at")
    const expiry = Envelope.checkExpiresAt(env, ctx) ?? (p.expires_at === undefined ? undefined : Envelope.checkExpiresAt(p, ctx))
    if (expiry) return expiry.field === "expires_at" && p.expires_at !== undefined && env.expires_at === undefined ? { ...expiry, field: "payload.expires_at" } : expiry
    const crypto = Envelope.checkEncodings(env, ctx) ?? Envelope.checkCrypto(env, ctx)
    if (crypto) return crypto
    const artifacts = p.artifacts as Record<string, unknown>
    const manifestError = Manifest.check(p.manifest, artifacts, "payload.manifest")
    if (manifestError) return manifestError
    const list = artifacts.member_bundles as Array<unknown>
    const hashes = list.map((m, i) => Manifest.entryFor(`artifacts/member_bundles/${i}.json`, m).sha256_b64u)
    for (let i = 1; i < hashes.length; i++) {
      if (hashes[i - 1]! > hashes[i]!) return fail("UNSORTED_MEMBER_ARRAY", "member_bundles must be sorted by their manifest hash", `payload.artifacts.member_bundles[${i}]`)
    }
    for (let i = 0; i < list.length; i++) {
      const m = list[i]
      // An export member must pass as a whole: its proof bundle can be valid while an attestation
      // around it is forged, and `ExportBundle.verify` still reports that nested result.
      let result: ProofBundle.ProofBundleResult | undefined
      let error: VerificationError | undefined
      if (isRecord(m) && m.envelope_type === "proof_bundle") {
        result = ProofBundle.verify(m, options)
        error = result.error
      } else {
        const exported = ExportBundle.verify(m, options)
        result = exported.proof_bundle
        error = exported.error ?? result?.error
      }
      if (result === undefined || result.status !== "VALID" || error !== undefined) {
        return fail("AGGREGATE_MEMBER_INVALID", `Member ${i} is invalid${error ? `: ${error.code}` : ""}`, `payload.artifacts.member_bundles[${i}]`)
      }
      const pb = memberProofEnvelope(m)!.payload as Record<string, unknown>
      const claims = Array.isArray(pb.rate_limit_claims) ? (pb.rate_limit_claims as Array<Record<string, unknown>>) : []
      members.push({ agentDid: result.agent_did!, runIds: result.run_id === undefined ? [] : [result.run_id], tier: result.proof_tier, claims, result })
    }
    const runs = new Set<string>()
    for (const m of members) {
      for (const r of m.runIds) {
        if (runs.has(r)) return fail("AGGREGATE_DUPLICATE_RUN_ID", `Run ${r} appears in more than one member`, "payload.artifacts.member_bundles")
        runs.add(r)
      }
    }
    const agents = new Set(members.map((m) => m.agentDid))
    if (agents.has(p.issuer_did as string)) return fail("IDENTITY_CONFLICT", "The issuer is also a member agent", "payload.issuer_did")
    const rate = checkRateLimits(members)
    if (rate) return rate
    fleetTier = members.reduce<Tier.ProofTier>((acc, m) => (Tier.precedence(m.tier) < Tier.precedence(acc) ? m.tier : acc), members[0]!.tier)
    const s = (p.metadata as Record<string, unknown>).fleet_summary as Record<string, unknown>
    if (s.total_members !== members.length) return fail("FLEET_SUMMARY_MISMATCH", "total_members does not match", "payload.metadata.fleet_summary.total_members")
    if (s.unique_agents !== agents.size) return fail("FLEET_SUMMARY_MISMATCH", "unique_agents does not match", "payload.metadata.fleet_summary.unique_agents")
    if (s.total_runs !== runs.size) return fail("FLEET_SUMMARY_MISMATCH", "total_runs does not match", "payload.metadata.fleet_summary.total_runs")
    if (s.fleet_proof_tier !== undefined && s.fleet_proof_tier !== fleetTier) return fail("FLEET_SUMMARY_MISMATCH", "fleet_proof_tier does not match", "payload.metadata.fleet_summary.fleet_proof_tier")
    return undefined
  })()
  if (error !== undefined) return invalid(ctx.verifiedAt, error)
  const p = (input as Record<string, unknown>).payload as Record<string, unknown>
  return {
    status: "VALID",
    reason: "Aggregate bundle verified successfully",
    verified_at: ctx.verifiedAt,
    aggregate_id: p.aggregate_id as string,
    issuer_did: p.issuer_did as string,
    members: members.map((m) => m.result),
    ...(fleetTier ? { fleet_proof_tier: fleetTier } : {})
  }
}
