import os from 'node:os';
import path from 'node:path';

/** The folder where the test processes of the vitest run with process id `runner` say where they are. */
export function witnessFolder(runner: number): string {
  return path.join(os.tmpdir(), `wgru-test-witness-${runner}`);
}
