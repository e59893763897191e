/**
 * State machines as data. Each job kind has a table of `(from, event) -> to` rows; `transition` is the
 * one place that checks a move, and the docs (`docs/state-machines.md`) are generated from the same
 * tables, so code and documentation cannot drift apart.
 *
 * Every state that is neither initial nor terminal names its deadline and what happens when the
 * deadline passes (ARCHITECTURE §4): nobody's silence can leave money stuck.
 */
import { Either } from "effect"
import { InvalidTransition } from "./errors/Common.js"

/** One allowed move. */
export interface Row<S extends string, E extends string> {
  readonly from: S
  readonly event: E
  readonly to: S
  /** One line: what happens, for the generated docs. */
  readonly description: string
  /** Whether the command making this move posts ledger entries (releases, refunds, splits). */
  readonly moneyMoves: boolean
}

/** What the deadline sweeper does when a state's deadline passes. */
export type DeadlineExit<E extends string> =
  /** Fire this event (it must be a row of the table from that state). */
  | { readonly kind: "event"; readonly event: E; readonly note?: string }
  /** Set a flag on the record and stay in the state (e.g. a dispute escalates to an operator). */
  | { readonly kind: "flag"; readonly flag: string; readonly note: string }
  /** The state has no deadline of its own: it moves when the job it belongs to moves. */
  | { readonly kind: "follows"; readonly machine: string; readonly note: string }

export type StateInfo<E extends string> =
  /** A pseudo-state before the record exists; its rows are the ways a record is created. */
  | { readonly kind: "initial"; readonly description: string }
  | { readonly kind: "terminal"; readonly description: string }
  | {
    readonly kind: "active"
    readonly description: string
    /** The field (or rule) that sets the deadline. */
    readonly deadline: string
    readonly onDeadline: DeadlineExit<E>
  }

export interface Machine<S extends string, E extends string> {
  /** Short name, used in `InvalidTransition.machine` and in the docs: `bounty`, `escrow`, ... */
  readonly name: string
  readonly title: string
  readonly description: string
  /** The state a record is created in, or the `initial` pseudo-state whose rows create it. */
  readonly initial: S
  /** How a record comes into being (for the docs). */
  readonly creation: string
  readonly states: { readonly [K in S]: StateInfo<E> }
  readonly events: ReadonlyArray<E>
  readonly transitions: ReadonlyArray<Row<S, E>>
}

/** The row for `event` from `from`, if the table has one. */
export const rowOf = <S extends string, E extends string>(
  machine: Machine<S, E>,
  from: S,
  event: E
): Row<S, E> | undefined => machine.transitions.find((row) => row.from === from && row.event === event)

/** The next state, or `InvalidTransition` (wire code `INVALID_STATUS`, 409) when the table has no such row. */
export const transition = <S extends string, E extends string>(
  machine: Machine<S, E>,
  from: S,
  event: E
): Either.Either<S, InvalidTransition> => {
  const row = rowOf(machine, from, event)
  return row === undefined
    ? Either.left(new InvalidTransition({ machine: machine.name, from, event }))
    : Either.right(row.to)
}

/** The events allowed from a state, in table order. */
export const eventsFrom = <S extends string, E extends string>(machine: Machine<S, E>, from: S): ReadonlyArray<E> =>
  machine.transitions.filter((row) => row.from === from).map((row) => row.event)

export const isTerminal = <S extends string, E extends string>(machine: Machine<S, E>, state: S): boolean =>
  machine.states[state].kind === "terminal"

/** The states of a machine, in the order they are declared. */
export const statesOf = <S extends string, E extends string>(machine: Machine<S, E>): ReadonlyArray<S> =>
  Object.keys(machine.states) as Array<S>
