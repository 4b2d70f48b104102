/**
 * Drawing for the page: the loss curve as inline SVG, the gate heatmaps and the gradient through
 * time on canvases. Pure functions of the numbers they are given.
 * @module
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

function svgElement<K extends keyof SVGElementTagNameMap>(
  name: K,
  attrs: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * A centred moving average over about 1/20 of the run, the line through noisy per-batch losses.
 * Centred, so it does not lag behind a falling curve; the window narrows symmetrically near both
 * ends, so the line starts and ends on the data.
 */
function smooth(values: readonly number[]): number[] {
  const n = values.length;
  const half = Math.max(1, Math.round(n / 40));
  const prefix = [0];
  for (const v of values) prefix.push(prefix[prefix.length - 1] + v);
  return values.map((_, i) => {
    const h = Math.min(half, i, n - 1 - i);
    return (prefix[i + h + 1] - prefix[i - h]) / (2 * h + 1);
  });
}

/**
 * Redraws the loss curve (raw per-batch loss and its moving average) into `svg`, with a dashed
 * line at `uniformLoss` when given: ln(vocabulary size), the loss of guessing uniformly.
 */
export function drawLossCurve(svg: SVGSVGElement, losses: readonly number[], uniformLoss?: number): void {
  const W = 560;
  const H = 250;
  const m = { left: 44, right: 12, top: 12, bottom: 30 };
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.replaceChildren();
  const plotW = W - m.left - m.right;
  const plotH = H - m.top - m.bottom;
  svg.append(svgElement('rect', { x: m.left, y: m.top, width: plotW, height: plotH, class: 'plot-bg' }));
  if (losses.length === 0) {
    svg.append(
      svgElement('text', { x: W / 2, y: H / 2, class: 'empty', 'text-anchor': 'middle' }, 'press Start to train'),
    );
    return;
  }
  const n = losses.length;
  const lo = Math.min(...losses);
  const hi = Math.max(...losses, uniformLoss ?? Number.NEGATIVE_INFINITY);
  const pad = (hi - lo) * 0.05 || 0.1;
  const y0 = Math.max(0, lo - pad);
  const y1 = hi + pad;
  const x = (i: number): number => m.left + (n === 1 ? plotW / 2 : (i / (n - 1)) * plotW);
  const y = (v: number): number => m.top + (1 - (v - y0) / (y1 - y0)) * plotH;

  for (let k = 0; k <= 4; k++) {
    const v = y0 + ((y1 - y0) * k) / 4;
    svg.append(svgElement('line', { x1: m.left, x2: m.left + plotW, y1: y(v), y2: y(v), class: 'grid' }));
    svg.append(svgElement('text', { x: m.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, v.toFixed(2)));
  }
  for (const i of [0, Math.floor((n - 1) / 2), n - 1]) {
    svg.append(
      svgElement('text', { x: x(i), y: H - m.bottom + 16, 'text-anchor': 'middle', class: 'tick' }, String(i + 1)),
    );
  }
  svg.append(
    svgElement('text', { x: m.left + plotW / 2, y: H - 2, 'text-anchor': 'middle', class: 'axis-label' }, 'step'),
  );

  if (uniformLoss !== undefined) {
    svg.append(
      svgElement('line', { x1: m.left, x2: m.left + plotW, y1: y(uniformLoss), y2: y(uniformLoss), class: 'uniform' }),
    );
    svg.append(
      svgElement(
        'text',
        { x: m.left + plotW - 4, y: y(uniformLoss) - 5, 'text-anchor': 'end', class: 'tick' },
        'uniform guess, ln(vocab)',
      ),
    );
  }
  // At most ~600 points per line: every k-th step once training runs long.
  const every = Math.max(1, Math.ceil(n / 600));
  const points = (vs: readonly number[]): string => {
    const parts: string[] = [];
    for (let i = 0; i < n; i += every) parts.push(`${x(i).toFixed(1)},${y(vs[i]).toFixed(1)}`);
    if ((n - 1) % every !== 0) parts.push(`${x(n - 1).toFixed(1)},${y(vs[n - 1]).toFixed(1)}`);
    return parts.join(' ');
  };
  svg.append(svgElement('polyline', { points: points(losses), class: 'loss-raw' }));
  svg.append(svgElement('polyline', { points: points(smooth(losses)), class: 'loss-smooth' }));
}

// The per-character canvases share one layout: a title above, a column per character from LEFT,
// the characters in a row of LABEL_H below the plot.
const LEFT = 64;
const TOP = 18;
const LABEL_H = 20;

/** Viridis-like colour for v in [0, 1]: dark blue (closed) through green to yellow (open). */
function gateColour(v: number): string {
  const stops: Array<[number, number, number]> = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const t = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(t));
  const f = t - i;
  const [a, b] = [stops[i] as [number, number, number], stops[i + 1] as [number, number, number]];
  const c = a.map((av, k) => Math.round(av + f * (b[k] - av)));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/**
 * Draws one gate's activations, values [T, H] row-major, as a heatmap: one column per character
 * of `text` (labelled underneath), one row per hidden unit.
 */
export function drawGateHeatmap(
  canvas: HTMLCanvasElement,
  title: string,
  text: string,
  values: Float32Array,
  hiddenSize: number,
): void {
  const T = text.length;
  const H = hiddenSize;
  const cellW = columnWidth(T);
  const cellH = Math.max(1, Math.min(4, Math.floor(160 / H)));
  const ctx = titledCanvas(canvas, title, LEFT + T * cellW + 8, TOP + H * cellH + LABEL_H);
  if (!ctx) return;
  ctx.textBaseline = 'middle';
  ctx.fillStyle = '#8a93a6';
  ctx.fillText(`${H} units`, 0, TOP + (H * cellH) / 2);
  for (let t = 0; t < T; t++) {
    for (let u = 0; u < H; u++) {
      ctx.fillStyle = gateColour(values[t * H + u]);
      ctx.fillRect(LEFT + t * cellW, TOP + u * cellH, cellW, cellH);
    }
  }
  drawCharacters(ctx, text, cellW, TOP + H * cellH);
}

/**
 * Draws ‖∂L/∂h_t‖ per character as bars on a log scale, in the columns of the gate heatmaps (the
 * last character, the one predicted, has no bar): tall bars reach far back, short ones vanished.
 */
export function drawGradientThroughTime(
  canvas: HTMLCanvasElement,
  title: string,
  text: string,
  norms: Float32Array,
): void {
  const T = text.length;
  const cellW = columnWidth(T);
  const plotH = 72;
  const ctx = titledCanvas(canvas, title, LEFT + T * cellW + 8, TOP + plotH + LABEL_H);
  if (!ctx) return;
  // log10 of the norms, the bars spanning [lowest, highest] (at least two decades)
  const logs = Array.from(norms, (n) => (n > 0 ? Math.log10(n) : Number.NaN)).filter(Number.isFinite);
  const hi = logs.length ? Math.max(...logs) : 0;
  const lo = Math.min(logs.length ? Math.min(...logs) : hi, hi - 2);
  ctx.textBaseline = 'middle';
  ctx.fillStyle = '#8a93a6';
  ctx.fillText(`1e${Math.round(hi)}`, 0, TOP + 6);
  ctx.fillText(`1e${Math.round(lo)}`, 0, TOP + plotH - 6);
  for (let t = 0; t < Math.min(T, norms.length); t++) {
    const n = norms[t];
    const frac = n > 0 ? (Math.log10(n) - lo) / (hi - lo || 1) : 0;
    const barH = Math.max(1, Math.round(frac * plotH));
    ctx.fillStyle = gateColour(frac);
    ctx.fillRect(LEFT + t * cellW + 1, TOP + plotH - barH, cellW - 2, barH);
  }
  drawCharacters(ctx, text, cellW, TOP + plotH);
}

/** The width of one character's column: wide for a short text, narrower as it grows. */
function columnWidth(T: number): number {
  return Math.max(8, Math.min(44, Math.floor(1080 / Math.max(1, T))));
}

/** Sizes the canvas to cssW × cssH CSS pixels (sharp on high-DPI screens), clears it and writes the title. */
function titledCanvas(
  canvas: HTMLCanvasElement,
  title: string,
  cssW: number,
  cssH: number,
): CanvasRenderingContext2D | null {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.ceil(cssW * dpr);
  canvas.height = Math.ceil(cssH * dpr);
  canvas.style.width = `${cssW}px`;
  canvas.style.height = `${cssH}px`;
  const ctx = canvas.getContext('2d');
  if (!ctx) return null;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  ctx.font = '12px ui-sans-serif, system-ui, sans-serif';
  ctx.fillStyle = '#cfd6e4';
  ctx.textBaseline = 'top';
  ctx.fillText(title, 0, 2);
  return ctx;
}

/** The characters of `text` under their columns, in the label row that starts at `y` (a space as ␣). */
function drawCharacters(ctx: CanvasRenderingContext2D, text: string, cellW: number, y: number): void {
  ctx.font = '13px ui-monospace, SFMono-Regular, Menlo, monospace';
  ctx.fillStyle = '#e6ebf5';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  for (let t = 0; t < text.length; t++) {
    const ch = text[t] === ' ' ? '␣' : (text[t] as string);
    ctx.fillText(ch, LEFT + (t + 0.5) * cellW, y + LABEL_H / 2 + 1);
  }
  ctx.textAlign = 'start';
}
