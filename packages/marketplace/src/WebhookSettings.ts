/**
 * The webhook settings: which URLs may be registered, how many endpoints a principal may have, and
 * how long and how often a delivery is tried. Read from `Config` by the server, or given.
 */
import { Config, Context, Duration, Layer } from "effect"
import * as WebhookTransport from "./WebhookTransport.js"

export interface Settings {
  /** Allow `http` and private, loopback and link-local addresses (local development, tests). */
  readonly allowPrivate: boolean
  /** Endpoints one principal may register. */
  readonly maxEndpoints: number
  /** How long one delivery attempt may take. */
  readonly timeout: Duration.Duration
  /** Attempts before a delivery is given up (`failed`). */
  readonly maxAttempts: number
  /** How long after its event a delivery is retried at most, whatever its attempts. */
  readonly retryFor: Duration.Duration
}

export const defaults: Settings = {
  allowPrivate: false,
  maxEndpoints: 10,
  timeout: Duration.seconds(10),
  maxAttempts: 20,
  retryFor: Duration.hours(24)
}

export class WebhookSettings extends Context.Tag("@clawbounties/marketplace/Webhooks/WebhookSettings")<WebhookSettings, Settings>() {}

const integerBetween = (name: string, min: number, max: number, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: `${name} must be an integer between ${min} and ${max}`, validation: (n) => n >= min && n <= max }),
    Config.withDefault(fallback)
  )

const durationBetween = (name: string, min: Duration.Duration, max: Duration.Duration, fallback: Duration.Duration) =>
  Config.duration(name).pipe(
    Config.validate({
      message: `${name} must be between ${Duration.format(min)} and ${Duration.format(max)}`,
      validation: (d) => Duration.between(d, { minimum: min, maximum: max })
    }),
    Config.withDefault(fallback)
  )

/** Reads `WEBHOOK_ALLOW_PRIVATE`, `WEBHOOK_MAX_ENDPOINTS`, `WEBHOOK_TIMEOUT`, `WEBHOOK_MAX_ATTEMPTS`, `WEBHOOK_RETRY_FOR`. */
export const config: Config.Config<Settings> = Config.all({
  allowPrivate: Config.boolean("WEBHOOK_ALLOW_PRIVATE").pipe(Config.withDefault(defaults.allowPrivate)),
  maxEndpoints: integerBetween("WEBHOOK_MAX_ENDPOINTS", 1, 100, defaults.maxEndpoints),
  timeout: durationBetween("WEBHOOK_TIMEOUT", Duration.seconds(1), Duration.seconds(60), defaults.timeout),
  maxAttempts: integerBetween("WEBHOOK_MAX_ATTEMPTS", 1, 100, defaults.maxAttempts),
  retryFor: durationBetween("WEBHOOK_RETRY_FOR", Duration.minutes(1), Duration.days(7), defaults.retryFor)
})

/** Settings from `Config` and Node's transport: what the server runs. */
export const layerConfig = Layer.merge(Layer.effect(WebhookSettings, config), WebhookTransport.layer)

/** Fixed settings (tests, embedding) and Node's transport. */
export const layerWith = (settings: Partial<Settings> = {}) =>
  Layer.merge(Layer.succeed(WebhookSettings, { ...defaults, ...settings }), WebhookTransport.layer)
