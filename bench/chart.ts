/** A small hand-written SVG bar chart: req/s per case, with the ratio to the limit. No dependencies. */

export interface ChartRow {
  id: string;
  label: string;
  rps: number;
  p99: number;
  ratio: number;
  /** The case it is compared with (itself for a ceiling). */
  baseline?: string;
}

const WIDTH = 880;
const LABEL = 300;
const BAR_MAX = 300;
const ROW = 34;
const TOP = 56;

export function renderChart(rows: ChartRow[], subtitle: string): string {
  const max = Math.max(1, ...rows.map((r) => r.rps));
  const height = TOP + rows.length * ROW + 36;
  const bars = rows.map((r, i) => {
    const y = TOP + i * ROW;
    const width = Math.max(1, Math.round((r.rps / max) * BAR_MAX));
    const ceiling = r.baseline === undefined ? r.id === "limit" : r.baseline === r.id;
    const colour = ceiling ? "#8a8f98" : r.id.includes("storm") ? "#d08c2a" : "#2f6fbf";
    const ratio = ceiling ? "" : `  ${r.ratio.toFixed(2)}x ${r.baseline ?? "limit"}`;
    const figure = `${Math.round(r.rps).toLocaleString("en-US")} req/s${ratio}  p99 ${r.p99.toFixed(1)} ms`;
    return [
      `<text x="${LABEL - 8}" y="${y + 17}" text-anchor="end">${escape(r.label)}</text>`,
      `<rect x="${LABEL}" y="${y + 4}" width="${width}" height="${ROW - 12}" rx="3" fill="${colour}"/>`,
      `<text x="${LABEL + width + 8}" y="${y + 17}" class="figure">${escape(figure)}</text>`,
    ].join("\n  ");
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="13">
  <style>.figure { fill: #333; font-size: 12px; } .title { font-size: 16px; font-weight: 600; } .sub { fill: #666; font-size: 12px; }</style>
  <rect width="100%" height="100%" fill="#fff"/>
  <text x="16" y="24" class="title">tokenver: protected-route throughput vs the no-revocation limit</text>
  <text x="16" y="42" class="sub">${escape(subtitle)}</text>
  ${bars.join("\n  ")}
  <line x1="${LABEL}" y1="${TOP}" x2="${LABEL}" y2="${TOP + rows.length * ROW}" stroke="#999"/>
  <text x="16" y="${height - 12}" class="sub">ratio = req/s over its baseline's (grey) run right before it, median of the rounds; 2 shared cores: compare ratios, not absolute figures</text>
</svg>
`;
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
