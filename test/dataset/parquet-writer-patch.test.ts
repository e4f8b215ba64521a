import assert from 'node:assert/strict';
import { test } from 'node:test';
// The patched module itself (patches/hyparquet-writer+0.17.0.patch, applied by `npm ci`'s postinstall).
import { unconvert } from 'hyparquet-writer/src/unconvert.js';

test('hyparquet-writer is installed patched: a UTF8 column\'s strings become views of one buffer, not a buffer each', () => {
  const values = ['plain', 'ünïcödé', null, '', '\u{1F600} and a lone \uD800 surrogate'];
  const encoded = unconvert({ name: 'text', type: 'BYTE_ARRAY', converted_type: 'UTF8' }, values) as (Uint8Array | null)[];
  const views = encoded.filter((value): value is Uint8Array => value instanceof Uint8Array);
  assert.equal(views.length, 4);
  assert.ok(views.every((view) => view.buffer === views[0]!.buffer), 'one buffer under every value');
  assert.equal(encoded[2], null);
  const encoder = new TextEncoder();
  values.forEach((value, i) => {
    if (typeof value === 'string') assert.deepEqual(encoded[i], encoder.encode(value), `value ${i} encoded as TextEncoder encodes it`);
  });
});
