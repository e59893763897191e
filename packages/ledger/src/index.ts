export * as Ledger from "./Ledger.js"
export * as Migrations from "./Migrations.js"
export * as Transaction from "./Transaction.js"
