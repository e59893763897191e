/**
 * The engine's services as one layer over a migrated `SqlClient`: what every command requires. The
 * server, the testkit and tests differ only in the parts they pass (ids, entropy, settings), so the
 * composition lives here once.
 */
import type { SqlClient } from "@effect/sql"
import { Ids } from "@clawbounties/domain"
import { Limits } from "@clawbounties/fees"
import { Ledger, Migrations as LedgerMigrations, Transaction } from "@clawbounties/ledger"
import { type ConfigError, Layer } from "effect"
import { Entropy } from "./Entropy.js"
import { EventSignals } from "./EventSignals.js"
import * as Identities from "./Identities.js"
import { MarketplaceConfig } from "./MarketplaceConfig.js"
import * as Migrations from "./Migrations.js"
import * as Tokens from "./Tokens.js"
import * as Webhooks from "./Webhooks.js"

/** Every service an engine command may require. */
export type Services =
  | SqlClient.SqlClient
  | Ledger.Ledger
  | Ids.IdGen
  | MarketplaceConfig
  | Limits.Limits
  | Entropy
  | Tokens.OperatorToken
  | Identities.IdentitySettings
  | EventSignals
  | Webhooks.Services

/** The tables of every package, in dependency order: what a store adapter migrates. */
export const migrations: ReadonlyArray<LedgerMigrations.MigrationSet> = [LedgerMigrations.ledger, Migrations.marketplace]

export interface Parts<E = never, R = never> {
  readonly ids: Layer.Layer<Ids.IdGen>
  readonly entropy: Layer.Layer<Entropy, E, R>
  readonly settings: Layer.Layer<MarketplaceConfig, E, R>
  readonly limits: Layer.Layer<Limits.Limits, E, R>
  readonly identities: Layer.Layer<Identities.IdentitySettings, E, R>
  readonly operatorToken: Layer.Layer<Tokens.OperatorToken, E, R>
  /** How retried transactions wait; without it they retry at once (tests under `TestClock`). */
  readonly retryBackoff?: Layer.Layer<Transaction.RetryBackoff> | undefined
  /**
   * Wake-ups for waiting event polls: `EventSignals.layer` (this process) by default; replicas
   * sharing one PostgreSQL pass the PostgreSQL adapter's `EventRelay.layer` to wake one another's polls too.
   */
  readonly signals?: Layer.Layer<EventSignals, E, R> | undefined
  /** Webhook settings and outbound HTTP; the defaults over Node's HTTP client when omitted. */
  readonly webhooks?: Layer.Layer<Webhooks.Services, E, R> | undefined
}

/** Production parts: time-ordered ids, OS entropy, settings from `Config`, jittered retry waits. */
export const liveParts: Parts<ConfigError.ConfigError> = {
  ids: Ids.IdGen.layer,
  entropy: Entropy.layer,
  settings: MarketplaceConfig.layerConfig,
  limits: Limits.Limits.layerConfig,
  identities: Identities.layer,
  operatorToken: Tokens.layer,
  retryBackoff: Transaction.RetryBackoff.jittered(),
  webhooks: Webhooks.layerConfig
}

/** The services over `store` (a migrated `SqlClient`, e.g. from an adapter with {@link migrations}). */
export const layer = <SE, SR, E, R>(store: Layer.Layer<SqlClient.SqlClient, SE, SR>, parts: Parts<E, R>) =>
  Layer.mergeAll(
    Ledger.layer,
    parts.settings,
    parts.limits,
    parts.entropy,
    parts.identities,
    parts.operatorToken,
    parts.retryBackoff ?? Layer.empty,
    parts.signals ?? EventSignals.layer,
    parts.webhooks ?? Webhooks.layerWith()
  ).pipe(
    Layer.provideMerge(Layer.merge(store, parts.ids))
  )
