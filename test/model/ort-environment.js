/**
 * Jest's node environment gives each test file its own realm, with its own Float32Array etc.
 * onnxruntime-node's native binding builds output tensors from the main realm's typed arrays, and
 * onnxruntime-common then rejects them (`instanceof` across realms): "A float32 tensor's data must
 * be type of function Float32Array()". Sharing the main realm's typed array constructors fixes it.
 * Use it with a `@jest-environment ./test/model/ort-environment.js` docblock, or as the
 * `testEnvironment` of jest.config.js so that every suite running a model gets it.
 */
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'Float32Array', 'Float64Array', 'Int8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array',
];

class OrtEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = OrtEnvironment;
