/**
 * One image, three commands: the Batch worker (the Dockerfile's CMD), the Batch index job (its job
 * definition's command) and SageMaker's `docker run <image> serve`. The entrypoint script is run
 * here with `sh` against a stand-in bin/vista.js (the image itself cannot be built here: no Docker).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { INDEX_JOB_COMMAND } from '../../lib/core/backfill/state-names';
import { workerDockerIgnore } from '../../lib/infra/backfill/compute';
import { REPO_ROOT } from '../../lib/infra/paths';

const SCRIPT = path.join(REPO_ROOT, 'batch-worker', 'entrypoint.sh');
const dockerfile = () => fs.readFileSync(path.join(REPO_ROOT, 'batch-worker', 'Dockerfile'), 'utf8');
/** The JSON-array arguments of the Dockerfile's last instruction of a kind (ENTRYPOINT, CMD). */
const instruction = (name: string): string[] => {
  const lines = dockerfile().split('\n').filter((l) => l.startsWith(`${name} `));
  return JSON.parse(lines[lines.length - 1].slice(name.length + 1)) as string[];
};

let workdir: string;
beforeAll(() => {
  // A stand-in CLI that prints its arguments and exits with VISTA_EXIT.
  workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'vista-entrypoint-'));
  fs.mkdirSync(path.join(workdir, 'bin'));
  fs.writeFileSync(path.join(workdir, 'bin', 'vista.js'), 'console.log(JSON.stringify(process.argv.slice(2))); process.exit(Number(process.env.VISTA_EXIT || 0));\n');
});
afterAll(() => fs.rmSync(workdir, { recursive: true, force: true }));

/** What the container does for `docker run <image> <args…>` (ENTRYPOINT + args). */
function run(args: string[], env: Record<string, string> = {}) {
  const [entrypoint] = instruction('ENTRYPOINT');
  expect(entrypoint).toBe('/usr/local/bin/vista-entrypoint');
  return spawnSync('sh', [SCRIPT, ...args], { cwd: workdir, encoding: 'utf8', env: { ...process.env, ...env } });
}

it('starts the inference server for SageMaker\'s `serve`', () => {
  const result = run(['serve']);
  expect(result.status).toBe(0);
  expect(JSON.parse(result.stdout)).toEqual(['serve']);
});

it('still runs the Batch worker\'s default command, with its exit code (Batch retries on it)', () => {
  expect(instruction('CMD')).toEqual(['node', 'bin/vista.js', 'worker', '--from-env']);
  const result = run(instruction('CMD'), { VISTA_EXIT: '2' });
  expect(JSON.parse(result.stdout)).toEqual(['worker', '--from-env']);
  expect(result.status).toBe(2);
});

it('still runs the Batch index job\'s command', () => {
  const result = run(INDEX_JOB_COMMAND, { VISTA_EXIT: '1' });
  expect(JSON.parse(result.stdout)).toEqual(INDEX_JOB_COMMAND.slice(2));
  expect(result.status).toBe(1);
});

it('is copied into the image: executable, allowed by .dockerignore (which also decides the asset hash)', () => {
  expect(fs.statSync(SCRIPT).mode & 0o111).not.toBe(0);
  expect(dockerfile()).toMatch(/^COPY batch-worker\/entrypoint\.sh \/usr\/local\/bin\/vista-entrypoint$/m);
  expect(dockerfile()).toMatch(/chmod 0755 \/usr\/local\/bin\/vista-entrypoint/);
  expect(workerDockerIgnore()).toContain('!batch-worker/entrypoint.sh');
  // POSIX sh syntax (the CUDA base image's /bin/sh is dash).
  expect(() => execFileSync('sh', ['-n', SCRIPT])).not.toThrow();
});

describe('runtime packages only', () => {
  /** The packages the Dockerfile's runtime-deps stage removes. */
  const pruned = () => {
    const stage = dockerfile().split(/^FROM /m).find((s) => s.startsWith('deps AS runtime-deps'))!;
    const removal = /rm -rf ([^&]*)/.exec(stage)![1];
    return [...removal.matchAll(/node_modules\/((?:@[\w.-]+\/)?[\w.-]+)(?=[\s\\])/g)].map((m) => m[1]).filter((p) => !p.startsWith('.'));
  };

  it('prunes build-time packages in a stage of their own, and the final image copies that stage', () => {
    expect(pruned()).toEqual(expect.arrayContaining(['aws-cdk-lib', 'constructs']));
    expect(dockerfile()).toMatch(/^COPY --from=runtime-deps \/app\/node_modules \.\/node_modules$/m);
    expect(dockerfile()).not.toMatch(/^COPY --from=deps \/app\/node_modules/m);
  });

  it.each(['worker', 'serve', 'backfill-index'])('`vista %s` reaches none of the pruned packages', (name) => {
    // esbuild follows every import and require from the command, packages left external: the
    // metafile lists each package the command can load.
    const { buildSync } = require('esbuild') as typeof import('esbuild');
    const result = buildSync({
      entryPoints: [path.join(REPO_ROOT, 'lib', 'cli', 'commands', `${name}.ts`)],
      bundle: true,
      platform: 'node',
      packages: 'external',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const packages = new Set<string>();
    for (const input of Object.values(result.metafile!.inputs)) {
      for (const imported of input.imports) {
        if (imported.external && !imported.path.startsWith('node:')) packages.add(imported.path.split('/').slice(0, imported.path.startsWith('@') ? 2 : 1).join('/'));
      }
    }
    // What each command must reach: the test sees real imports, not an empty graph.
    const needed = name === 'backfill-index' ? ['@lancedb/lancedb'] : ['onnxruntime-node', 'sharp'];
    for (const p of needed) expect({ package: p, reached: packages.has(p) }).toEqual({ package: p, reached: true });
    for (const p of pruned()) expect({ package: p, reached: packages.has(p) }).toEqual({ package: p, reached: false });
  });
});
