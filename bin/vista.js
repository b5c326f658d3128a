#!/usr/bin/env node
// The `vista` command. TypeScript runs through tsx so that a fresh clone needs no build step.
const os = require('node:os');
// sharp decodes and fs reads share libuv's thread pool (4 threads by default): size it to the
// machine before anything uses it, or decoding can't use every core.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, os.availableParallelism() + 2));
require('tsx/cjs');
require('../lib/cli/main.ts').main(process.argv.slice(2));
