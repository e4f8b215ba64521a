import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { OUTCOMES } from '../../src/runs/index.js';
import { EVENT_TYPES, SCHEMAS_DIR, checkBackward, eventSchema, eventSchemas, outcomeFromAvro, outcomeToAvro, parseSchema, type LineDiff } from '../../src/avro/index.js';
import { lineDiff } from './fixtures.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url)); // dist/test/avro → repo

test('the schemas folder is found relative to the compiled module (dist/src/avro → ../../../schemas)', () => {
  assert.equal(resolve(SCHEMAS_DIR), resolve(REPO_ROOT, 'schemas'));
});

test('each event schema declares the record io.tracestream.<EventType>', () => {
  const schemas = eventSchemas();
  assert.deepEqual(EVENT_TYPES.map((t) => schemas[t].type.name), EVENT_TYPES.map((t) => `io.tracestream.${t}`));
});

test('every record and every field of every event schema has a doc', () => {
  const undocumented: string[] = [];
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`));
    if (typeof node !== 'object' || node === null) return;
    const n = node as Record<string, unknown>;
    if (n.type === 'record') {
      if (typeof n.doc !== 'string' || n.doc === '') undocumented.push(`${path} (record ${String(n.name)})`);
      for (const f of n.fields as Record<string, unknown>[]) {
        if (typeof f.doc !== 'string' || f.doc === '') undocumented.push(`${path}.${String(f.name)}`);
        walk(f.type, `${path}.${String(f.name)}`);
      }
    } else {
      walk(n.items, `${path}[]`);
      walk(n.values, `${path}{}`);
    }
  };
  for (const t of EVENT_TYPES) walk(eventSchema(t).schema, t);
  assert.deepEqual(undocumented, []);
});

test('the Outcome enum holds exactly the executor outcomes with - spelled _, and the mapping round-trips', () => {
  const registry: Record<string, avro.Type> = {};
  avro.Type.forSchema(eventSchema('ExecutionTrace').schema as never, { registry });
  const outcome = registry['io.tracestream.Outcome'] as unknown as { symbols: string[] };
  assert.deepEqual(outcome.symbols, OUTCOMES.map(outcomeToAvro));
  assert.deepEqual(OUTCOMES.map(outcomeToAvro), ['ok', 'error', 'timeout', 'memory', 'output_limit', 'step_limit', 'syntax_error', 'killed']);
  assert.deepEqual(OUTCOMES.map((o) => outcomeFromAvro(outcomeToAvro(o))), [...OUTCOMES]);
});

test('the step types LineDiff repeats are identical to those of ExecutionTrace.Step, and its Outcome to ExecutionTrace\'s, docs included', () => {
  const named = (eventType: 'ExecutionTrace' | 'LineDiff') => {
    const registry: Record<string, avro.Type> = {};
    avro.Type.forSchema(eventSchema(eventType).schema as never, { registry });
    return registry;
  };
  const traceTypes = named('ExecutionTrace');
  const diffTypes = named('LineDiff');
  for (const name of ['StepEvent', 'VariableChange', 'ChangeKind', 'ExceptionInfo', 'Outcome']) {
    const full = `io.tracestream.${name}`;
    assert.ok(diffTypes[full], `LineDiff defines ${full}`);
    assert.deepEqual(diffTypes[full]?.schema({ exportAttrs: true }), traceTypes[full]?.schema({ exportAttrs: true }), full);
  }
  // The fields a LineDiff copies from its Step have the same types.
  const step = (traceTypes['io.tracestream.Step'] as unknown as avro.types.RecordType).fields;
  const diff = (diffTypes['io.tracestream.LineDiff'] as unknown as avro.types.RecordType).fields;
  for (const f of ['event', 'line', 'depth', 'function', 'changes', 'value', 'exception', 'stdout']) {
    const inStep = step.find((s) => s.name === f);
    const inDiff = diff.find((d) => d.name === f);
    assert.deepEqual(inDiff?.type.schema(), inStep?.type.schema(), f);
  }
});

test('LineDiff gained problemId and outcome BACKWARD-compatibly: a diff written before them reads with both null', () => {
  const current = eventSchema('LineDiff').schema as { fields: { name: string }[] };
  const before = { ...current, fields: current.fields.filter((f) => f.name !== 'problemId' && f.name !== 'outcome') };
  const reader = parseSchema(current);
  const writer = parseSchema(before);
  assert.deepEqual(checkBackward(reader, writer), { compatible: true });
  const { problemId: _problem, outcome: _outcome, ...older } = lineDiff;
  const read = reader.fromBuffer(writer.toBuffer(older), reader.createResolver(writer)) as LineDiff;
  assert.equal(read.problemId, null);
  assert.equal(read.outcome, null);
  assert.equal(read.runId, lineDiff.runId);
});
