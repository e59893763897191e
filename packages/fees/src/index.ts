export * as Limits from "./Limits.js"
export * as Policy from "./Policy.js"
export * as PolicyHash from "./PolicyHash.js"
export * as Quote from "./Quote.js"
