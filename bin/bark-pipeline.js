#!/usr/bin/env node
// `npx bark-pipeline`: the built CLI (dist/) in an installed package, the TypeScript sources in a checkout.
// Kept to syntax any Node parses, so that an older Node gets one line saying what to do, not a stack trace.
var minimum = [22, 19, 0]
var current = process.versions.node.split(".").map(Number)
var old = current[0] !== minimum[0] ? current[0] < minimum[0] : current[1] !== minimum[1] ? current[1] < minimum[1] : current[2] < minimum[2]
if (old) {
  process.stderr.write("error: bark-pipeline needs Node.js >= " + minimum.join(".") + ", this is " + process.version + "; install a current Node.js (https://nodejs.org) and run it again\n")
  process.exit(1)
}
var built = new URL("../dist/src/cli/main.js", import.meta.url)
import("node:fs")
  .then(function(fs) { return import(fs.existsSync(built) ? built.href : new URL("../src/cli/main.ts", import.meta.url).href) })
  .then(function(cli) { cli.main() })
