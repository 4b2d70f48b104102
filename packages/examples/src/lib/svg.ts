/**
 * Two small, dependency-free SVG charts: a line chart (axes, ticks, labels, legend) and a stack
 * of heatmaps sharing one colour scale. Plain strings in, an SVG document out.
 * @module
 */

/** One line of a line chart. */
export interface Series {
  name: string;
  /** x values (default 1, 2, 3, ...: step numbers). */
  x?: readonly number[];
  y: readonly number[];
  color?: string;
  dashed?: boolean;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  width?: number;
  height?: number;
}

/** One panel of a heatmap stack: values[row][col], coloured over [min, max] (default [0, 1]). */
export interface HeatmapPanel {
  title: string;
  values: readonly (readonly number[])[];
  /** The colour scale's ends; with min < 0 the scale diverges (red below zero, blue above). */
  min?: number;
  max?: number;
}

export interface HeatmapOptions {
  title: string;
  panels: readonly HeatmapPanel[];
  xLabel: string;
  yLabel: string;
  /** One label per column (shown under the last panel, thinned out if crowded). */
  colLabels?: readonly string[];
  /** Side of one cell in pixels (default 12). */
  cell?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const FONT = 'font-family="sans-serif" font-size="12"';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const text = (x: number, y: number, s: string, extra = ''): string => `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${FONT} ${extra}>${esc(s)}</text>`;
const svgDoc = (w: number, h: number, body: string[]): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">\n<rect width="${w}" height="${h}" fill="white"/>\n${body.join('\n')}\n</svg>\n`;

/** About five round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) covering [lo, hi]. */
function ticks(lo: number, hi: number): number[] {
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = mag * ([1, 2, 2.5, 5, 10].reduce((best, m) => (Math.abs(Math.log(m * mag / raw)) < Math.abs(Math.log(best * mag / raw)) ? m : best)));
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const label = (v: number): string => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(1) : String(Number(v.toPrecision(4))));

/** A line chart of one or more series, with a legend in the top-right corner. */
export function lineChart(o: LineChartOptions): string {
  const W = o.width ?? 720;
  const H = o.height ?? 420;
  const m = { left: 70, right: 20, top: 40, bottom: 55 };
  const xsOf = (s: Series): readonly number[] => s.x ?? s.y.map((_, i) => i + 1);
  const finite = (vs: readonly number[]) => vs.filter(Number.isFinite);
  const allX = finite(o.series.flatMap((s) => [...xsOf(s)]));
  const allY = finite(o.series.flatMap((s) => [...s.y]));
  let [x0, x1] = [Math.min(...allX), Math.max(...allX)];
  let [y0, y1] = [Math.min(...allY), Math.max(...allY)];
  if (!(x1 > x0)) [x0, x1] = [x0 - 1, x0 + 1];
  if (!(y1 > y0)) [y0, y1] = [y0 - 1, y0 + 1];
  const pad = (y1 - y0) * 0.05;
  [y0, y1] = [y0 - pad, y1 + pad];
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0)) * (W - m.left - m.right);
  const py = (y: number) => H - m.bottom - ((y - y0) / (y1 - y0)) * (H - m.top - m.bottom);

  const body: string[] = [text(W / 2, 22, o.title, 'text-anchor="middle" font-size="15" font-weight="bold"')];
  for (const t of ticks(x0, x1)) {
    body.push(`<line x1="${px(t)}" y1="${m.top}" x2="${px(t)}" y2="${H - m.bottom}" stroke="#eee"/>`);
    body.push(text(px(t), H - m.bottom + 16, label(t), 'text-anchor="middle"'));
  }
  for (const t of ticks(y0, y1)) {
    body.push(`<line x1="${m.left}" y1="${py(t)}" x2="${W - m.right}" y2="${py(t)}" stroke="#eee"/>`);
    body.push(text(m.left - 6, py(t) + 4, label(t), 'text-anchor="end"'));
  }
  body.push(`<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}" fill="none" stroke="#333"/>`);
  body.push(text((m.left + W - m.right) / 2, H - 14, o.xLabel, 'text-anchor="middle"'));
  body.push(text(16, (m.top + H - m.bottom) / 2, o.yLabel, `text-anchor="middle" transform="rotate(-90 16 ${(m.top + H - m.bottom) / 2})"`));

  o.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const xs = xsOf(s);
    const pts = s.y.flatMap((y, j) => (Number.isFinite(y) && Number.isFinite(xs[j]) ? [`${px(xs[j]).toFixed(1)},${py(y).toFixed(1)}`] : []));
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    body.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="1.8"${dash}/>`);
    // legend entry
    const ly = m.top + 16 + 18 * i;
    const lx = W - m.right - 44 - 7 * Math.max(...o.series.map((t) => t.name.length));
    body.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 24}" y2="${ly - 4}" stroke="${color}" stroke-width="2.5"${dash}/>`);
    body.push(text(lx + 30, ly, s.name));
  });
  return svgDoc(W, H, body);
}

