import assert from 'node:assert/strict';
import { test } from 'node:test';
import avro from 'avsc';
import { encodeWire, readWireHeader } from '../../src/avro/index.js';

const type = avro.Type.forSchema({ type: 'record', name: 'Blob', fields: [{ name: 'text', type: 'string' }] });

test('encodeWire round-trips values larger than its scratch buffer, and small ones after it grew', () => {
  for (const text of ['a'.repeat(300_000), 'small', '']) {
    const message = encodeWire(42, type, { text });
    const { schemaId, body } = readWireHeader(message);
    assert.equal(schemaId, 42);
    assert.equal(type.fromBuffer(body).text, text);
    assert.equal(message.length, 5 + type.toBuffer({ text }).length);
  }
});

test('encodeWire returns buffers that later encodes do not overwrite', () => {
  const first = encodeWire(1, type, { text: 'first' });
  encodeWire(1, type, { text: 'second value' });
  assert.equal(type.fromBuffer(readWireHeader(first).body).text, 'first');
});
