/**
 * A Lambda layer with LanceDB's native module (linux x64 glibc) and the JavaScript packages it
 * loads at run time, so that functions can mark them external instead of bundling a 180 MB
 * `.node` file through esbuild. Built by copying from node_modules: no network and no Docker at
 * synth on a linux-x64 machine (CI, this repo's dev boxes). Elsewhere (macOS, arm64) the
 * linux-x64 package is not installed and the layer is built in the Lambda build image instead.
 *
 * Size: the binary is ~178 MB unzipped, well under Lambda's 250 MB limit for function + layers,
 * but it leaves ~60 MB for the function itself. apache-arrow is in the layer too (LanceDB
 * requires it as a peer): two copies of it, one bundled and one in the layer, would make Arrow
 * tables fail `instanceof` checks between them.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AssetHashType } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { REPO_ROOT } from './paths';

/** What the layer provides; functions using it mark these external. */
export const LANCEDB_EXTERNAL_MODULES = ['@lancedb/lancedb', 'apache-arrow'];
/** The packages copied (with their run-time dependencies) into the layer. */
const LAYER_ROOT_PACKAGES = ['@lancedb/lancedb', '@lancedb/lancedb-linux-x64-gnu', 'apache-arrow'];
/** Where Lambda's Node.js runtime looks for layer modules: /opt/nodejs/node_modules. */
export const LAYER_NODE_MODULES = path.join('nodejs', 'node_modules');
export const LANCEDB_BINARY = path.join('@lancedb', 'lancedb-linux-x64-gnu', 'lancedb.linux-x64-gnu.node');

interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
}

function readPackage(dir: string): PackageJson {
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/** Node's lookup: `<from>/node_modules/<name>`, then each parent's node_modules. */
function findPackageDir(name: string, fromDir: string, nodeModules: string): string | undefined {
  let dir = fromDir;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.resolve(dir) === path.dirname(nodeModules) || path.dirname(dir) === dir) return undefined;
    dir = path.dirname(dir);
  }
}

/**
 * The top-level packages of `nodeModules` that `roots` need at run time (their `dependencies`,
 * transitively; peer and optional dependencies only when listed as roots). Packages nested in a
 * dependent's own node_modules travel with it.
 */
export function runtimePackageClosure(roots: string[], nodeModules: string): string[] {
  const topLevel = new Set<string>();
  const visited = new Set<string>();
  const visit = (dir: string) => {
    if (visited.has(dir)) return;
    visited.add(dir);
    for (const dep of Object.keys(readPackage(dir).dependencies ?? {})) {
      if (dep.startsWith('@types/')) continue;
      const found = findPackageDir(dep, dir, nodeModules);
      if (!found) throw new Error(`LanceDB layer: ${dep} (needed by ${dir}) is not installed`);
      if (path.dirname(found) === nodeModules || path.dirname(path.dirname(found)) === nodeModules) topLevel.add(path.relative(nodeModules, found));
      visit(found);
    }
  };
  for (const root of roots) {
    const dir = path.join(nodeModules, root);
    if (!fs.existsSync(path.join(dir, 'package.json'))) throw new Error(`LanceDB layer: ${root} is not installed`);
    topLevel.add(root);
    visit(dir);
  }
  return [...topLevel].sort();
}

/** Copies the layer's packages into `<outputDir>/nodejs/node_modules`. */
export function copyLayerPackages(outputDir: string, nodeModules = path.join(REPO_ROOT, 'node_modules')): string[] {
  const packages = runtimePackageClosure(LAYER_ROOT_PACKAGES, nodeModules);
  for (const name of packages) {
    fs.cpSync(path.join(nodeModules, name), path.join(outputDir, LAYER_NODE_MODULES, name), { recursive: true, dereference: true });
  }
  return packages;
}

