import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

/**
 * The layers of src/ and what each may import (README, Architecture). A layer not listed here is a
 * new folder that must be added, with its place, before the test passes.
 */
const LIBRARY = ['errors', 'runs', 'render', 'executor', 'kafka', 'lifecycle', 'avro', 'pipeline', 'telemetry', 'dataset', 'live', 'model'] as const;
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  errors: [],
  runs: ['errors'],
  render: ['errors', 'runs'],
  executor: ['errors', 'runs'],
  kafka: ['errors'],
  lifecycle: ['errors'],
  telemetry: ['errors', 'lifecycle'],
  avro: ['errors', 'runs', 'kafka'],
  pipeline: ['errors', 'runs', 'render', 'executor', 'kafka', 'lifecycle', 'telemetry', 'avro'],
  dataset: ['errors', 'runs', 'render', 'executor', 'kafka', 'lifecycle', 'telemetry', 'avro', 'pipeline'],
  live: ['errors', 'runs', 'render', 'executor', 'kafka', 'lifecycle', 'telemetry', 'avro', 'pipeline'],
  model: ['errors', 'runs', 'render', 'executor', 'kafka', 'lifecycle', 'telemetry', 'avro', 'pipeline', 'dataset'],
  // The settings table takes the library's defaults; only the CLI reads it.
  config: ['errors', ...LIBRARY],
  // The public API: every library layer, never the edge.
  'index.ts': [...LIBRARY],
  // The edge: settings, the library, and the runnable topologies.
  cli: ['config', 'index.ts', ...LIBRARY, 'topologies'],
};

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SRC = join(REPO, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Relative specifiers of every static and dynamic import and re-export in `file`, resolved to .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)'(\.[^']+)'/gm)].map((m) => m[1]!);
  return specifiers.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

/** The layer a path belongs to: src/<layer>/..., src/index.ts, topologies, or null outside both. */
function layerOf(path: string): string | null {
  const fromRepo = relative(REPO, path).split(sep);
  if (fromRepo[0] === 'topologies') return 'topologies';
  if (fromRepo[0] !== 'src') return null;
  return fromRepo[1]!;
}

test('no module imports from a layer above its own, and nothing but src/cli reads the settings', () => {
  const violations: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const layer = layerOf(file)!;
    const allowed = MAY_IMPORT[layer];
    if (allowed === undefined) {
      violations.push(`${relative(REPO, file)}: src/${layer} has no place in the layers; add it to MAY_IMPORT and to the README's Architecture section`);
      continue;
    }
    for (const target of importsOf(file)) {
      const to = layerOf(target);
      if (to === null || to === layer) continue;
      if (!allowed.includes(to)) violations.push(`${relative(REPO, file)} imports ${relative(REPO, target)} (${layer} may import ${allowed.join(', ') || 'nothing'})`);
    }
  }
  assert.deepEqual(violations, []);
});

test('topologies use the public API (src/index.ts) only, and nothing outside src/cli imports the CLI', () => {
  const violations: string[] = [];
  for (const file of sourceFiles(join(REPO, 'topologies'))) {
    for (const target of importsOf(file)) {
      const to = layerOf(target);
      if (to !== null && to !== 'topologies' && to !== 'index.ts') violations.push(`${relative(REPO, file)} imports ${relative(REPO, target)}`);
    }
  }
  for (const dir of ['bench', 'topologies', 'src']) {
    for (const file of sourceFiles(join(REPO, dir))) {
      if (layerOf(file) === 'cli') continue;
      for (const target of importsOf(file)) {
        if (layerOf(target) === 'cli') violations.push(`${relative(REPO, file)} imports the CLI (${relative(REPO, target)})`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

test('the public API names what it exports: no export * of a layer', () => {
  const index = readFileSync(join(SRC, 'index.ts'), 'utf8');
  assert.doesNotMatch(index, /export \*/);
});
