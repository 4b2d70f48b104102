/**
 * `pnpm example charlm --export-onnx FILE`: the trained model, written as ONNX, is sampled from by
 * ONNX Runtime (onnxruntime-web, wasm, in this process), one character at a time as the README shows.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { onnxRuntime } from '../../nn/test/ort-runtime.js';
import { run } from '../src/examples/charlm.js';

const dir = mkdtempSync(join(tmpdir(), 'wgru-charlm-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('charlm --export-onnx writes a model that ONNX Runtime samples from', async () => {
  const file = join(dir, 'sub', 'model.onnx');
  const { files } = await run({ steps: 1, backend: 'cpu', out: dir, quiet: true, exportOnnx: file });
  expect(files).toContain(file);
  const ort = onnxRuntime();
  const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(file)));
  const vocab: string[] = JSON.parse(readFileSync(`${file}.vocab.json`, 'utf8'));
  expect(session.inputNames).toEqual(['ids', 'h0']);
  let ids = [...'Alice '].map((c) => vocab.indexOf(c));
  let h = new ort.Tensor('float32', new Float32Array(128), [1, 1, 128]);
  let text = 'Alice ';
  for (let i = 0; i < 12; i++) {
    const out = await session.run({ ids: new ort.Tensor('int32', Int32Array.from(ids), [ids.length, 1]), h0: h });
    const logits = (out.logits as { data: Float32Array }).data.slice(-vocab.length); // the last step's
    expect(out.logits?.dims).toEqual([ids.length, vocab.length]);
    expect(logits.every(Number.isFinite)).toBe(true);
    const next = logits.indexOf(Math.max(...logits)); // greedy
    text += vocab[next];
    [ids, h] = [[next], out.hN as typeof h];
  }
  expect(text).toHaveLength(18);
  await session.release();
});
