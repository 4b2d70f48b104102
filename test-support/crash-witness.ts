/**
 * Names the test a test process was in when it died. A test file's process (vitest's forks
 * pool) that exits without finishing, killed by a signal or a native crash, leaves vitest only
 * "Worker exited unexpectedly", with no file or test. So each process writes where it is, the
 * file and the test, to a small file of its own (overwritten, never appended), and
 * global-setup.ts's teardown prints any that never got to "finished".
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeEach } from 'vitest';
import { witnessFolder } from './witness-folder.js';

const mine = path.join(witnessFolder(process.ppid), String(process.pid));

function record(state: string): void {
  try {
    writeFileSync(mine, state);
  } catch {
    // The folder is made by the global setup; a run without it (an editor's single test) skips this.
  }
}

let file = '';
beforeEach((ctx) => {
  file = ctx.task.file.name;
  record(`${file}\nin: ${ctx.task.name}`);
});
afterEach((ctx) => record(`${file}\nafter: ${ctx.task.name}`));
afterAll(() => record(`${file}\nfinished`));
