/**
 * A `pg` client that runs parameterised statements as named prepared statements, so PostgreSQL
 * parses and plans each statement's text once per connection instead of on every call.
 *
 * node-postgres sends every query as an unnamed statement: the server parses, analyses and plans
 * it each time. For the ledger's statements (a `VALUES` list locked `FOR UPDATE`, and one
 * data-modifying `WITH` that writes balances, entry, postings and idempotency together) planning
 * cost more than executing: the same five-statement transfer took 600 µs unnamed and 255 µs named
 * on this machine. A named statement is parsed once; after five executions PostgreSQL also keeps a
 * generic plan when it is no worse than the custom ones.
 *
 * Each client (one server session) names the texts it sees, `cb_1`, `cb_2`, ..., up to
 * `maxStatements`; texts past that run unnamed, so a stream of one-off shapes (a batch of every
 * size) cannot grow the session without bound. Only statements with parameters are named: a
 * statement without any may hold several commands, which a prepared statement cannot. Prepared
 * statements live as long as the session and survive a rolled-back transaction, so the names stay
 * valid for the life of the client. Poolers in transaction mode (PgBouncer before 1.21) do not
 * keep a session per client: turn this off there (`Postgres.Options.preparedStatements`).
 */
import pg from "pg"

type QueryConfig = { readonly text: string; readonly values?: unknown; readonly name?: unknown; readonly submit?: unknown }

const isPlainConfig = (value: unknown): value is QueryConfig =>
  typeof value === "object" && value !== null && typeof (value as QueryConfig).text === "string" &&
  (value as QueryConfig).name === undefined && typeof (value as QueryConfig).submit !== "function"

const hasParameters = (values: unknown): boolean => Array.isArray(values) && values.length > 0

/** A `pg.Client` class whose instances name up to `maxStatements` statement texts each. */
export const clientClass = (maxStatements: number): typeof pg.Client =>
  class PreparingClient extends pg.Client {
    readonly #names = new Map<string, string>()

    #nameOf(text: string): string | undefined {
      let name = this.#names.get(text)
      if (name === undefined && this.#names.size < maxStatements) {
        name = `cb_${this.#names.size + 1}`
        this.#names.set(text, name)
      }
      return name
    }

    // The overloads of `pg.Client.query` are many; every form is passed through unchanged but two:
    // `(text, values, callback?)` and `({ text, values, ... }, callback?)` with parameters.
    override query(config: any, values?: any, callback?: any): any {
      if (typeof config === "string" && hasParameters(values)) {
        const name = this.#nameOf(config)
        if (name !== undefined) return super.query({ name, text: config, values }, callback)
      } else if (isPlainConfig(config) && hasParameters(config.values)) {
        const name = this.#nameOf(config.text)
        if (name !== undefined) return super.query({ ...config, name } as pg.QueryConfig, values)
      }
      return super.query(config, values, callback)
    }
  }
