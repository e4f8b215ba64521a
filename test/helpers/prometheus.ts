/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: every line
 * must be a HELP or TYPE comment or a sample, or it throws naming the line. Enough to prove that a
 * scraper can read what we serve and to look values up.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
  /** The sample's value, 0 when absent (a counter never incremented has no labelled sample yet). */
  value(name: string, labels?: Record<string, string>): number;
  /** Sum over every sample of `name` whose labels include `labels`. */
  sum(name: string, labels?: Record<string, string>): number;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})?\\s+(\\S+)(?:\\s+-?\\d+)?$`);
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,\s*|$)/y;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheusText(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const where = `line ${index + 1} (${JSON.stringify(line)})`;
    if (line.startsWith('#')) {
      const comment = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (comment === null) throw new Error(`${where}: a comment must be # HELP or # TYPE`);
      if (comment[1] === 'TYPE') {
        if (!TYPES.has(comment[3] ?? '')) throw new Error(`${where}: unknown metric type`);
        types.set(comment[2]!, comment[3]!);
      }
      continue;
    }
    const match = SAMPLE.exec(line);
    if (match === null) throw new Error(`${where}: not a sample`);
    const labels: Record<string, string> = {};
    const body = match[2] ?? '';
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const label = LABEL.exec(body);
      if (label === null) throw new Error(`${where}: malformed labels`);
      labels[label[1]!] = label[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const raw = match[3]!;
    // Prometheus reads values with Go's ParseFloat, which takes NaN and Inf in any case: prom-client
    // writes `Nan` for a mean with no samples yet (nodejs_eventloop_lag_mean_seconds right after start).
    const special = /^([+-]?)(inf|nan)$/i.exec(raw);
    const value = special === null ? Number(raw) : special[2]!.toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
    if (Number.isNaN(value) && special === null) throw new Error(`${where}: value is not a number`);
    samples.push({ name: match[1]!, labels, value });
  }
  const matches = (sample: Sample, name: string, labels: Record<string, string>): boolean =>
    sample.name === name && Object.entries(labels).every(([k, v]) => sample.labels[k] === v);
  return {
    types,
    samples,
    value(name, labels = {}) {
      const found = samples.find((s) => matches(s, name, labels) && Object.keys(s.labels).length === Object.keys(labels).length);
      return found?.value ?? 0;
    },
    sum(name, labels = {}) {
      return samples.filter((s) => matches(s, name, labels)).reduce((total, s) => total + s.value, 0);
    },
  };
}
