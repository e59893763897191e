import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { BountyMachine, StateMachineDoc } from "@clawbounties/domain"

const committed = new URL("../../../docs/state-machines.md", import.meta.url)

describe("StateMachineDoc", () => {
  it("docs/state-machines.md is current (run `npm run docs` when this fails)", () => {
    const onDisk = readFileSync(committed, "utf8")
    assert.isTrue(
      onDisk === StateMachineDoc.render(),
      "docs/state-machines.md differs from the state-machine tables and error catalogue: run `npm run docs`"
    )
  })

  it("shows every machine as a Mermaid diagram and every transition and error code in a table", () => {
    const doc = StateMachineDoc.render()
    assert.strictEqual(doc.match(/```mermaid\nstateDiagram-v2/g)?.length, 3)
    for (const row of BountyMachine.machine.transitions) {
      assert.include(doc, `| \`${row.from}\` | \`${row.event}\` | \`${row.to}\` |`)
    }
    assert.include(doc, "    [*] --> pending_review : create_valid")
    assert.include(doc, "| `INVALID_STATUS` | 409 | `InvalidTransition` |")
    assert.include(doc, "| `POLICY_NOT_FOUND` | 404 | `PolicyNotFound` |")
  })

  it("says what a client sees: the 409 codes commands answer, and the wire's names of deadlines and escalation", () => {
    const doc = StateMachineDoc.render()
    const refusals = doc.split("\n").filter((line) => line.startsWith("Created:"))
    assert.strictEqual(refusals.length, 3)
    for (const line of refusals) {
      for (const code of ["BOUNTY_NOT_OPEN", "SUBMISSION_NOT_PENDING_REVIEW", "DISPUTE_NOT_OPEN"]) assert.include(line, `\`${code}\``)
    }
    assert.include(doc, "`deadline_at`")
    assert.include(doc, "`escalated`")
  })
})
