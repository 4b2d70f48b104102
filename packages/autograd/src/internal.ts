import type { Node } from './graph.js';
import { saves } from './vjp.js';
import type { Variable } from './variable.js';

interface Scope {
  created: Variable[];
  /** For each Variable created in the scope, the nodes that read it. */
  readers: Map<Variable, Node[]>;
}

const scopes: Scope[] = [];

/** @internal Called for every Variable an op records, with the node that made it. */
export function noteRecorded(v: Variable, node: Node): void {
  const s = scopes[scopes.length - 1];
  if (!s) return;
  s.created.push(v);
  for (const x of node.inputs) {
    const list = s.readers.get(x);
    if (list) list.push(node);
  }
  s.readers.set(v, []);
}

/**
 * Runs `fn`, whose intermediate Variables are private to it (a recurrent cell's gates, say), and
 * frees at once the values of those that no gradient rule will read: a `z + h U` fed only to a
 * sigmoid, whose VJP needs the sigmoid's output, not its input. The graph keeps their shapes, so
 * backward is unchanged; on WebGPU the fused kernel then never stores them at all. Variables that
 * `fn` returns (as a Variable or an array of them) stay untouched.
 */
export function internal<T extends Variable | Variable[]>(fn: () => T): T {
  const scope: Scope = { created: [], readers: new Map() };
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const kept = new Set<Variable>(Array.isArray(result) ? result : [result]);
  for (const v of scope.created) {
    if (kept.has(v) || v.node === null) continue;
    const readBy = scope.readers.get(v) ?? [];
    const needed = saves[v.node.op].output || readBy.some((n) => saves[n.op].inputs);
    if (!needed) v.dropValue();
  }
  // The enclosing scope sees what this one made (its readers were recorded here).
  const outer = scopes[scopes.length - 1];
  if (outer) for (const v of scope.created) if (!outer.readers.has(v)) outer.readers.set(v, scope.readers.get(v) ?? []);
  return result;
}
