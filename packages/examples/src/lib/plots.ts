/**
 * The examples' charts: small typed helpers that build Vega-Lite specs (line charts, heatmaps,
 * bar charts) and render them headlessly to SVG with Vega. Data in, an SVG document out.
 *
 * @example
 * ```ts
 * const series = [{ name: 'train', y: losses }];
 * const svg = await lineChart({ title: 'loss', xLabel: 'step', yLabel: 'nats', series });
 * ```
 * @module
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** One line of a line chart. */
interface Series {
  name: string;
  /** x values (default 1, 2, 3, ...: step numbers). */
  x?: readonly number[];
  y: readonly number[];
  /** A CSS colour (default: the next of the category palette). */
  color?: string;
  dashed?: boolean;
  /** Mark each point (for series with few points, such as periodic validation losses). */
  points?: boolean;
  /** A shaded band around the line, from lo[i] to hi[i] at x[i] (a spread over seeds). */
  band?: { lo: readonly number[]; hi: readonly number[] };
}

export interface LineChartOptions {
  title: string;
  /** Lines under the title (a caption). */
  subtitle?: string[];
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** A logarithmic y axis, for losses that fall by orders of magnitude (points at or below 0 are left out). */
  logY?: boolean;
  /** A logarithmic x axis (for distances that grow geometrically). */
  logX?: boolean;
  /** The x values to label (default: chosen by the axis). */
  xTicks?: readonly number[];
  /** Legend entries per row (default: at most four a row, the rows as even as they can be). */
  legendColumns?: number;
  /** Size of the plotting area in pixels (default 640 × 320). */
  width?: number;
  height?: number;
}

/** One panel of a heatmap: values[row][column], coloured over [min, max] (default [0, 1]). */
interface HeatmapPanel {
  title: string;
  values: readonly (readonly number[])[];
  /** The colour scale's ends; with min < 0 < max the scale diverges around zero (red, white, blue). */
  min?: number;
  max?: number;
}

export interface HeatmapOptions {
  title: string;
  /** Lines under the title. */
  subtitle?: string[];
  /** Panels stacked vertically, sharing the x axis; each has its own colour legend. */
  panels: readonly HeatmapPanel[];
  xLabel: string;
  yLabel: string;
  /** One label per column (default 0, 1, 2, ...). */
  colLabels?: readonly string[];
  /** One label per row (default 0, 1, 2, ...). */
  rowLabels?: readonly string[];
  /** Side of one cell in pixels (default 12). */
  cell?: number;
}

/** One panel of a bar chart: one bar per label. */
interface BarPanel {
  title: string;
  bars: readonly { label: string; value: number }[];
}

export interface BarChartOptions {
  title: string;
  /** Panels side by side, each with its own value axis; a label has the same colour in all. */
  panels: readonly BarPanel[];
  /** Height of each panel in pixels (default 220). */
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const CONFIG = {
  font: 'sans-serif',
  title: { fontSize: 15, anchor: 'start', offset: 12 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', gridColor: '#eee' },
  legend: { labelFontSize: 12, titleFontSize: 12, labelLimit: 320 },
  view: { stroke: '#888' },
} as const;

// Without a canvas, Vega guesses a text's width as 0.8 em a character, far wider than sans-serif
// text (about 0.6 em): titles and legends then leave wide gaps. A closer guess goes in through the
// hook Vega keeps for it (vega-scenegraph's textMetrics, which vega's typings leave out).
interface TextItem {
  fontSize?: number;
  fontWeight?: string | number;
}
const textMetrics = (vega as unknown as { textMetrics?: { width: (item: TextItem, text: unknown) => number } })
  .textMetrics;
const em = (ch: string): number => (/[\s.,:;'|!()[\]ijlft1-]/.test(ch) ? 0.34 : /[A-Zmw%@_]/.test(ch) ? 0.78 : 0.6);
if (textMetrics) {
  textMetrics.width = (item, text) => {
    const chars = [...String(text ?? '').trim()];
    const bold = item.fontWeight === 'bold' || Number(item.fontWeight) >= 600;
    return Math.ceil(chars.reduce((w, ch) => w + em(ch), 0) * (item.fontSize ?? 11) * (bold ? 1.1 : 1));
  };
}

/** Renders a Vega-Lite spec to an SVG document, headlessly (no browser, no canvas). */
async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return `${await view.toSVG()}\n`;
  } finally {
    view.finalize();
  }
}

/**
 * A line chart of one or more series, with a legend naming them under it (none for a lone series).
 * Non-finite points are left out.
 */
export function lineChart(o: LineChartOptions): Promise<string> {
  const names = o.series.map((s) => s.name);
  // A band edge that the y axis cannot show (not finite, or not positive on a log axis) leaves
  // that point's band out.
  const bandEdge = (v: number | undefined) => (v !== undefined && Number.isFinite(v) && (!o.logY || v > 0) ? v : null);
  const rows = o.series.flatMap((s) =>
    s.y.map((y, i) => ({
      series: s.name,
      x: s.x?.[i] ?? i + 1,
      y,
      points: s.points ?? false,
      lo: bandEdge(s.band?.lo[i]),
      hi: bandEdge(s.band?.hi[i]),
    })),
  );
  const data = rows.filter(
    (r) => Number.isFinite(r.x) && Number.isFinite(r.y) && (!o.logY || r.y > 0) && (!o.logX || r.x > 0),
  );
  // Rows of at most four legend entries, as even as they can be, unless told otherwise.
  const columns = o.legendColumns ?? Math.ceil(names.length / Math.ceil(names.length / 4));
  const legend = names.length > 1 ? {} : null;
  const series = { field: 'series', type: 'nominal', title: null, sort: names, legend } as const;
  // Steps and time indices are whole numbers: no ticks between them, no decimals.
  const wholeX = data.every((r) => Number.isInteger(r.x));
  const bands = data.some((r) => r.lo !== null && r.hi !== null);
  return renderSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: o.subtitle?.length ? { text: o.title, subtitle: o.subtitle } : o.title,
    width: o.width ?? 640,
    height: o.height ?? 320,
    background: 'white',
    data: { values: data },
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        title: o.xLabel,
        scale: o.logX ? { type: 'log', nice: false } : { zero: false },
        axis: { ...(wholeX ? { format: 'd', tickMinStep: 1 } : {}), ...(o.xTicks ? { values: [...o.xTicks] } : {}) },
      },
      y: {
        field: 'y',
        type: 'quantitative',
        title: o.yLabel,
        scale: o.logY ? { type: 'log', nice: false } : { zero: false },
      },
      color: {
        ...series,
        scale: { domain: names, range: o.series.map((s, i) => s.color ?? PALETTE[i % PALETTE.length] ?? '#000') },
      },
    },
    layer: [
      ...(bands
        ? [
            {
              transform: [{ filter: 'datum.lo !== null && datum.hi !== null' }],
              mark: { type: 'area' as const, opacity: 0.15 },
              encoding: { y: { field: 'lo', type: 'quantitative' as const }, y2: { field: 'hi' } },
            },
          ]
        : []),
      {
        mark: { type: 'line', strokeWidth: 1.8 },
        encoding: {
          strokeDash: { ...series, scale: { domain: names, range: o.series.map((s) => (s.dashed ? [6, 4] : [1, 0])) } },
        },
      },
      { transform: [{ filter: 'datum.points' }], mark: { type: 'point', filled: true, size: 30 } },
    ],
    config: {
      ...CONFIG,
      legend: {
        ...CONFIG.legend,
        orient: 'bottom',
        columns,
        symbolType: 'stroke',
        symbolStrokeWidth: 2.5,
        symbolOpacity: 1,
      },
    },
  });
}

