#!/usr/bin/env node
// The `vista` command. TypeScript runs through tsx so that a fresh clone needs no build step.
require('tsx/cjs');
require('../lib/cli/main.ts').main(process.argv.slice(2));
