#!/usr/bin/env node
// Entry for `npx bark-pipeline`: Node 24 runs the TypeScript sources directly.
import { main } from "../src/cli/main.ts"

main()
