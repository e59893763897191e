/**
 * Opaque page cursors: the sort key of a page's last row, joined with `|` and base64url-encoded.
 *
 * A cursor is only accepted if it is one this API could have returned: every part passes its check
 * and encoding the parts again gives back the same text. A forged or truncated cursor is refused
 * with `InvalidRequest`, never read as a different position.
 */
import { ErrorCatalogue } from "@clawbounties/domain"
import { Effect } from "effect"

export const encode = (parts: ReadonlyArray<string>): string => Buffer.from(parts.join("|")).toString("base64url")

const isoTimestamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/

/** A part that is a timestamp as the engine writes them. */
export const isTimestamp = (part: string): boolean => isoTimestamp.test(part)

export const decode = (cursor: string, checks: ReadonlyArray<(part: string) => boolean>) => {
  const parts = Buffer.from(cursor, "base64url").toString("utf8").split("|")
  const valid = parts.length === checks.length && checks.every((check, i) => check(parts[i]!)) && encode(parts) === cursor
  return valid
    ? Effect.succeed(parts)
    : Effect.fail(new ErrorCatalogue.InvalidRequest({
      message: "cursor is not one this API returned",
      issues: [{ path: "cursor", message: "invalid cursor" }]
    }))
}

/**
 * The page out of `limit + 1` rows read (one row past the page says whether another page exists),
 * and the cursor after its last row: null when there is no more, a full last page included.
 */
export const paginate = <A>(rows: ReadonlyArray<A>, limit: number, cursorOf: (row: A) => string) => {
  const page = rows.slice(0, limit)
  return { page, next_cursor: rows.length > limit ? cursorOf(page[page.length - 1]!) : null }
}