/** The colour of v on the scale [lo, hi]: white to blue, or red-white-blue when lo < 0 < hi. */
function shade(v: number, lo: number, hi: number): string {
  const mix = (t: number, to: [number, number, number]) => {
    const c = Math.min(1, Math.max(0, t));
    return `rgb(${to.map((x) => Math.round(255 + (x - 255) * c)).join(',')})`;
  };
  if (lo < 0 && hi > 0) return v < 0 ? mix(v / lo, [178, 24, 43]) : mix(v / hi, [8, 48, 107]);
  return mix((v - lo) / (hi - lo), [8, 48, 107]);
}

/** Heatmaps stacked vertically (rows × columns each), each with its title and colour bar. */
export function heatmap(o: HeatmapOptions): string {
  const c = o.cell ?? 12;
  const cols = Math.max(...o.panels.map((p) => p.values[0]?.length ?? 0));
  const m = { left: 60, top: 40, right: 90, gap: 36 };
  const panelH = o.panels.map((p) => p.values.length * c);
  const W = m.left + cols * c + m.right;
  const H = m.top + panelH.reduce((a, b) => a + b + m.gap, 0) + 40;
  const body: string[] = [text(W / 2, 22, o.title, 'text-anchor="middle" font-size="15" font-weight="bold"')];
  let top = m.top + 18;
  o.panels.forEach((p, k) => {
    const [lo, hi] = [p.min ?? 0, p.max ?? 1];
    const ph = panelH[k];
    body.push(text(m.left, top - 6, p.title, 'font-weight="bold"'));
    for (const [r, row] of p.values.entries()) {
      for (const [j, v] of row.entries()) body.push(`<rect x="${m.left + j * c}" y="${top + r * c}" width="${c}" height="${c}" fill="${shade(v, lo, hi)}"/>`);
    }
    body.push(`<rect x="${m.left}" y="${top}" width="${cols * c}" height="${ph}" fill="none" stroke="#333"/>`);
    body.push(text(m.left - 8, top + ph / 2, o.yLabel, `text-anchor="middle" transform="rotate(-90 ${m.left - 8} ${top + ph / 2})"`));
    // colour bar: hi at the top, lo at the bottom
    const lx = m.left + cols * c + 20;
    const n = 20;
    for (let i = 0; i < n; i++) body.push(`<rect x="${lx}" y="${(top + (i * ph) / n).toFixed(1)}" width="14" height="${(ph / n + 0.5).toFixed(1)}" fill="${shade(hi - ((i + 0.5) / n) * (hi - lo), lo, hi)}"/>`);
    body.push(`<rect x="${lx}" y="${top}" width="14" height="${ph}" fill="none" stroke="#333"/>`);
    body.push(text(lx + 20, top + 10, label(hi)), text(lx + 20, top + ph, label(lo)));
    if (lo < 0 && hi > 0) body.push(text(lx + 20, top + (hi / (hi - lo)) * ph + 4, '0'));
    top += ph + m.gap;
  });
  // column labels under the last panel, thinned so that they do not overlap
  const every = Math.max(1, Math.ceil(8 / c));
  const yLab = top - m.gap + 14;
  o.colLabels?.forEach((s, j) => {
    if (j % every === 0) body.push(text(m.left + j * c + c / 2, yLab, s, 'text-anchor="middle" font-size="10"'));
  });
  body.push(text(m.left + (cols * c) / 2, yLab + 18, o.xLabel, 'text-anchor="middle"'));
  return svgDoc(W, H, body);
}
