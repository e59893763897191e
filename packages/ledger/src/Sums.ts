/**
 * Exact sums of 64-bit columns in SQL. SQLite's SUM fails with "integer overflow" past 2^63, which
 * corrupt rows reach and so do totals across many accounts (each balance is bounded, their sum is
 * not); a sum taken in 32-bit halves never overflows.
 */
import { Money } from "@clawbounties/domain"

/**
 * SQL select items: the sum of the 64-bit `expression` as two exact 64-bit sums, `<prefix>hi` of the
 * upper 32 bits and `<prefix>lo` of the lower. Exact for fewer than 2^31 rows; read it with {@link whole}.
 */
export const halves = (expression: string, prefix = "") =>
  `CAST(COALESCE(SUM((${expression}) >> 32), 0) AS BIGINT) AS ${prefix}hi, ` +
  `CAST(COALESCE(SUM((${expression}) & 4294967295), 0) AS BIGINT) AS ${prefix}lo`

/** SQL: the 64-bit `value` differs from the sum in `hi`, `lo` (compared in halves, so nothing overflows). */
export const differs = (value: string) =>
  `(((${value}) >> 32) <> hi + (lo >> 32) OR ((${value}) & 4294967295) <> (lo & 4294967295))`

/** The sum a row's {@link halves} add up to: `hi * 2^32 + lo`. */
export const whole = (row: Record<string, unknown>, prefix = ""): bigint =>
  Money.fromDb(row[`${prefix}hi`]) * 4_294_967_296n + Money.fromDb(row[`${prefix}lo`])
