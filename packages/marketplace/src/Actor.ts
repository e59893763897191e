/** Who is calling: an authenticated principal and the role its token grants. */
import { ErrorCatalogue } from "@clawbounties/domain"
import { Effect } from "effect"

export type Role = "worker" | "requester" | "operator"

export interface Actor {
  /** A did:key, or `operator` for the configured operator token. */
  readonly did: string
  readonly role: Role
}

export const operator: Actor = { did: "operator", role: "operator" }

/** Fails with `FORBIDDEN` unless the actor's token carries one of `roles`. */
export const requireRole = (actor: Actor, ...roles: ReadonlyArray<Role>) =>
  roles.includes(actor.role)
    ? Effect.void
    : Effect.fail(new ErrorCatalogue.Forbidden({ reason: `requires a token of role ${roles.join(" or ")}` }))
