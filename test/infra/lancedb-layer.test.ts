/**
 * The LanceDB layer's asset hash: computed from package versions (not from ~190 MB of files), so
 * it must change whenever any package the layer holds changes, not only LanceDB and Arrow.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { layerContentHash } from '../../lib/infra/lancedb-layer';

let root: string;
let nodeModules: string;

function writePackage(dir: string, name: string, version: string, dependencies: Record<string, string> = {}): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version, dependencies }));
}
const topLevel = (name: string, version: string, dependencies?: Record<string, string>) =>
  writePackage(path.join(nodeModules, name), name, version, dependencies);

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'vista-layer-'));
  nodeModules = path.join(root, 'node_modules');
  topLevel('@lancedb/lancedb', '0.37.1', { 'reflect-metadata': '^0.2.2' });
  topLevel('@lancedb/lancedb-linux-x64-gnu', '0.37.1');
  topLevel('apache-arrow', '18.1.0', { tslib: '^2.6.2', flatbuffers: '^24.3.25' });
  topLevel('reflect-metadata', '0.2.2');
  topLevel('tslib', '2.8.1');
  topLevel('flatbuffers', '25.1.24');
  // A copy nested inside apache-arrow (another version than the top-level one): copied with it.
  writePackage(path.join(nodeModules, 'apache-arrow', 'node_modules', '@types', 'node'), '@types/node', '20.17.0');
  // Not needed by the layer at all.
  topLevel('left-pad', '1.3.0');
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

it('changes when a transitive dependency of LanceDB or Arrow changes version', () => {
  const before = layerContentHash(nodeModules);
  expect(layerContentHash(nodeModules)).toBe(before);
  topLevel('flatbuffers', '25.2.10');
  const afterArrowDependency = layerContentHash(nodeModules);
  expect(afterArrowDependency).not.toBe(before);
  topLevel('reflect-metadata', '0.2.3');
  expect(layerContentHash(nodeModules)).not.toBe(afterArrowDependency);
});

it('changes when a package nested inside a layer package changes version', () => {
  const before = layerContentHash(nodeModules);
  writePackage(path.join(nodeModules, 'apache-arrow', 'node_modules', '@types', 'node'), '@types/node', '20.17.1');
  expect(layerContentHash(nodeModules)).not.toBe(before);
});

it('changes with the native module, and not for packages outside the layer', () => {
  const before = layerContentHash(nodeModules);
  topLevel('left-pad', '1.3.1');
  expect(layerContentHash(nodeModules)).toBe(before);
  topLevel('@lancedb/lancedb-linux-x64-gnu', '0.37.2');
  expect(layerContentHash(nodeModules)).not.toBe(before);
});
