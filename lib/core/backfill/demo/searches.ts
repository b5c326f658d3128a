/**
 * The demo's example searches over the freshly loaded LanceDB table.
 * (Bound to the store's search functions once they exist: see the report of this work.)
 */
export async function runDemoSearches(options: { dbUri: string; modelUri: string; print: (line: string) => void }): Promise<void> {
  options.print(`(searches over ${options.dbUri} with ${options.modelUri}: the store's search functions are not available yet)`);
}
