import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { BountyMachine, ErrorCatalogue, EscrowMachine, StateMachine, SubmissionMachine } from "@clawbounties/domain"

type AnyMachine = StateMachine.Machine<string, string>

/**
 * The allowed moves, written out independently of the tables (from the list): the table must
 * allow exactly these and refuse every other (state, event) pair.
 */
const expected: ReadonlyArray<readonly [AnyMachine, ReadonlyArray<string>]> = [
  [BountyMachine.machine, [
    "open accept accepted",
    "open cancel cancelled",
    "open expire expired",
    "accepted submit_valid pending_review",
    "accepted acceptance_timeout open",
    "accepted acceptance_timeout_cancel cancelled",
    "pending_review approve approved",
    "pending_review review_timeout approved",
    "pending_review reject disputed",
    "disputed resolve_worker_award approved",
    "disputed resolve_requester_refund rejected",
    "disputed resolve_split resolved"
  ]],
  [SubmissionMachine.machine, [
    "none create_valid pending_review",
    "none create_invalid invalid",
    "pending_review approve approved",
    "pending_review review_timeout approved",
    "pending_review reject disputed",
    "disputed resolve_worker_award approved",
    "disputed resolve_requester_refund rejected",
    "disputed resolve_split resolved"
  ]],
  [EscrowMachine.machine, [
    "held assign held",
    "held unassign held",
    "held release released",
    "held freeze frozen",
    "held void cancelled",
    "frozen release released",
    "frozen refund refunded",
    "frozen split split"
  ]]
]

describe("StateMachine", () => {
  for (const [machine, moves] of expected) {
    it(`${machine.name}: allows exactly the listed moves and refuses every other pair with INVALID_STATUS`, () => {
      const allowed = new Map(moves.map((move) => {
        const [from, event, to] = move.split(" ") as [string, string, string]
        return [`${from} ${event}`, to] as const
      }))
      let checked = 0
      for (const from of StateMachine.statesOf(machine)) {
        for (const event of machine.events) {
          const result = StateMachine.transition(machine, from, event)
          const to = allowed.get(`${from} ${event}`)
          if (to !== undefined) {
            assert.deepStrictEqual(result, Either.right(to), `${from} -${event}->`)
          } else {
            if (Either.isRight(result)) throw new Error(`${machine.name}: ${from} -${event}-> must be refused`)
            assert.deepStrictEqual(
              { machine: result.left.machine, from: result.left.from, event: result.left.event },
              { machine: machine.name, from, event }
            )
            assert.strictEqual(ErrorCatalogue.toWire(result.left).body.error, "INVALID_STATUS")
            assert.strictEqual(ErrorCatalogue.toWire(result.left).status, 409)
          }
          checked++
        }
      }
      assert.strictEqual(machine.transitions.length, moves.length)
      assert.strictEqual(checked, StateMachine.statesOf(machine).length * machine.events.length)
    })

    it(`${machine.name}: the table is consistent (states, deadlines, terminals, reachability)`, () => {
      const states = new Set(StateMachine.statesOf(machine))
      const keys = new Set<string>()
      for (const row of machine.transitions) {
        assert.isTrue(states.has(row.from) && states.has(row.to), `${row.from} -> ${row.to}`)
        assert.include(machine.events, row.event)
        assert.isFalse(keys.has(`${row.from} ${row.event}`), `duplicate row ${row.from} ${row.event}`)
        keys.add(`${row.from} ${row.event}`)
        assert.isAbove(row.description.length, 0)
        // Nothing enters the initial pseudo-state, nothing leaves a terminal state.
        assert.notStrictEqual(machine.states[row.to]!.kind, "initial")
        assert.notStrictEqual(machine.states[row.from]!.kind, "terminal")
      }
      for (const event of machine.events) {
        assert.isTrue(machine.transitions.some((row) => row.event === event), `event ${event} is never used`)
      }
      for (const state of states) {
        const info = machine.states[state]!
        if (info.kind === "active") {
          assert.isAbove(info.deadline.length, 0, state)
          // An active state must have a way out, and a deadline event must be a row from that state.
          assert.isAbove(StateMachine.eventsFrom(machine, state).length, 0, state)
          if (info.onDeadline.kind === "event") {
            assert.isDefined(StateMachine.rowOf(machine, state, info.onDeadline.event), `${state} deadline exit`)
          }
        }
        if (info.kind === "terminal") assert.isTrue(StateMachine.isTerminal(machine, state))
      }
      // Every state is reachable from the initial state, and a terminal state from every state.
      const reachable = new Set([machine.initial])
      for (let grown = true; grown;) {
        grown = false
        for (const row of machine.transitions) {
          if (reachable.has(row.from) && !reachable.has(row.to)) {
            reachable.add(row.to)
            grown = true
          }
        }
      }
      assert.deepStrictEqual([...reachable].sort(), [...states].sort())
      for (const state of states) {
        const seen = new Set([state])
        for (let grown = true; grown;) {
          grown = false
          for (const row of machine.transitions) {
            if (seen.has(row.from) && !seen.has(row.to)) {
              seen.add(row.to)
              grown = true
            }
          }
        }
        assert.isTrue([...seen].some((s) => machine.states[s]!.kind === "terminal"), `${state} cannot end`)
      }
    })
  }

  it("bounty: a dispute timeout is an escalation flag, not a transition", () => {
    const info = BountyMachine.machine.states.disputed
    assert.strictEqual(info.kind === "active" && info.onDeadline.kind, "flag")
    assert.isTrue(Either.isLeft(StateMachine.transition(BountyMachine.machine, "disputed", "dispute_timeout" as never)))
    assert.isTrue(Either.isLeft(StateMachine.transition(EscrowMachine.machine, "frozen", "dispute_timeout" as never)))
  })

  it("money moves exactly on the rows that pay, refund or split", () => {
    const moving = (machine: AnyMachine) =>
      machine.transitions.filter((row) => row.moneyMoves).map((row) => `${row.from} ${row.event}`)
    assert.deepStrictEqual(moving(EscrowMachine.machine), [
      "held release",
      "held void",
      "frozen release",
      "frozen refund",
      "frozen split"
    ])
    assert.deepStrictEqual(moving(BountyMachine.machine), [
      "open cancel",
      "open expire",
      "accepted acceptance_timeout_cancel",
      "pending_review approve",
      "pending_review review_timeout",
      "disputed resolve_worker_award",
      "disputed resolve_requester_refund",
      "disputed resolve_split"
    ])
  })

  it("status schemas list the machine states (a stored submission is never in `none`)", () => {
    const sorted = (values: ReadonlyArray<string>) => [...values].sort()
    assert.deepStrictEqual(sorted(BountyMachine.Status.literals), sorted(StateMachine.statesOf(BountyMachine.machine)))
    assert.deepStrictEqual(sorted(EscrowMachine.Status.literals), sorted(StateMachine.statesOf(EscrowMachine.machine)))
    assert.deepStrictEqual(
      sorted(SubmissionMachine.Status.literals),
      sorted(StateMachine.statesOf(SubmissionMachine.machine).filter((s) => s !== "none"))
    )
  })
})
