/** Deterministic signers and a typical signed bundle for tests and the benchmark. */
import { EventChain, Hash, Sign } from "@clawbounties/verify"

export const seed = (k: number) => Uint8Array.from({ length: 32 }, (_, i) => (k + i) & 0xff)
export const agent = Sign.signerFromSeed(seed(1))
export const gateway = Sign.signerFromSeed(seed(100))
export const stranger = Sign.signerFromSeed(seed(7))
export const attester = Sign.signerFromSeed(seed(0))

export const T0 = Date.parse("2026-02-12T00:00:00.000Z")
export const iso = (ms: number) => new Date(ms).toISOString()
export const VERIFY_AT = T0 + 60_000

/** A typical bundle: 10 events, one gateway receipt bound to event 3. */
export const typicalBundle = (events = 10, options: { readonly bind?: boolean } = {}) => {
  const runId = "run_typical_001"
  const chain = EventChain.build(
    runId,
    Array.from({ length: events }, (_, i) => ({
      event_id: `evt_${String(i).padStart(3, "0")}`,
      event_type: i % 2 === 0 ? "llm_call" : "tool_call",
      timestamp: iso(T0 + i * 1000),
      payload_hash_b64u: Hash.sha256B64uOfString(`event payload ${i}`)
    }))
  )
  const receipt = Sign.gatewayReceipt(gateway, {
    receipt_id: "rcpt_001",
    gateway_id: "gw_test",
    provider: "anthropic",
    model: "claude-test",
    request_hash_b64u: Hash.sha256B64uOfString("request"),
    response_hash_b64u: Hash.sha256B64uOfString("response"),
    tokens_input: 10,
    tokens_output: 20,
    latency_ms: 123,
    timestamp: iso(T0 + 3000),
    ...(options.bind === false ? {} : { binding: { run_id: runId, event_hash_b64u: chain[3]!.event_hash_b64u, nonce: "nonce_001" } })
  }, { issuedAt: iso(T0 + 3500) })
  const envelope = Sign.proofBundle(agent, { bundle_id: "bundle_typical_001", event_chain: chain, receipts: [receipt] }, { issuedAt: iso(T0 + 20_000) })
  return { runId, chain, receipt, envelope }
}

export const clone = <A>(a: A): A => JSON.parse(JSON.stringify(a)) as A
