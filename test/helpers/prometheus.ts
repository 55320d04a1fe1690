/** The Prometheus text format parsed: `name{labels}` → value, and `# TYPE` lines as name → type. */
export interface ParsedMetrics {
  samples: Map<string, number>;
  types: Map<string, string>;
}

/** Parses Prometheus text exposition (as prom-client renders it: labels in a fixed order). */
export function parsePrometheus(text: string): ParsedMetrics {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) types.set(t[1]!, t[2]!);
    else if (line && !line.startsWith('#')) {
      const i = line.lastIndexOf(' ');
      samples.set(line.slice(0, i), Number(line.slice(i + 1)));
    }
  }
  return { samples, types };
}

/** Scrapes `GET {base}/metrics` and parses it. */
export async function scrape(base: string): Promise<Map<string, number>> {
  const res = await fetch(`${base}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return parsePrometheus(await res.text()).samples;
}
