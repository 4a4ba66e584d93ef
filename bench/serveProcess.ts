/**
 * `bark-pipeline serve <args>` as a child process for bench/serve.ts, through
 * the CLI's main, with one addition: started with `node --expose-gc`, SIGUSR2
 * forces a garbage collection, so that the bench can read the after-GC RSS
 * from /metrics.
 */
import { main } from "../src/cli/main.ts"

const gc = (globalThis as { gc?: () => void }).gc
if (gc !== undefined) process.on("SIGUSR2", () => gc())

main(["serve", ...process.argv.slice(2)])
