/** `npx clawbounties-gate --target http://127.0.0.1:8787 [--operator-token ...]` */
import * as Cli from "../Cli.js"

Cli.main(Cli.gate, "clawbounties-gate")
