/** Shared test data: real did:keys and ids standing in for the spec's placeholders (`did:key:zBuyer`, `bty_123`). */
import { Did } from "@clawbounties/domain"

export const dids = {
  buyer: Did.fromPublicKey(new Uint8Array(32).fill(11)),
  worker: Did.fromPublicKey(new Uint8Array(32).fill(22)),
  payer: Did.fromPublicKey(new Uint8Array(32).fill(33)),
  author: Did.fromPublicKey(new Uint8Array(32).fill(44)),
  operator: Did.fromPublicKey(new Uint8Array(32).fill(55))
}

const replacements: ReadonlyArray<readonly [RegExp, string]> = [
  [/^did:key:zBuyer$/, dids.buyer],
  [/^did:key:zWorker$/, dids.worker],
  [/^did:key:zPayer$/, dids.payer],
  [/^did:key:zAuthor$/, dids.author],
  [/^did:key:z\.\.\.$/, dids.buyer],
  [/^(bty|esc|sub|wrk|tipb)_123$/, "$1_000123"],
  [/^tp_123$/, "tpl_000123"]
]

/** The spec's example with its placeholder DIDs and short ids replaced by valid ones. */
export const substitute = (value: unknown): unknown => {
  if (typeof value === "string") {
    for (const [pattern, replacement] of replacements) {
      if (pattern.test(value)) return value.replace(pattern, replacement)
    }
    return value
  }
  if (Array.isArray(value)) return value.map(substitute)
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v)]))
  }
  return value
}

/** What actually crosses the wire: undefined-valued keys vanish. */
export const wire = (value: unknown): unknown => JSON.parse(JSON.stringify(value))
