export * as EventRelay from "./EventRelay.js"
export * as Postgres from "./Postgres.js"
export * as PgTestDatabase from "./PgTestDatabase.js"
