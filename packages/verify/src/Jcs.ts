/**
 * JSON canonicalisation as the reference implements it (used by legacy m1 commit signatures,
 * attestation references, selective disclosure and export bundles; **not** by envelopes, which
 * hash `JSON.stringify`): object keys sorted by UTF-16 code units (JS default sort), numbers and
 * strings written by `JSON.stringify`, no whitespace. Equal to RFC 8785 for the values the
 * protocol carries. Non-finite numbers and `undefined` cannot be canonicalised: `undefined` result,
 * and neither can values nested deeper than `MAX_DEPTH` (the recursion would overflow the stack).
 */
const MAX_DEPTH = 256

const write = (value: unknown, out: Array<string>, depth = 0): boolean => {
  if (value === null) {
    out.push("null")
    return true
  }
  switch (typeof value) {
    case "boolean":
      out.push(value ? "true" : "false")
      return true
    case "string":
      out.push(JSON.stringify(value))
      return true
    case "number":
      if (!Number.isFinite(value)) return false
      out.push(JSON.stringify(value))
      return true
    case "object": {
      if (depth >= MAX_DEPTH) return false
      if (Array.isArray(value)) {
        out.push("[")
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out.push(",")
          if (!write(value[i], out, depth + 1)) return false
        }
        out.push("]")
        return true
      }
      const record = value as Record<string, unknown>
      const keys = Object.keys(record).sort()
      out.push("{")
      for (let i = 0; i < keys.length; i++) {
        if (i > 0) out.push(",")
        out.push(JSON.stringify(keys[i]), ":")
        if (!write(record[keys[i]!], out, depth + 1)) return false
      }
      out.push("}")
      return true
    }
    default:
      return false
  }
}

/** The canonical JSON text, or `undefined` when the value holds something JSON cannot. */
export const canonicalize = (value: unknown): string | undefined => {
  const out: Array<string> = []
  return write(value, out) ? out.join("") : undefined
}
