import type { Sample } from './load.js';

export interface Window {
  from: number;
  to: number;
}

export const within = (samples: readonly Sample[], window: Window): Sample[] => samples.filter((s) => s.sentAt >= window.from && s.sentAt < window.to);

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export interface Summary {
  sent: number;
  byStatus: Record<string, number>;
  byCode: Record<string, number>;
  errors: Record<string, number>;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(samples: readonly Sample[]): Summary {
  const count = (key: (s: Sample) => string | null) => {
    const counts: Record<string, number> = {};
    for (const s of samples) {
      const k = key(s);
      if (k !== null) counts[k] = (counts[k] ?? 0) + 1;
    }
    return counts;
  };
  const latencies = samples.filter((s) => s.status !== 0).map((s) => s.latencyMs);
  return {
    sent: samples.length,
    byStatus: count((s) => (s.status === 0 ? null : String(s.status))),
    byCode: count((s) => s.code),
    errors: count((s) => s.error),
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies.length > 0 ? Math.max(...latencies) : Number.NaN,
  };
}

export const share = (samples: readonly Sample[], test: (s: Sample) => boolean): number =>
  samples.length === 0 ? Number.NaN : samples.filter(test).length / samples.length;

/** First moment after `from` from which the next `run` samples all pass `ok`; null when it never happens. */
export function recoveredAt(samples: readonly Sample[], from: number, ok: (s: Sample) => boolean, run = 20): number | null {
  const after = samples.filter((s) => s.sentAt >= from);
  for (let i = 0; i + run <= after.length; i += 1) {
    if (after.slice(i, i + run).every(ok)) return after[i]!.sentAt;
  }
  return null;
}

export function formatSummary(label: string, summary: Summary): string {
  const parts = (record: Record<string, number>) =>
    Object.entries(record)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  const ms = (v: number) => (Number.isNaN(v) ? '-' : `${v.toFixed(1)} ms`);
  return `  ${label}: ${summary.sent} sent; status ${parts(summary.byStatus)}; codes ${parts(summary.byCode)}; connection errors ${parts(summary.errors)}; p50 ${ms(summary.p50)}, p95 ${ms(summary.p95)}, p99 ${ms(summary.p99)}, max ${ms(summary.max)}`;
}
