/** @type {import('jest').Config} */
module.exports = {
  // Shares the host realm's typed arrays with tests: onnxruntime's native results fail instanceof checks otherwise.
  testEnvironment: '<rootDir>/test/model/ort-environment.js',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }] },
  // Models and fixtures are generated once per run into .vista/test-cache (see test/global-setup.ts).
  globalSetup: '<rootDir>/test/global-setup.ts',
  testTimeout: 120000,
  maxWorkers: 2,
};