function installedVersion(name: string, nodeModules = path.join(REPO_ROOT, 'node_modules')): string | undefined {
  const dir = path.join(nodeModules, name);
  return fs.existsSync(path.join(dir, 'package.json')) ? readPackage(dir).version : undefined;
}

/** `name@version` of a package folder and of every package nested in its own node_modules. */
function packageVersions(dir: string, into: Set<string>): void {
  const pkg = readPackage(dir);
  into.add(`${pkg.name}@${pkg.version}`);
  const nested = path.join(dir, 'node_modules');
  if (!fs.existsSync(nested)) return;
  for (const entry of fs.readdirSync(nested)) {
    const scoped = entry.startsWith('@') ? fs.readdirSync(path.join(nested, entry)).map((n) => path.join(entry, n)) : [entry];
    for (const name of scoped) if (fs.existsSync(path.join(nested, name, 'package.json'))) packageVersions(path.join(nested, name), into);
  }
}

/**
 * What decides the layer's content, as one hash: the name and version of every package the
 * layer holds (the roots, their run-time closure, and packages nested inside them), so that any
 * dependency upgrade re-stages and re-publishes the layer. Without the linux-x64 binary (the
 * Docker fallback installs from the registry) only the root versions are known.
 */
export function layerContentHash(nodeModules = path.join(REPO_ROOT, 'node_modules')): string {
  const native = installedVersion('@lancedb/lancedb-linux-x64-gnu', nodeModules);
  const roots = native ? LAYER_ROOT_PACKAGES : LAYER_ROOT_PACKAGES.filter((p) => p !== '@lancedb/lancedb-linux-x64-gnu');
  const packages = new Set<string>();
  for (const name of runtimePackageClosure(roots, nodeModules)) packageVersions(path.join(nodeModules, name), packages);
  return createHash('sha256')
    .update(JSON.stringify({ layout: 2, packages: [...packages].sort(), native: native ?? 'docker' }))
    .digest('hex');
}

export class LanceDbLayer extends Construct {
  readonly layer: lambda.LayerVersion;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const lancedbVersion = installedVersion('@lancedb/lancedb');
    const arrowVersion = installedVersion('apache-arrow');
    if (!lancedbVersion || !arrowVersion) throw new Error('LanceDB layer: run npm ci first (@lancedb/lancedb, apache-arrow)');
    // Versions decide the content: hashing them, not 180 MB of binary, keeps synth fast and lets
    // CDK reuse an already staged layer.
    const assetHash = layerContentHash();

    const code = lambda.Code.fromAsset(path.join(REPO_ROOT, 'node_modules', '@lancedb', 'lancedb'), {
      assetHashType: AssetHashType.CUSTOM,
      assetHash,
      bundling: {
        local: {
          tryBundle(outputDir: string): boolean {
            if (process.platform !== 'linux' || process.arch !== 'x64' || !installedVersion('@lancedb/lancedb-linux-x64-gnu')) return false;
            copyLayerPackages(outputDir);
            return true;
          },
        },
        // Fallback on machines whose node_modules hold another platform's binary.
        image: lambda.Runtime.NODEJS_22_X.bundlingImage,
        platform: 'linux/amd64',
        environment: { npm_config_cache: '/tmp/npm-cache', npm_config_update_notifier: 'false' },
        command: [
          'bash',
          '-c',
          `mkdir -p /asset-output/nodejs && cd /asset-output/nodejs && npm install --omit=dev --no-package-lock --no-save @lancedb/lancedb@${lancedbVersion} apache-arrow@${arrowVersion}`,
        ],
      },
    });

    this.layer = new lambda.LayerVersion(this, 'Layer', {
      code,
      compatibleRuntimes: [lambda.Runtime.NODEJS_22_X],
      compatibleArchitectures: [lambda.Architecture.X86_64],
      description: `@lancedb/lancedb ${lancedbVersion} (linux-x64-gnu native module) + apache-arrow ${arrowVersion}`,
    });
  }
}
