/**
 * Proof-bundle verification throughput (`npm run bench:verify`).
 *
 * A typical bundle: one envelope signature, 10 events, one bound gateway receipt (so two Ed25519
 * verifications per bundle), verified in strict mode. Prints bundles/s with each backend beside
 * the raw node:crypto Ed25519 verify rate measured in the same run, and the ratio to the target:
 * 70% of raw / signatures per bundle.
 *
 * The machine is shared, so the measurements are interleaved in rounds (raw, node, noble, raw, ...)
 * and each figure is the median over the rounds: a load spike then hits all of them alike.
 */
import * as nodeCrypto from "node:crypto"
import { Ed25519, Hash, ProofBundle } from "@clawbounties/verify"
import { gateway, typicalBundle, VERIFY_AT } from "../test/fixtures.js"

const SIGNATURES_PER_BUNDLE = 2
const TARGET_FRACTION = 0.7
const ROUNDS = 7

/** Operations per second of `fn` over about `ms` milliseconds. */
const rate = (fn: () => void, ms: number): number => {
  let n = 0
  const start = performance.now()
  let now = start
  while (now - start < ms) {
    for (let i = 0; i < 20; i++) fn()
    n += 20
    now = performance.now()
  }
  return (n * 1000) / (now - start)
}
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

// Raw node:crypto: a prepared KeyObject and the 43-byte message, one verify per operation.
const { publicKey, privateKey } = nodeCrypto.generateKeyPairSync("ed25519")
const message = Hash.utf8(Hash.sha256B64uOfString("raw"))
const signature = nodeCrypto.sign(null, message, privateKey)
const raw = () => {
  if (!nodeCrypto.verify(null, message, publicKey, signature)) throw new Error("raw verify failed")
}

const { envelope } = typicalBundle(10)
const bundle = (backend: Ed25519.Backend) => {
  const options = { verifyAt: VERIFY_AT, gatewaySignerDids: [gateway.did], backend }
  const check = ProofBundle.verify(envelope, options)
  if (check.status !== "VALID" || check.proof_tier !== "gateway") throw new Error(`bench bundle did not verify: ${check.error?.code}`)
  return () => {
    if (ProofBundle.verify(envelope, options).status !== "VALID") throw new Error("verify failed")
  }
}
const node = bundle(Ed25519.nodeBackend)
const noble = bundle(Ed25519.nobleBackend)

// Warm-up (JIT, key caches).
rate(raw, 300)
rate(node, 300)
rate(noble, 300)

const samples = { raw: [] as Array<number>, node: [] as Array<number>, noble: [] as Array<number> }
for (let r = 0; r < ROUNDS; r++) {
  samples.raw.push(rate(raw, 300))
  samples.node.push(rate(node, 300))
  samples.noble.push(rate(noble, 300))
}

const rawRate = median(samples.raw)
const target = (TARGET_FRACTION * rawRate) / SIGNATURES_PER_BUNDLE
const fmt = (n: number) => Math.round(n).toLocaleString("en-US")
console.log(`raw node:crypto Ed25519 verify: ${fmt(rawRate)} verifies/s (median of ${ROUNDS} rounds)`)
console.log(`target: 70% of raw / ${SIGNATURES_PER_BUNDLE} signatures per bundle = ${fmt(target)} bundles/s`)
for (const [name, xs] of [["node", samples.node], ["noble", samples.noble]] as const) {
  const r = median(xs)
  console.log(
    `proof bundle (strict, ${name} backend): ${fmt(r)} bundles/s = ${(r / target).toFixed(2)}x target ` +
      `(${((r * SIGNATURES_PER_BUNDLE) / rawRate * 100).toFixed(0)}% of the raw rate per signature)`
  )
}
