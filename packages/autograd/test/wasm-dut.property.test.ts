/**
 * The VJP properties again, with the WebAssembly backend as the float32 backend under test (each
 * test file runs in its own process, so this setting stays here).
 */
process.env.WGRU_PROPERTY_DUT = 'wasm';
await import('./vjp.property.test.js');
