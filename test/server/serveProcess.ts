/** `bark-pipeline serve <args>` as its own process, through the CLI's main, for the shutdown test. */
import { main } from "../../src/cli/main.ts"

main(["serve", ...process.argv.slice(2)])
