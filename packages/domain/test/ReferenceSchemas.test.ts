/**
 * Our encoded entities against the reference's JSON Schemas (`../shared/reference/schemas`). Where a
 * module documents extensions (`referenceExtensions`), the reference is relaxed by exactly those and
 * nothing else; and each documented extension must be needed by some sample, so the list stays exact.
 */
import { assert, describe, it } from "@effect/vitest"
import Ajv2020 from "ajv/dist/2020.js"
import { Bounty, BountyMachine, Escrow, EscrowMachine, PostBounty, Wire } from "@clawbounties/domain"
import { Schema } from "effect"
import { readFileSync } from "node:fs"
import { dids, substitute, wire } from "./fixtures.js"

const referenceDir = new URL("../../../../shared/reference/schemas/", import.meta.url)
const load = (path: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(path, referenceDir), "utf8"))

const makeAjv = () => {
  const ajv = new Ajv2020.default({ strict: true, strictTypes: false, strictRequired: false, allErrors: true })
  const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i
  ajv.addFormat("date-time", { type: "string", validate: (s: string) => rfc3339.test(s) && !Number.isNaN(Date.parse(s)) })
  ajv.addSchema(load("bounties/task_spec.v1.json"))
  // Referenced by post_bounty_request.v2 but not part of the copied reference; we never send it, so
  // a schema that accepts nothing makes sure we never do.
  ajv.addSchema({ $id: "https://schemas.clawbureau.org/claw.policy.confidential_work_contract_envelope.v1.json", not: {} })
  return ajv
}
const ajv = makeAjv()

/** The reference schema relaxed by exactly `extensions`; fails loudly if an extension is not one. */
const relax = (reference: Record<string, unknown>, extensions: ReadonlyArray<Wire.ReferenceExtension>) => {
  const schema = structuredClone(reference)
  delete schema.$id
  for (const extension of extensions) {
    const segments = extension.path.split(".")
    const name = segments.pop()!
    let node = schema as { properties: Record<string, any>; required?: Array<string> }
    for (const segment of segments) node = node.properties[segment]
    switch (extension.kind) {
      case "property":
        if (name in node.properties) throw new Error(`${extension.path} is already in the reference`)
        node.properties[name] = {}
        break
      case "enum": {
        const values: Array<string> = node.properties[name].enum
        for (const value of extension.values) {
          if (values.includes(value)) throw new Error(`${extension.path} already allows ${value}`)
        }
        node.properties[name] = { ...node.properties[name], enum: [...values, ...extension.values] }
        break
      }
      case "optional":
        if (!node.required?.includes(name)) throw new Error(`${extension.path} is not required by the reference`)
        node.required = node.required.filter((field) => field !== name)
        break
    }
  }
  return schema
}

const validator = (reference: Record<string, unknown>, extensions: ReadonlyArray<Wire.ReferenceExtension>) => {
  const validate = ajv.compile(relax(reference, extensions))
  return (value: unknown): string | undefined =>
    validate(value) ? undefined : ajv.errorsText(validate.errors, { dataVar: "" })
}

/** Decodes a wire sample with our schema, re-encodes it, and checks the round trip is exact. */
const roundTrip = <A, I>(schema: Schema.Schema<A, I>, sample: unknown): unknown => {
  const decoded = Schema.decodeUnknownSync(schema)(sample)
  const encoded = wire(Schema.encodeSync(schema)(decoded))
  assert.deepStrictEqual(encoded, sample)
  return encoded
}

const checkAgainstReference = (
  name: string,
  reference: Record<string, unknown>,
  extensions: ReadonlyArray<Wire.ReferenceExtension>,
  samples: ReadonlyArray<unknown>
) => {
  const relaxed = validator(reference, extensions)
  for (const [index, sample] of samples.entries()) {
    assert.isUndefined(relaxed(sample), `${name} sample ${index}`)
  }
  // Every documented extension is needed: without it, some sample fails the reference.
  for (const extension of extensions) {
    const without = validator(reference, extensions.filter((e) => e !== extension))
    assert.isTrue(
      samples.some((sample) => without(sample) !== undefined),
      `${name}: extension ${extension.kind} ${extension.path} is documented but no sample needs it`
    )
    assert.isAbove(extension.why.length, 10)
  }
}

const t = (hour: number) => `2026-02-03T${String(hour).padStart(2, "0")}:00:00.000Z`
const hash = "F9Z-uPJsIDIM0uFrPRjtn-fVcu7SVQI6h88kt7DfRHo"

