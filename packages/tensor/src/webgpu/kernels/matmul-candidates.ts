/**
 * The plans the matmul autotuner (tuner.ts) chooses among for one product: the heuristic's
 * own plan (choose in matmul-plan.ts) first, then other tiles of its family, then tiles of the other
 * family where that one can run the product (the texture family needs f32 and a core adapter).
 *
 * Every candidate computes each output as the same sequence of multiply-adds over k, in the same
 * order (a tile only decides which invocation computes which outputs), so whichever runs, the
 * result is the same bit for bit (matmul-tuning.test.ts forces each in turn).
 */
import {
  aModeOf,
  choose,
  type Geometry,
  type MatmulDevice,
  type MatmulPlan,
  matmulTuning,
  workgroupFor,
} from './matmul-plan.js';

/** A kernel family and its tile: TM rows and TN groups of 4 columns per invocation. */
export interface Tile {
  path: 'buffer' | 'texture';
  TM: number;
  TN: number;
}

/** Texture tiles tried: the heuristic's 8 x 2, 8 x 4 and 16 x 4, and a shorter 4 x 4. */
const TEXTURE_TILES: [number, number][] = [
  [8, 2],
  [8, 4],
  [16, 4],
  [4, 4],
];

/** Buffer tiles for M > 4 (for fewer rows, the heuristic's row count with 1, 2 or 4 column groups). */
const BUFFER_TILES: [number, number][] = [
  [8, 1],
  [4, 1],
  [8, 2],
  [4, 2],
];

/**
 * The plan of `base`'s family with tile (TM, TN): the workgroup shaped to the tile as `choose`
 * shapes it, and the buffer kernel's load of A chosen again for the new tile height (vec4 along m
 * needs a multiple of 4).
 */
function withTile(g: Geometry, base: MatmulPlan, TM: number, TN: number): MatmulPlan {
  if (base.path === 'texture') return { ...base, TM, TN, ...workgroupFor(g, TM, TN) };
  return {
    ...base,
    TM,
    TN,
    ...(TM < 8 ? { WX: 16, WY: 1 } : workgroupFor(g, TM, TN)),
    aMode: base.aMode === 's' ? 's' : aModeOf(g, TM),
  };
}

/** The plan for `tile` on this product, or null where its family cannot run it. */
export function planFor(g: Geometry, device: MatmulDevice, bPacked: boolean, tile: Tile): MatmulPlan | null {
  const base = choose(g, device, bPacked, tile.path);
  return base.path === tile.path ? withTile(g, base, tile.TM, tile.TN) : null;
}

/** The candidates for a product, the heuristic's plan first, each distinct. */
export function matmulCandidates(g: Geometry, device: MatmulDevice, bPacked: boolean): MatmulPlan[] {
  const heuristic = choose(g, device, bPacked, 'auto');
  const tiles: Tile[] = [{ path: heuristic.path, TM: heuristic.TM, TN: heuristic.TN }];
  const bufferTiles: [number, number][] =
    g.M <= 4
      ? [1, 2, 4].map((TN) => [heuristic.path === 'buffer' ? heuristic.TM : Math.min(4, g.M), TN])
      : BUFFER_TILES;
  const families: ['buffer' | 'texture', [number, number][]][] = [
    ['buffer', bufferTiles],
    // A texture tile of fewer than 8 rows would be mostly idle; 'choose' starts at 16.
    ['texture', g.M >= 8 ? TEXTURE_TILES : []],
  ];
  if (heuristic.path === 'texture') families.reverse();
  for (const [path, list] of families) for (const [TM, TN] of list) tiles.push({ path, TM, TN });
  const seen = new Set<string>();
  const plans: MatmulPlan[] = [];
  for (const t of tiles) {
    const id = `${t.path} ${t.TM}x${t.TN}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const plan = planFor(g, device, bPacked, t);
    if (plan) plans.push(plan);
  }
  return plans;
}

/** The plan a test forces with `matmulTuning.candidate` (candidate i modulo their count), or null. */
export function forcedCandidate(g: Geometry, device: MatmulDevice, bPacked: boolean): MatmulPlan | null {
  const i = matmulTuning.candidate;
  if (i === null) return null;
  const plans = matmulCandidates(g, device, bPacked);
  return plans[i % plans.length];
}
