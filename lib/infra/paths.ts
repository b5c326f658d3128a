import * as path from 'node:path';

/** The repository root: Lambda entries, node_modules and the worker's Docker context are found from it. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
