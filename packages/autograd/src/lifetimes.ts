/**
 * When the values of the graph die, in one file (docs/lifetimes.md tells the whole story, Tensors
 * included). `backward()` frees each node once its rule has run, except what user code may hold,
 * which stays readable until the next `backward()` (or until disposed), as in PyTorch:
 *
 * - **the root** (the loss; at the next backward its one number moves to the host, so `item()`
 *   still answers);
 * - **outputs**: what a module's forward returned to code outside any forward (logits, a GRU's
 *   output and hN);
 * - **user values**: what an op called outside any module's forward (and outside `internal`)
 *   made (`h = x.matmul(w)` in user code), and what `internal` returns there;
 * - with `retainGraph`, everything.
 *
 * So what backward frees at once is what only the library could reach: the values a module's
 * forward made on the way. Two more words decide lifetimes inside the library:
 *
 * - **constants**: Variables the library makes for the graph (a scalar operand, a mask, token ids,
 *   an RNN's zero state), freed when the last op that reads them is done with them;
 * - **`internal(fn)`**: values made inside `fn` that no gradient rule reads are freed at once.
 */
import type { Tensor } from '@wgru/tensor';
import type { Node } from './graph.js';
import { Variable } from './variable.js';
import { saves } from './vjp.js';

// ---- constants ----

/** A constant leaf for the one op that reads it, freed with that op (or at once, without a graph). */
export function transientConstant(value: Tensor): Variable {
  const v = new Variable(value, false);
  v.holds = 0;
  return v;
}

/**
 * A constant leaf that several ops of one forward pass read (an RNN's zero initial state, a
 * per-timestep length mask), taking over `value`. Its maker holds it until {@link releaseShared};
 * every recorded op that reads it holds it until backward frees that op. It is freed when the last
 * hold ends: at the maker's release when no graph was recorded (inference), else by the backward
 * that consumes the graph.
 */
export function sharedConstant(value: Tensor): Variable {
  const v = new Variable(value, false);
  v.holds = 1;
  return v;
}

/** Ends one hold on a {@link sharedConstant}, freeing it when none is left. Idempotent at zero. */
export function releaseShared(v: Variable): void {
  if (v.holds !== null && v.holds > 0 && --v.holds === 0) v.dispose();
}

/** @internal An op has read its inputs: a recorded one holds their constants; else one-use ones go. */
export function readConstants(inputs: readonly Variable[], recorded: boolean): void {
  for (const x of inputs) {
    if (x.holds === null) continue;
    if (recorded) x.holds++;
    else if (x.holds === 0) x.dispose();
  }
}

/** @internal Backward freed a node: the constants it read lose its hold. */
export function releaseConstants(node: Node): void {
  for (const x of node.inputs) if (x.holds !== null && --x.holds <= 0) x.dispose();
}

// ---- outputs ----

let forwardDepth = 0;

/**
 * Runs a module's forward (`Module` calls it for you). What it returns to code outside any
 * forward, a Variable, or an array or object of them (values its getters make later included), is
 * an output: its value stays readable until the next `backward()` after the one that consumes its
 * graph. Everything else the forward made is freed by `backward()`, as any intermediate.
 */
export function forwardCall<T>(fn: () => T): T {
  forwardDepth++;
  let result: T;
  try {
    result = fn();
  } finally {
    forwardDepth--;
    if (forwardDepth === 0) noteDeadEnds();
  }
  if (forwardDepth === 0) markOutputs(result);
  return result;
}

/**
 * Outputs made since the last backward() that freed a graph. Weakly held: one that no code can
 * reach is the garbage collector's, and a forward that no backward follows (a graph built for
 * evaluation) holds nothing here.
 */
let recent: WeakRef<Variable>[] = [];
/** Outputs made before the last backward() that freed a graph: the next one frees them. */
let earlier: Variable[] = [];

/** Keeps `v`'s value past the backward that consumes it, until the next one. */
function keep(v: Variable): void {
  if (v.isOutput) return;
  v.isOutput = true;
  recent.push(new WeakRef(v));
  if (recent.length % 1024 === 0) recent = recent.filter((r) => r.deref() !== undefined);
}

/**
 * @internal Keeps a value the library made inside a forward past the backward that consumes it,
 * until the next one: what a lazily made output reads (a recurrent layer's final states, from
 * which `hN` is stacked when first read, before or after backward).
 */
export function keepPastBackward(v: Variable): void {
  if (v.node !== null && !v.isOutput) keep(v);
}

/** @internal A value made after its graph's backward, with no graph of its own: the next backward frees it. */
export function freeAtNextBackward(v: Variable): void {
  earlier.push(v);
}

/** @internal A backward consumed `root`'s graph: the root stays readable until the next backward. */
export function keepRoot(root: Variable): void {
  // Usually kept already (a loss module's output, or an op's result in user code).
  if (root.isOutput) return;
  root.isOutput = true;
  freeAtNextBackward(root);
}

