/** `npx clawbounties-sim --total 200 --max-concurrency 10 --seed 42 [--target http://127.0.0.1:8787]` */
import * as Cli from "../Cli.js"

Cli.main(Cli.sim, "clawbounties-sim")
