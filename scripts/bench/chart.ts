/** One open-loop point of the latency chart. */
export interface LatencyPoint {
  offeredPerS: number;
  p50: number;
  p95: number;
  p99: number;
}

/** One bar of the throughput chart. */
export interface ThroughputBar {
  label: string;
  perS: number;
}

const W = 760;
const H = 320;
const COLOURS = { p50: "#2b8a3e", p95: "#e67700", p99: "#c92a2a", bar: "#1c7ed6", ceiling: "#868e96" };

const esc = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const fmt = (value: number) => (value === 0 ? "0" : value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));

/** A round step giving about `count` ticks up to `max`. */
function niceStep(max: number, count = 5): number {
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * magnitude).find((step) => step >= raw) ?? raw;
}

/** The smallest round step multiple at or above `max`. */
function niceMax(max: number): number {
  const step = niceStep(Math.max(max, 1e-9));
  return step * Math.max(1, Math.ceil(max / step));
}

function axes(x0: number, y0: number, w: number, h: number, yMax: number, yLabel: string): string[] {
  const step = niceStep(yMax);
  const parts = [`<line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y0 - h}" stroke="#495057"/>`, `<line x1="${x0}" y1="${y0}" x2="${x0 + w}" y2="${y0}" stroke="#495057"/>`];
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    const y = y0 - (v / yMax) * h;
    parts.push(`<line x1="${x0}" y1="${y}" x2="${x0 + w}" y2="${y}" stroke="#dee2e6"/>`);
    parts.push(`<text x="${x0 - 6}" y="${y + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  parts.push(`<text x="${x0 - 44}" y="${y0 - h / 2}" transform="rotate(-90 ${x0 - 44} ${y0 - h / 2})" text-anchor="middle">${esc(yLabel)}</text>`);
  return parts;
}

/**
 * The benchmark's chart as a small self-contained SVG: CreatePayment latency percentiles
 * against offered load (open-loop runs) on the left, throughputs on the right.
 */
export function renderChart(
  title: { text: string; machine: string },
  points: LatencyPoint[],
  bars: ThroughputBar[],
  latencyTargetMs?: number,
): string {
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11" fill="#212529">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${esc(title.text)}</text>`,
    `<text x="${W / 2}" y="${H - 5}" text-anchor="middle" fill="#495057">${esc(title.machine)}</text>`,
  ];

  // Left: latency percentiles against offered load.
  const [lx, ly, lw, lh] = [70, 270, 330, 210];
  const sorted = [...points].sort((a, b) => a.offeredPerS - b.offeredPerS);
  const xMax = Math.max(1, ...sorted.map((p) => p.offeredPerS)) * 1.1;
  const yMax = niceMax(Math.max(1, (latencyTargetMs ?? 0) * 1.1, ...sorted.map((p) => p.p99)));
  parts.push(...axes(lx, ly, lw, lh, yMax, "CreatePayment latency, ms"));
  const xStep = niceStep(xMax);
  for (let v = 0; v <= xMax; v += xStep) parts.push(`<text x="${lx + (v / xMax) * lw}" y="${ly + 14}" text-anchor="middle">${fmt(v)}</text>`);
  parts.push(`<text x="${lx + lw / 2}" y="${ly + 30}" text-anchor="middle">offered load, payments/s (open loop)</text>`);
  if (latencyTargetMs !== undefined) {
    const y = (ly - (latencyTargetMs / yMax) * lh).toFixed(1);
    parts.push(`<line x1="${lx}" y1="${y}" x2="${lx + lw}" y2="${y}" stroke="#c92a2a" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${lx + lw - 4}" y="${Number(y) - 4}" text-anchor="end" fill="#c92a2a">p99 target ${fmt(latencyTargetMs)} ms</text>`);
  }
  (["p50", "p95", "p99"] as const).forEach((key, i) => {
    const xy = sorted.map((p) => [lx + (p.offeredPerS / xMax) * lw, ly - (p[key] / yMax) * lh] as const);
    if (xy.length > 1) parts.push(`<polyline fill="none" stroke="${COLOURS[key]}" stroke-width="2" points="${xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ")}"/>`);
    for (const [x, y] of xy) parts.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3" fill="${COLOURS[key]}"/>`);
    parts.push(`<rect x="${lx + 10 + i * 55}" y="${ly - lh - 24}" width="10" height="10" fill="${COLOURS[key]}"/><text x="${lx + 24 + i * 55}" y="${ly - lh - 15}">${key}</text>`);
  });

  // Right: throughput bars.
  const [bx, by, bw, bh] = [500, 270, 240, 210];
  const bMax = niceMax(Math.max(1, ...bars.map((b) => b.perS)));
  parts.push(...axes(bx, by, bw, bh, bMax, "payments/s"));
  const slot = bw / Math.max(1, bars.length);
  bars.forEach((bar, i) => {
    const h = (bar.perS / bMax) * bh;
    const x = bx + i * slot + slot * 0.15;
    parts.push(`<rect x="${x.toFixed(1)}" y="${(by - h).toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${h.toFixed(1)}" fill="${i === 0 && bar.label.includes("SQL") ? COLOURS.ceiling : COLOURS.bar}"/>`);
    parts.push(`<text x="${(x + slot * 0.35).toFixed(1)}" y="${(by - h - 4).toFixed(1)}" text-anchor="middle">${fmt(bar.perS)}</text>`);
    parts.push(`<text x="${(x + slot * 0.35).toFixed(1)}" y="${by + 14}" text-anchor="middle">${esc(bar.label)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
