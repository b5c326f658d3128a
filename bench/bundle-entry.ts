// Entry of the self-contained bench:worker bundle (scripts/bundle-bench.sh), for machines with no registry access.
// Set before anything can touch libuv's pool (imports are hoisted, so require() in order).
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, require('node:os').availableParallelism() + 2));
const { parseArgs } = require('node:util');
const { command } = require('../lib/cli/commands/bench-worker');
const { values, positionals } = parseArgs({ args: process.argv.slice(2), options: command.options, allowPositionals: true });
command.run(values, positionals).then((c: number) => (process.exitCode = c), (e: unknown) => { console.error(e); process.exitCode = 1; });
