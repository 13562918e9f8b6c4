// Charts as inline SVG drawn on the server: no script, no CDN, works offline and on a phone
// (the viewBox scales to the screen width).
import { h, type Safe } from './html.ts';

export interface Series { label: string; color: string; values: number[] }

const W = 720;
const H = 240;
const PAD = { left: 56, right: 12, top: 12, bottom: 40 };

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return String(Math.round(n * 100) / 100);
}

/** Stacked bars, one per label (a UTC day), with an optional line on a 0–1 scale (a ratio) and a limit line. */
export function stackedBars(options: {
  title: string; labels: string[]; series: Series[];
  ratio?: { label: string; color: string; values: Array<number | null> };
  limit?: { label: string; value: number };
  format?: (n: number) => string;
}): Safe {
  const format = options.format ?? compact;
  const totals = options.labels.map((_, i) => options.series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const max = niceMax(Math.max(...totals, options.limit?.value ?? 0, 0));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(options.labels.length, 1);
  const barW = Math.max(2, slot * 0.7);
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const bars = options.labels.map((label, i) => {
    let base = 0;
    const x = PAD.left + i * slot + (slot - barW) / 2;
    return options.series.map((s) => {
      const v = s.values[i] ?? 0;
      if (v <= 0) return '';
      const rect = h`<rect x="${x.toFixed(1)}" y="${y(base + v).toFixed(1)}" width="${barW.toFixed(1)}" height="${((v / max) * plotH).toFixed(1)}" fill="${s.color}"><title>${label} ${s.label}: ${format(v)}</title></rect>`;
      base += v;
      return rect;
    });
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => h`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(max * f).toFixed(1)}" y2="${y(max * f).toFixed(1)}" class="grid"/><text x="${PAD.left - 6}" y="${(y(max * f) + 4).toFixed(1)}" text-anchor="end">${format(max * f)}</text>`);
  const every = Math.ceil(options.labels.length / 8);
  const xLabels = options.labels.map((label, i) => (i % every === 0 ? h`<text x="${(PAD.left + i * slot + slot / 2).toFixed(1)}" y="${H - PAD.bottom + 16}" text-anchor="middle">${label.slice(5)}</text>` : ''));
  let ratio: Safe | string = '';
  if (options.ratio) {
    const points = options.ratio.values
      .map((v, i) => (v === null ? null : `${(PAD.left + i * slot + slot / 2).toFixed(1)},${(PAD.top + plotH - v * plotH).toFixed(1)}`))
      .filter((p): p is string => p !== null);
    ratio = h`<polyline points="${points.join(' ')}" fill="none" stroke="${options.ratio.color}" stroke-width="2"/>${points.map((p) => { const [cx, cy] = p.split(','); return h`<circle cx="${cx}" cy="${cy}" r="3" fill="${options.ratio!.color}"/>`; })}<text x="${W - PAD.right}" y="${PAD.top + 10}" text-anchor="end" fill="${options.ratio.color}">${options.ratio.label} (0–100%)</text>`;
  }
  const limit = options.limit ? h`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(options.limit.value).toFixed(1)}" y2="${y(options.limit.value).toFixed(1)}" class="limit"/><text x="${PAD.left + 4}" y="${(y(options.limit.value) - 4).toFixed(1)}">${options.limit.label}</text>` : '';
  const legend = [...options.series, ...(options.ratio ? [{ label: options.ratio.label, color: options.ratio.color }] : [])]
    .map((s) => h`<span class="key"><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" fill="${s.color}"/></svg>${s.label}</span>`);
  return h`<figure class="chart"><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${options.title}"><title>${options.title}</title>${ticks}${bars}${ratio}${limit}${xLabels}</svg><figcaption>${legend}</figcaption></figure>`;
}
