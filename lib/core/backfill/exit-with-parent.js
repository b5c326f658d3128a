// Preloaded (node --require) into the local backfill's child processes: a child exits when the
// backfill that started it dies, however it dies. The backfill holds the write end of the child's
// stdin; the kernel closes it when the backfill exits, is killed with SIGTERM or SIGKILL, so the
// child reads end-of-file. A process group would not survive SIGKILL of the parent this way.
// Plain JavaScript: it runs before tsx is loaded, in any node child.
'use strict';
const MARK = 'VISTA_EXIT_WITH_PARENT';
// Exit code of a child whose parent went away (128 + SIGHUP, as a terminal hangup would give).
const EXIT_PARENT_GONE = 129;

if (process.env[MARK] === '1') {
  // Grandchildren do not inherit the watch: their stdin is not this pipe.
  delete process.env[MARK];
  process.env.NODE_OPTIONS = (process.env.NODE_OPTIONS || '').replace(/--require\s+"[^"]*exit-with-parent\.js"/, '').trim();
  const stdin = process.stdin;
  const gone = () => process.exit(EXIT_PARENT_GONE);
  stdin.on('data', () => undefined);
  stdin.once('end', gone);
  stdin.once('error', gone);
  // Watching must not keep the child alive once its own work is done.
  stdin.unref();
}
