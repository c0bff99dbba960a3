/** The sum of a metric's series in the service's Prometheus text, or NaN when absent. */
export async function metricValue(serviceUrl: string, name: string): Promise<number> {
  try {
    const res = await fetch(`${serviceUrl}/metrics`);
    const text = await res.text();
    let sum = Number.NaN;
    for (const line of text.split('\n')) {
      if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      sum = Number.isNaN(sum) ? value : sum + value;
    }
    return sum;
  } catch {
    return Number.NaN;
  }
}

/** Samples a metric until stopped; `peak()` is the highest value seen. */
export function watchMetric(serviceUrl: string, name: string, intervalMs = 100): { peak: () => number; stop: () => void } {
  let peak = Number.NaN;
  let stopped = false;
  void (async () => {
    while (!stopped) {
      const value = await metricValue(serviceUrl, name);
      if (!Number.isNaN(value)) peak = Number.isNaN(peak) ? value : Math.max(peak, value);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return { peak: () => peak, stop: () => (stopped = true) };
}
