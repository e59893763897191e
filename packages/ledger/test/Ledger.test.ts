import { PgTestDatabase } from "@clawbounties/adapter-postgres"
import { describe, layer } from "@effect/vitest"
import { pgLayer, sqliteLayer } from "./helpers.js"
import { ledgerSuite } from "./suite.js"

const pg = await PgTestDatabase.probe()

layer(sqliteLayer(), { excludeTestServices: true })("Ledger on SQLite", ledgerSuite)

describe.skipIf(!pg.available)(`Ledger on PostgreSQL ${pg.reason}`, () => {
  layer(pgLayer("ledger_suite"), { excludeTestServices: true, timeout: "30 seconds" })("suite", ledgerSuite)
})
