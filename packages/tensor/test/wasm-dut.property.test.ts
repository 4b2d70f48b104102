/**
 * The tensor property suites again, with the WebAssembly backend as the device under test (each
 * test file runs in its own process, so this setting stays here).
 */
process.env.WGRU_PROPERTY_DUT = 'wasm';
await import('./elementwise.property.test.js');
await import('./chains.property.test.js');
await import('./matmul.property.test.js');
await import('./reduce.property.test.js');
await import('./indexing.property.test.js');
await import('./movement.property.test.js');
await import('./ops.property.test.js');
await import('./random.property.test.js');
