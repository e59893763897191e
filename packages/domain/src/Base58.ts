/** Base58btc (the Bitcoin alphabet), as used by `did:key` multibase `z...` identifiers. */
const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
const indexOf = new Map([...alphabet].map((c, i) => [c, BigInt(i)] as const))

export const encode = (bytes: Uint8Array): string => {
  let zeros = 0
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++
  let value = 0n
  for (const byte of bytes) value = (value << 8n) | BigInt(byte)
  let out = ""
  while (value > 0n) {
    out = alphabet[Number(value % 58n)] + out
    value /= 58n
  }
  return "1".repeat(zeros) + out
}

/** Decodes base58btc; `undefined` when a character is outside the alphabet. */
export const decode = (text: string): Uint8Array | undefined => {
  let zeros = 0
  while (zeros < text.length && text[zeros] === "1") zeros++
  let value = 0n
  for (const char of text) {
    const digit = indexOf.get(char)
    if (digit === undefined) return undefined
    value = value * 58n + digit
  }
  const body: Array<number> = []
  while (value > 0n) {
    body.unshift(Number(value & 0xffn))
    value >>= 8n
  }
  return Uint8Array.from([...new Array<number>(zeros).fill(0), ...body])
}
