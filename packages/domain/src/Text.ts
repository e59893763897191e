/**
 * What text the stores keep exactly as sent. PostgreSQL refuses U+0000 in a text value (SQLite keeps
 * it), and both stores encode an unpaired UTF-16 surrogate as U+FFFD, so two different strings
 * would be stored as one. Each check below is one of the rules the engine applies, from the loosest
 * (any request string) to the strictest (identifiers).
 */

const unpairedSurrogate = "[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]"

const nulOrUnpaired = new RegExp(`\\u0000|${unpairedSurrogate}`)
const controlExceptWhitespace = new RegExp(`[\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]|${unpairedSurrogate}`)
const anyControl = new RegExp(`[\\u0000-\\u001f\\u007f]|${unpairedSurrogate}`)

/** Any string a request carries: no U+0000 and no unpaired surrogate. */
export const isStorable = (text: string): boolean => !nulOrUnpaired.test(text)

/** Free text (titles, reasons, notes): storable, and no control characters but tab and newlines. */
export const isProse = (text: string): boolean => !controlExceptWhitespace.test(text)

/** Keys and identifiers: storable, and no control characters at all. */
export const isPlain = (text: string): boolean => !anyControl.test(text)
