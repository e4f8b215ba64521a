import type { ModelMetrics } from '../avro/index.js';

interface Series {
  label: string;
  color: string;
  dashed?: boolean;
  points: [number, number][];
}

const WIDTH = 960;
const PANEL_HEIGHT = 300;
const MARGIN = { left: 70, right: 200, top: 40, bottom: 50 };

/**
 * Two panels as a standalone SVG: losses (training, held-out trace loss) and held-out next-state
 * accuracy of the model beside both baselines, each against tokens trained, with axes, ticks and a
 * legend.
 */
export function plotTrainingCurves(history: readonly ModelMetrics[], title = 'tracestream training'): string {
  const x = (m: ModelMetrics): number => m.tokensTrained;
  const series = (label: string, color: string, pick: (m: ModelMetrics) => number | null, dashed = false): Series => ({
    label, color, dashed,
    points: history.flatMap((m) => {
      const v = pick(m);
      return v === null || !Number.isFinite(v) ? [] : [[x(m), v] as [number, number]];
    }),
  });
  const losses = [
    series('train loss (all tokens)', '#1f77b4', (m) => m.trainLoss),
    series('train loss (trace tokens)', '#17becf', (m) => m.trainTraceLoss, true),
    series('held-out trace loss', '#d62728', (m) => m.traceLoss),
  ];
  const accuracies = [
    series('model next-state', '#2ca02c', (m) => m.model.nextState),
    series('model per-variable', '#98df8a', (m) => m.model.variables, true),
    series('repeat previous', '#7f7f7f', (m) => m.repeatPrevious.nextState, true),
    series('most frequent', '#ff7f0e', (m) => m.mostFrequent.nextState, true),
  ];
  const height = 2 * (PANEL_HEIGHT + MARGIN.top + MARGIN.bottom);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    panel(`${title}: loss (nats per token)`, losses, 0, null),
    panel('held-out next-state accuracy (fraction of records predicted exactly)', accuracies, PANEL_HEIGHT + MARGIN.top + MARGIN.bottom, [0, 1]),
    '</svg>',
    '',
  ].join('\n');
}

function panel(title: string, series: readonly Series[], top: number, fixedRange: [number, number] | null): string {
  const all = series.flatMap((s) => s.points);
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const y0 = top + MARGIN.top;
  const out: string[] = [`<text x="${MARGIN.left}" y="${y0 - 14}" font-size="14" font-weight="bold">${escapeXml(title)}</text>`];
  if (all.length === 0) {
    out.push(`<text x="${MARGIN.left + 20}" y="${y0 + PANEL_HEIGHT / 2}">no data yet</text>`);
    return out.join('\n');
  }
  const [xMin, xMax] = range(all.map((p) => p[0]), null);
  const [yMin, yMax] = range(all.map((p) => p[1]), fixedRange);
  const sx = (v: number): number => MARGIN.left + ((v - xMin) / (xMax - xMin)) * plotWidth;
  const sy = (v: number): number => y0 + PANEL_HEIGHT - ((v - yMin) / (yMax - yMin)) * PANEL_HEIGHT;
  out.push(`<rect x="${MARGIN.left}" y="${y0}" width="${plotWidth}" height="${PANEL_HEIGHT}" fill="none" stroke="#333"/>`);
  for (const t of ticks(yMin, yMax)) {
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${sy(t)}" y2="${sy(t)}" stroke="#ddd"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${sy(t) + 4}" text-anchor="end">${formatTick(t)}</text>`);
  }
  for (const t of ticks(xMin, xMax)) {
    out.push(`<line x1="${sx(t)}" x2="${sx(t)}" y1="${y0 + PANEL_HEIGHT}" y2="${y0 + PANEL_HEIGHT + 5}" stroke="#333"/>`);
    out.push(`<text x="${sx(t)}" y="${y0 + PANEL_HEIGHT + 18}" text-anchor="middle">${formatTick(t)}</text>`);
  }
  out.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${y0 + PANEL_HEIGHT + 38}" text-anchor="middle">tokens trained</text>`);
  series.forEach((s, i) => {
    if (s.points.length > 0) {
      const d = s.points.map(([px, py], k) => `${k === 0 ? 'M' : 'L'}${sx(px).toFixed(1)},${sy(py).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
      for (const [px, py] of s.points) out.push(`<circle cx="${sx(px).toFixed(1)}" cy="${sy(py).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
    }
    const ly = y0 + 14 + i * 20;
    const lx = MARGIN.left + plotWidth + 14;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${lx + 30}" y="${ly}">${escapeXml(s.label)}</text>`);
  });
  return out.join('\n');
}

function range(values: readonly number[], fixed: [number, number] | null): [number, number] {
  if (fixed !== null) return fixed;
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  return [lo, hi];
}

/** About five round ticks between lo and hi. */
function ticks(lo: number, hi: number): number[] {
  const rough = (hi - lo) / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((f) => f * magnitude).find((s) => s >= rough) ?? rough;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e3) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(Number(v.toPrecision(3)));
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}
