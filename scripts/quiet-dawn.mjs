#!/usr/bin/env node
/**
 * Dawn (the `webgpu` package) prints two warnings when it discovers a Vulkan adapter whose driver
 * reports more dynamic buffers per pipeline layout than Dawn can offset (Mesa's lavapipe reports
 * 1,000,000):
 *
 *   Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
 *   Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
 *
 * Nothing is wrong: wgru uses no dynamic offsets. Native code prints them (fprintf to stderr)
 * inside `requestAdapter()`, before any device limits can be asked for, so no request avoids
 * them and JavaScript cannot intercept them in the process that prints them. They are dropped
 * one process up instead, exactly those lines, everything else passing through unchanged:
 *
 * - `node scripts/quiet-dawn.mjs <command> [args...]` runs a command with its stderr piped
 *   through the filter (`pnpm example`, `pnpm bench` and `pnpm run-ts` use it);
 * - `quietStream(process.stderr)` filters what a parent process writes, as vitest.config.ts does
 *   for the test workers' stderr, which vitest pipes through its own.
 */
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';

/** Exactly Dawn's two "artificially reduced" lines, each with its line end. */
const DAWN_NOISE =
  /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?\n/gm;

/** `text` without Dawn's "artificially reduced" lines. */
export function dropDawnNoise(text) {
  return text.includes('artificially reduced') ? text.replace(DAWN_NOISE, '') : text;
}

/** Wraps `stream.write` (stderr) so that Dawn's "artificially reduced" lines never reach it. Idempotent. */
export function quietStream(stream) {
  if (stream.wgruQuiet) return;
  const write = stream.write.bind(stream);
  stream.wgruQuiet = true;
  stream.write = (chunk, ...rest) => {
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) return write(chunk, ...rest);
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const kept = dropDawnNoise(text);
    if (kept === text) return write(chunk, ...rest);
    const done = rest.find((r) => typeof r === 'function');
    if (kept === '') {
      if (done) process.nextTick(done);
      return true;
    }
    return done ? write(kept, done) : write(kept);
  };
}

/** Runs `command` with stderr filtered; resolves to its exit code (128 + n for a signal). */
export function runQuiet(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['inherit', 'inherit', 'pipe'] });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text) => {
      const kept = dropDawnNoise(text);
      if (kept !== '') process.stderr.write(kept);
    });
    // Ctrl-C reaches the child too (same process group): wait for it to finish.
    const ignore = () => undefined;
    process.on('SIGINT', ignore);
    process.on('SIGTERM', () => child.kill('SIGTERM'));
    child.on('error', (e) => {
      process.stderr.write(`quiet-dawn: cannot run ${command}: ${e.message}\n`);
      resolve(127);
    });
    child.on('close', (code, signal) => {
      process.off('SIGINT', ignore);
      resolve(code ?? 128 + (signal === 'SIGINT' ? 2 : 15));
    });
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [command, ...args] = process.argv.slice(2);
  if (command === undefined) {
    process.stderr.write('usage: node scripts/quiet-dawn.mjs <command> [args...]\n');
    process.exit(2);
  }
  process.exitCode = await runQuiet(command, args);
}
