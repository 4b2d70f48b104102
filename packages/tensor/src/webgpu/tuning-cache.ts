/**
 * Where the autotuner's tables are kept between runs: one JSON file holding a table per
 * adapter, keyed by the adapter's vendor, architecture and description (the description names the
 * driver and its version, so a driver update starts a new table). Node: `$WGRU_TUNING_CACHE`, else
 * `$XDG_CACHE_HOME/wgru/tuning.json`, else `~/.cache/wgru/tuning.json`; browsers: localStorage.
 * A missing or unreadable file is an empty table, entries that are not valid plans are dropped,
 * and a failed save is ignored (the next run tunes again).
 */
import { ELEMENTWISE_CHOICES, REDUCE_CHOICES, type TunedChoice, type TuningTable } from './kernels/tuner.js';

type Tables = Record<string, TuningTable>;

const STORAGE_KEY = 'wgru-tuning';

/** The key of an adapter's table. */
export function adapterKey(info: { vendor: string; architecture: string; description: string }): string {
  return [info.vendor, info.architecture, info.description].join(' / ');
}

interface NodeFs {
  readFile(path: string, encoding: 'utf8'): Promise<string>;
  writeFile(path: string, data: string): Promise<void>;
  mkdir(path: string, opts: { recursive: true }): Promise<unknown>;
}

const nodeEnv = (): Record<string, string | undefined> | null =>
  typeof process !== 'undefined' && process.versions?.node ? process.env : null;

/** The cache file's path in Node, or null in a browser. */
function cacheFile(): string | null {
  const env = nodeEnv();
  if (!env) return null;
  if (env.WGRU_TUNING_CACHE) return env.WGRU_TUNING_CACHE;
  const base = env.XDG_CACHE_HOME || (env.HOME ? `${env.HOME}/.cache` : null);
  return base ? `${base}/wgru/tuning.json` : null;
}

async function nodeFs(): Promise<NodeFs> {
  const name = 'node:fs/promises'; // kept out of browser bundlers' sight
  return (await import(/* @vite-ignore */ name)) as NodeFs;
}

async function readAll(): Promise<Tables> {
  try {
    const file = cacheFile();
    if (file) return JSON.parse(await (await nodeFs()).readFile(file, 'utf8')) as Tables;
    const text = globalThis.localStorage?.getItem(STORAGE_KEY);
    return text ? (JSON.parse(text) as Tables) : {};
  } catch {
    return {};
  }
}

/** Where the tables are stored, in words. */
export function cacheLocation(): string {
  return cacheFile() ?? 'localStorage (wgru-tuning)';
}

/** A stored entry that can run: a matmul plan of a known family and tile, or a candidate of its class's family. */
function validChoice(key: string, c: unknown): c is TunedChoice {
  const x = c as Record<string, unknown>;
  if (typeof x !== 'object' || x === null || typeof x.ms !== 'number' || typeof x.heuristicMs !== 'number')
    return false;
  const family = key.slice(0, key.indexOf('|'));
  if (family === 'elementwise') return (ELEMENTWISE_CHOICES as readonly unknown[]).includes(x.choice);
  if (family === 'reduce') return (REDUCE_CHOICES as readonly unknown[]).includes(x.choice);
  // A family timed as operations (tunedChoice): its caller checks the name against its choices.
  if (!('path' in x)) return typeof x.choice === 'string';
  return (
    (x.path === 'buffer' || x.path === 'texture') &&
    [1, 2, 4, 8, 16].includes(x.TM as number) &&
    [1, 2, 4].includes(x.TN as number)
  );
}

/** The saved table of an adapter (empty if none). */
export async function loadTable(adapter: string): Promise<TuningTable> {
  const all = await readAll();
  const t = all[adapter];
  if (!t || typeof t !== 'object') return {};
  return Object.fromEntries(Object.entries(t).filter(([k, c]) => validChoice(k, c)));
}

/** Saves an adapter's table beside the other adapters' tables. */
export async function saveTable(adapter: string, table: TuningTable): Promise<void> {
  try {
    const all = await readAll();
    all[adapter] = table;
    const text = `${JSON.stringify(all, null, 2)}\n`;
    const file = cacheFile();
    if (file) {
      const fs = await nodeFs();
      await fs.mkdir(file.slice(0, file.lastIndexOf('/')) || '.', { recursive: true });
      await fs.writeFile(file, text);
    } else globalThis.localStorage?.setItem(STORAGE_KEY, text);
  } catch {
    // a read-only home or a full quota: the next run tunes again
  }
}