const openBounty = {
  schema_version: "2",
  bounty_id: "bty_000001",
  requester_did: dids.buyer,
  title: "Fix failing unit tests",
  description: "Make the parser tests pass.",
  reward: { amount_minor: "5000", currency: "USD" },
  closure_type: "test",
  difficulty_scalar: 1,
  escrow_id: "esc_000001",
  status: "open",
  is_code_bounty: true,
  tags: ["typescript", "testing"],
  min_proof_tier: "gateway",
  test_harness_id: "th_123",
  fee_policy_version: "1",
  all_in_cost: { principal_minor: "5000", platform_fee_minor: "250", total_minor: "5250", currency: "USD" },
  created_at: t(10),
  idempotency_key: "bounty:bty_000001:create",
  fee_policy_id: "bounties_v1",
  fee_policy_hash_b64u: hash,
  acceptance_timeout_policy: "reopen",
  expires_at: t(22),
  updated_at: t(10)
}

const researchBounty = {
  ...openBounty,
  bounty_id: "bty_000002",
  escrow_id: "esc_000002",
  title: "Research best approach for X",
  closure_type: "requester",
  is_code_bounty: false,
  tags: ["research"],
  min_proof_tier: undefined,
  test_harness_id: undefined,
  minimum_proof_tier: "none",
  reward: { amount_minor: "200", currency: "USD" },
  all_in_cost: { principal_minor: "200", platform_fee_minor: "25", total_minor: "225", currency: "USD" },
  difficulty_scalar: 2.5,
  acceptance_timeout_policy: "cancel",
  metadata: { requested_worker_did: dids.worker, deliverable_spec: { wants: ["summary"] } }
}

/** One bounty per state, carrying the fields that state sets. */
const bountyIn = (status: BountyMachine.Status, base: Record<string, unknown>) => {
  const accepted = { accepted_at: t(11), accepted_by: dids.worker, submission_deadline_at: t(23) }
  const reviewing = { ...accepted, review_deadline_at: t(23) }
  const disputed = { ...reviewing, dispute_deadline_at: t(23) }
  const extra: Record<BountyMachine.Status, Record<string, unknown>> = {
    open: {},
    expired: {},
    cancelled: {},
    accepted,
    pending_review: reviewing,
    approved: reviewing,
    disputed: { ...disputed, escalated_at: t(23) },
    rejected: disputed,
    resolved: disputed
  }
  return wire({ ...base, ...extra[status], status, updated_at: t(12) })
}

