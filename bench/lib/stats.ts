/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

/** Smallest and largest of the ratios a[i] ÷ b[i] (pairs taken in the same round); null when there are none. */
export function pairedRatioRange(a: readonly number[], b: readonly number[]): { min: number; max: number } | null {
  const ratios = a
    .slice(0, b.length)
    .map((value, i) => ratio(value, b[i]!))
    .filter(Number.isFinite);
  return ratios.length === 0 ? null : { min: Math.min(...ratios), max: Math.max(...ratios) };
}

/** `a–b×`, as {@link fmtRatio} writes each end. */
export function fmtRatioRange(range: { min: number; max: number }): string {
  return `${fmtRatio(range.min).slice(0, -1)}–${fmtRatio(range.max)}`;
}

export function ratio(a: number, b: number): number {
  return b === 0 ? Number.NaN : a / b;
}

export const mb = (bytes: number): number => bytes / (1024 * 1024);

export function fmt(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtRatio(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}×`;
}

/** Left-aligned first column, right-aligned others. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  return rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

/** Least-squares slope of y over x. */
export function slope(points: ReadonlyArray<{ x: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}