/** Heatmaps stacked vertically (rows × columns each), each with its title and colour legend. */
export function heatmap(o: HeatmapOptions): Promise<string> {
  const cell = o.cell ?? 12;
  const label = (labels: readonly string[] | undefined) =>
    labels ? `${JSON.stringify(labels)}[datum.value]` : 'datum.value';
  return renderSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: o.subtitle ? { text: o.title, subtitle: o.subtitle, subtitleFontSize: 12 } : o.title,
    background: 'white',
    spacing: 24,
    vconcat: o.panels.map((p) => {
      const [min, max] = [p.min ?? 0, p.max ?? 1];
      const diverging = min < 0 && max > 0;
      return {
        title: { text: p.title, fontSize: 12, fontWeight: 'bold', offset: 6 },
        width: { step: cell },
        height: { step: cell },
        data: { values: p.values.flatMap((row, r) => row.map((value, c) => ({ row: r, col: c, value }))) },
        mark: { type: 'rect' },
        encoding: {
          x: { field: 'col', type: 'ordinal', title: o.xLabel, axis: { labelExpr: label(o.colLabels), labelAngle: 0 } },
          y: {
            field: 'row',
            type: 'ordinal',
            title: o.yLabel,
            axis: { labelExpr: label(o.rowLabels), labelFontSize: 9 },
          },
          color: {
            field: 'value',
            type: 'quantitative',
            title: null,
            // White where a value is 0 (or min), deepening to blue (and, below zero, to red).
            scale: diverging
              ? { domain: [min, max], domainMid: 0, scheme: 'redblue', clamp: true }
              : { domain: [min, max], range: ['#ffffff', '#08306b'], clamp: true },
            legend: { gradientLength: Math.max(60, p.values.length * cell), orient: 'right' },
          },
        },
      };
    }),
    resolve: { scale: { color: 'independent' } },
    config: CONFIG,
  });
}

/** Bar charts side by side (one panel per measure), the bars of one label in one colour. */
export function barChart(o: BarChartOptions): Promise<string> {
  const labels = [...new Set(o.panels.flatMap((p) => p.bars.map((b) => b.label)))];
  return renderSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: o.title,
    background: 'white',
    spacing: 36,
    hconcat: o.panels.map((p) => {
      const bars = p.bars.filter((b) => Number.isFinite(b.value));
      // Room above the tallest bar for its value, so that every panel's title sits at the same height.
      const top = Math.max(0, ...bars.map((b) => b.value)) * 1.12;
      return {
        title: { text: p.title, fontSize: 12, fontWeight: 'bold' },
        width: { step: 44 },
        height: o.height ?? 220,
        data: {
          values: bars.map((b) => ({
            ...b,
            text: Number.isInteger(b.value) ? String(b.value) : b.value.toPrecision(3),
          })),
        },
        encoding: {
          x: { field: 'label', type: 'nominal', title: null, sort: labels, axis: { labelAngle: 0 } },
          y: { field: 'value', type: 'quantitative', title: null, scale: top > 0 ? { domainMax: top } : {} },
        },
        layer: [
          {
            mark: { type: 'bar' },
            encoding: {
              color: { field: 'label', type: 'nominal', legend: null, scale: { domain: labels, range: PALETTE } },
            },
          },
          { mark: { type: 'text', dy: -6, fontSize: 11 }, encoding: { text: { field: 'text', type: 'nominal' } } },
        ],
      };
    }),
    config: CONFIG,
  });
}