function markOutputs(result: unknown): void {
  if (result instanceof Variable) {
    if (result.node === null || result.isOutput) return; // no graph, or already marked
    keep(result);
  } else if (Array.isArray(result)) for (const v of result) markOutputs(v);
  else if (result !== null && typeof result === 'object') {
    for (const [key, d] of Object.entries(Object.getOwnPropertyDescriptors(result))) {
      const get = d.get;
      if (get === undefined) {
        if (d.value instanceof Variable || Array.isArray(d.value)) markOutputs(d.value);
      } else if (d.configurable) {
        // Made when first read (a GRU's hN): marked then.
        Object.defineProperty(result, key, {
          ...d,
          get() {
            const v = get.call(result);
            markOutputs(v);
            return v;
          },
        });
      }
    }
  }
}

/**
 * @internal Called by a backward() that frees its graph, before it runs, with the Variables of
 * that graph: frees the outputs of earlier steps (and what is left of their graphs: an hN that no
 * loss read was never consumed), and keeps this step's until the next such call.
 */
export function freeEarlierOutputs(graph: ReadonlySet<Variable>): void {
  const stay: Variable[] = [];
  for (const v of earlier) {
    if (graph.has(v)) stay.push(v);
    else freeBranch(v, graph);
  }
  earlier = stay;
  for (const r of recent) {
    const v = r.deref();
    if (v !== undefined) earlier.push(v);
  }
  recent = [];
  // Dead branches inside forwards: what a module made and no backward consumed (a GRU's `output`
  // when its caller reads only hN) reaches no user code, and would wait for the garbage collector.
  // Freed like outputs, one backward late, so that a second loss of the same step still finds them.
  const keep: Variable[] = [];
  for (const v of earlierMade) {
    if (graph.has(v)) keep.push(v);
    else if (v.node !== null && !v.isOutput) freeBranch(v, graph);
  }
  earlierMade = keep;
  for (const r of recentMade) {
    const v = r.deref();
    if (v !== undefined && v.node !== null) earlierMade.push(v);
  }
  recentMade = [];
}

/**
 * What the running forward has recorded so far (held strongly: only while it runs). When it
 * returns, only its dead ends stay, weakly, in `recentMade`: the Variables that no op of the
 * forward read. Every other one is read by a dead end's branch, and `freeBranch` reaches it from
 * there; one WeakRef per forward's dead end rather than one per recorded op.
 */
let madeNow: Variable[] = [];
/** How long `recentMade` may grow before the collected ones are dropped from it. */
let pruneAt = 65536;

function noteDeadEnds(): void {
  const made = madeNow;
  madeNow = [];
  const read = new Set<Variable>();
  for (const v of made) for (const x of v.node?.inputs ?? []) read.add(x);
  for (const v of made) if (!read.has(v)) recentMade.push(new WeakRef(v));
  // Forwards without a backward (evaluation with the tape on): let go of the collected ones now and then.
  if (recentMade.length > pruneAt) {
    recentMade = recentMade.filter((r) => r.deref() !== undefined);
    pruneAt = Math.max(65536, 2 * recentMade.length);
  }
}

/** Dead ends of the modules' forwards since the last backward() that freed a graph. */
let recentMade: WeakRef<Variable>[] = [];
/** ... and before it: the next such backward frees those that no backward consumed. */
let earlierMade: Variable[] = [];

/** Frees an output's value and every node above it that no backward consumed (nor `graph` will). */
function freeBranch(output: Variable, graph: ReadonlySet<Variable>): void {
  const stack = [output];
  while (stack.length > 0) {
    const v = stack.pop() as Variable;
    const node = v.node;
    if (node === null || graph.has(v)) continue;
    v.release(false);
    for (const x of node.inputs) if (x.node !== null) stack.push(x);
  }
  output.retire();
}

// ---- internal scopes ----

interface Scope {
  created: Variable[];
  /** For each Variable created in the scope, the nodes that read it. */
  readers: Map<Variable, Node[]>;
}

const scopes: Scope[] = [];

/** @internal Called for every Variable an op records, with the node that made it. */
export function noteRecorded(v: Variable, node: Node): void {
  if (forwardDepth > 0) madeNow.push(v);
  else if (scopes.length === 0) keep(v); // made by user code, which may hold it
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
 * sigmoid, whose rule reads the sigmoid's output, not its input. The graph keeps their shapes, so
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
  const returned = new Set<Variable>(Array.isArray(result) ? result : [result]);
  for (const v of scope.created) {
    if (returned.has(v) || v.node === null) continue;
    const readBy = scope.readers.get(v) ?? [];
    const needed = saves[v.node.op].output || readBy.some((n) => saves[n.op].inputs);
    if (!needed) v.dropValue();
  }
  // The enclosing scope sees what this one made (its readers were recorded here).
  const outer = scopes[scopes.length - 1];
  if (outer) {
    for (const v of scope.created) if (!outer.readers.has(v)) outer.readers.set(v, scope.readers.get(v) ?? []);
  } else if (forwardDepth === 0) {
    // Called from user code (a cell's step outside any forward): what it returns is the user's.
    for (const v of returned) if (v.node !== null) keep(v);
  }
  return result;
}
