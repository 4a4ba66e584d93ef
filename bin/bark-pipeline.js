#!/usr/bin/env node
// Entry for `npx bark-pipeline`: Node 24 runs the TypeScript sources directly.
import "../src/cli/main.ts"
