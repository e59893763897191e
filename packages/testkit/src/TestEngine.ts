/**
 * The whole engine for a test in one line: ledger and marketplace over SQLite `:memory:` (or a
 * given store, or a SQLite file), migrated, with counter ids and seeded entropy.
 *
 * ```ts
 * it.effect("...", () => Effect.gen(function* () { ... }).pipe(Effect.provide(TestEngine.layer())))
 * ```
 */
import type { SqlClient } from "@effect/sql"
import { Sqlite } from "@clawbounties/adapter-sqlite"
import { Limits } from "@clawbounties/fees"
import type { Migrations as LedgerMigrations } from "@clawbounties/ledger"
import { Engine, Identities, MarketplaceConfig, Tokens } from "@clawbounties/marketplace"
import { Layer } from "effect"
import * as Deterministic from "./Deterministic.js"

/** The tables of every package, in dependency order. */
export const migrations: ReadonlyArray<LedgerMigrations.MigrationSet> = Engine.migrations

/** Every service an engine command may require. */
export type Services = Engine.Services

export interface Options {
  /** A migrated `SqlClient`; a fresh SQLite `:memory:` database by default. */
  readonly store?: Layer.Layer<SqlClient.SqlClient> | undefined
  readonly settings?: Partial<MarketplaceConfig.Settings> | undefined
  /** The operator token; none by default (engine calls take an operator `Actor` directly). */
  readonly operatorToken?: Layer.Layer<Tokens.OperatorToken> | undefined
  /** Seed for the `Random` the engine's entropy draws from (token secrets, nonces). */
  readonly seed?: number | string | undefined
}

/** A fresh SQLite `:memory:` database with every migration applied. */
export const memoryStore = (): Layer.Layer<SqlClient.SqlClient> => Sqlite.layerMemory(migrations).pipe(Layer.orDie)

/** A SQLite file with every migration applied (created if missing). */
export const fileStore = (filename: string): Layer.Layer<SqlClient.SqlClient> =>
  Sqlite.layer({ filename, migrations }).pipe(Layer.orDie)

/** The engine's services over a store (a fresh `:memory:` database unless `options.store`). */
export const layer = (options: Options = {}): Layer.Layer<Services> =>
  Engine.layer(options.store ?? memoryStore(), {
    ids: Deterministic.layerIds,
    entropy: Deterministic.layerEntropy,
    settings: MarketplaceConfig.MarketplaceConfig.layer(options.settings ?? {}),
    limits: Limits.Limits.layer,
    identities: Identities.layerWith(),
    operatorToken: options.operatorToken ?? Tokens.layerNoOperator
  }).pipe(
    Layer.provideMerge(Deterministic.layerRandom(options.seed ?? 0))
  )
