/** One row of the error catalogue: the stable wire code, the HTTP status and what it means. */
export interface Entry {
  readonly code: string
  readonly status: 400 | 401 | 402 | 403 | 404 | 405 | 408 | 409 | 410 | 413 | 415 | 422 | 423 | 429 | 431 | 500 | 502 | 503
  readonly summary: string
}

/** A catalogue section: exactly one entry per error tag of the section. */
export type Section<E extends { readonly _tag: string }> = { readonly [K in E["_tag"]]: Entry }