describe("reference JSON Schemas", () => {
  it("Bounty: every state, both lanes, against bounty.v2.json relaxed by its documented extensions", () => {
    const samples = BountyMachine.states.flatMap((status) => [bountyIn(status, openBounty), bountyIn(status, researchBounty)])
    const encoded = samples.map((sample) => roundTrip(Bounty.Bounty, sample))
    checkAgainstReference("Bounty", load("bounties/bounty.v2.json"), Bounty.referenceExtensions, encoded)
    // The unrelaxed reference refuses our records (they carry the extensions), so the relaxation matters.
    assert.isDefined(validator(load("bounties/bounty.v2.json"), [])(encoded[0]))
  })

  it("Bounty: decoding refuses what the reference refuses, and a few things it allows", () => {
    const decode = Schema.decodeUnknownEither(Bounty.Bounty)
    const bad: ReadonlyArray<Record<string, unknown>> = [
      { ...openBounty, reward: { amount_minor: "0", currency: "USD" } },
      { ...openBounty, reward: { amount_minor: "5000", currency: "EUR" } },
      { ...openBounty, title: "" },
      { ...openBounty, difficulty_scalar: 11 },
      { ...openBounty, tags: Array.from({ length: 11 }, () => "x") },
      { ...openBounty, status: "paid" },
      { ...openBounty, created_at: "2026-02-03" },
      { ...openBounty, bounty_id: "esc_000001" },
      { ...openBounty, requester_did: "did:web:example.com" },
      // Stricter than the reference: the cost must add up, and test closure needs a harness.
      { ...openBounty, all_in_cost: { ...openBounty.all_in_cost, total_minor: "5251" } },
      { ...openBounty, all_in_cost: { ...openBounty.all_in_cost, principal_minor: "4999", total_minor: "5249" } },
      { ...openBounty, test_harness_id: undefined }
    ]
    for (const sample of bad) assert.isTrue(decode(wire(sample))._tag === "Left", JSON.stringify(sample))
  })

  it("PostBounty: the spec's three request examples and its response against the v2 reference schemas", () => {
    const requests = [
      {
        title: "Fix failing unit tests",
        description: "...",
        reward: { amount_minor: "5000", currency: "USD" },
        closure_type: "test",
        difficulty_scalar: 1.0,
        is_code_bounty: true,
        test_harness_id: "th_123",
        min_proof_tier: "gateway",
        tags: ["typescript", "testing"]
      },
      {
        title: "Research best approach for X",
        description: "Summarize options, tradeoffs, and recommend a path.",
        reward: { amount_minor: "5000", currency: "USD" },
        closure_type: "requester",
        difficulty_scalar: 1.0,
        tags: ["research"]
      },
      {
        title: "Deliver an OpenClaw worker + MCP setup",
        description: "Provide SKILL.md + config + install steps; include signed artifacts.",
        reward: { amount_minor: "15000", currency: "USD" },
        closure_type: "requester",
        difficulty_scalar: 1.0,
        tags: ["agent_pack", "openclaw"],
        metadata: { deliverable_spec: { wants: ["skills", "mcp_config", "install_steps"], platform: "openclaw" } }
      }
    ]
    const validateRequest = validator(load("bounties/post_bounty_request.v2.json"), [])
    for (const request of requests) {
      const encoded = wire(Schema.encodeSync(PostBounty.Request)(Schema.decodeUnknownSync(PostBounty.Request)(request)))
      // Defaults are written out (is_code_bounty: false), which the reference allows.
      assert.isUndefined(validateRequest(encoded), JSON.stringify(request))
      assert.isUndefined(validateRequest(request))
    }
    assert.isTrue(
      Schema.decodeUnknownEither(PostBounty.Request)({ ...requests[0], test_harness_id: undefined })._tag === "Left",
      "closure_type=test without a harness is refused, as the reference's if/then does"
    )

    const response = substitute({
      schema_version: "2",
      bounty_id: "bty_123",
      escrow_id: "esc_123",
      status: "open",
      all_in_cost: { principal_minor: "5000", platform_fee_minor: "250", total_minor: "5250", currency: "USD" },
      fee_policy_version: "1",
      created_at: "2026-02-03T10:00:00.000Z"
    })
    const encoded = roundTrip(PostBounty.Response, response)
    assert.isUndefined(validator(load("bounties/post_bounty_response.v2.json"), [])(encoded))
  })

  const escrowBase = {
    escrow_version: "2",
    escrow_id: "esc_000001",
    requester_did: dids.buyer,
    amount_minor: "5250",
    currency: "USD",
    status: "held",
    job_id: "bty_000001",
    created_at: t(10),
    updated_at: t(10),
    held_at: t(10),
    principal_minor: "5000",
    buyer_fee_minor: "250",
    worker_net_minor: "5000",
    fee_policy_id: "bounties_v1",
    fee_policy_version: "1",
    fee_policy_hash_b64u: hash
  }

  it("Escrow: every state against escrow.v2.json relaxed by its documented extensions", () => {
    const resolution = (outcome: string, worker: string, requester: string, fee: string) => ({
      outcome,
      worker_minor: worker,
      requester_minor: requester,
      platform_fee_minor: fee,
      resolved_by: dids.operator,
      resolved_at: t(20)
    })
    const assigned = { ...escrowBase, agent_did: dids.worker }
    const frozen = { ...assigned, status: "frozen", frozen_at: t(15) }
    const bySt: Record<EscrowMachine.Status, ReadonlyArray<Record<string, unknown>>> = {
      held: [escrowBase, assigned],
      frozen: [frozen],
      released: [{ ...assigned, status: "released", released_at: t(16) }],
      refunded: [{ ...frozen, status: "refunded", resolution: resolution("requester_refund", "0", "5250", "0") }],
      split: [{ ...frozen, status: "split", resolution: resolution("split", "2500", "2625", "125") }],
      cancelled: [{ ...escrowBase, status: "cancelled" }]
    }
    const samples = EscrowMachine.states.flatMap((status) => bySt[status].map((sample) => wire(sample)))
    const encoded = samples.map((sample) => roundTrip(Escrow.Escrow, sample))
    checkAgainstReference("Escrow", load("escrow/escrow.v2.json"), Escrow.referenceExtensions, encoded)
  })

  it("Escrow: amounts must add up", () => {
    const decode = Schema.decodeUnknownEither(Escrow.Escrow)
    assert.strictEqual(decode({ ...escrowBase, amount_minor: "5249" })._tag, "Left")
    assert.strictEqual(decode({ ...escrowBase, worker_net_minor: "5001" })._tag, "Left")
    assert.strictEqual(
      decode({
        ...escrowBase,
        status: "split",
        resolution: { outcome: "split", worker_minor: "2500", requester_minor: "2500", platform_fee_minor: "0", resolved_by: dids.operator, resolved_at: t(20) }
      })._tag,
      "Left"
    )
  })

  it("Escrow.HoldRequest: the spec's A3.4 example against escrow_hold_request.v2.json", () => {
    const example = substitute({
      schema_version: "2",
      requester_did: "did:key:zBuyer",
      amount_minor: "5250",
      currency: "USD",
      bounty_id: "bty_123",
      idempotency_key: "bounty:bty_123:escrow:hold",
      metadata: { closure_type: "test", difficulty_scalar: 1.0, fee_policy_version: "1", fee_policy_hash_b64u: hash }
    })
    const encoded = roundTrip(Escrow.HoldRequest, example)
    assert.isUndefined(validator(load("bounties/escrow_hold_request.v2.json"), [])(encoded))
  })
})
