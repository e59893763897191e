export * as Ledger from "./Ledger.js"
