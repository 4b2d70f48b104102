/** Types of scripts/quiet-dawn.mjs (see there). */
/** `text` without Dawn's "artificially reduced" lines. */
export function dropDawnNoise(text: string): string;
/** Wraps `stream.write` (stderr) so that Dawn's "artificially reduced" lines never reach it. Idempotent. */
export function quietStream(stream: NodeJS.WritableStream): void;
/** Runs `command` with stderr filtered; resolves to its exit code. */
export function runQuiet(command: string, args: readonly string[]): Promise<number>;
