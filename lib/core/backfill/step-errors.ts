/**
 * How a step's failure is named for Step Functions. A Lambda error reaches the state machine as
 * its `name`; every VistaError is called `VistaError`, so a Retry could not tell a storage
 * hiccup from a shard that will never load. Permanent failures (the codes that also make the
 * worker exit 2) are renamed `Vista.<CODE>`, and the definition lists exactly these names in a
 * no-retry rule ahead of its generic retry.
 */
import { isVistaError } from '../errors';
import { PERMANENT_ERROR_CODES } from '../exit-codes';

const PREFIX = 'Vista.';

/** The error names the state machine must not retry. */
export const PERMANENT_STEP_ERRORS: readonly string[] = [...PERMANENT_ERROR_CODES].map((code) => `${PREFIX}${code}`).sort();

/** Wraps a step handler so that its permanent failures carry their `Vista.<CODE>` name. */
export function withStepErrorNames<E, R>(handler: (event: E) => Promise<R>): (event: E) => Promise<R> {
  return async (event) => {
    try {
      return await handler(event);
    } catch (err) {
      if (isVistaError(err) && PERMANENT_ERROR_CODES.has(err.code)) err.name = `${PREFIX}${err.code}`;
      throw err;
    }
  };
}
