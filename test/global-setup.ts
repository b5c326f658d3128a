/**
 * Generates, once per test run, the artifacts that tests share but that we never commit
 * (models with random weights). Kept in .vista/test-cache and reused across runs.
 */
export default async function globalSetup(): Promise<void> {
  const { ensureTestModels } = await import('./support/models');
  await ensureTestModels();
}
