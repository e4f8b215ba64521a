import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readSettings } from '../../src/config/settings.js';
import { isTracestreamError } from '../../src/errors/index.js';
import { kafkaSecurityFrom } from '../../src/cli/options.js';

describe('Kafka security settings', () => {
  it('a Strimzi SCRAM user over TLS becomes librdkafka SASL_SSL properties with the CA file', () => {
    const settings = readSettings({}, {
      KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KAFKA_SASL_USERNAME: 'tracestream-trace', KAFKA_SASL_PASSWORD: 'secret-from-the-user-secret',
      KAFKA_SSL_CA_LOCATION: '/etc/kafka-ca/ca.crt',
    });
    assert.deepEqual(kafkaSecurityFrom(settings), {
      'security.protocol': 'sasl_ssl', 'sasl.mechanisms': 'SCRAM-SHA-512', 'sasl.username': 'tracestream-trace',
      'sasl.password': 'secret-from-the-user-secret', 'ssl.ca.location': '/etc/kafka-ca/ca.crt',
    });
  });

  it('plaintext by default, and a SASL protocol without its password is refused naming both settings', () => {
    assert.deepEqual(kafkaSecurityFrom(readSettings({}, {})), { 'security.protocol': 'plaintext' });
    assert.throws(
      () => kafkaSecurityFrom(readSettings({}, { KAFKA_SECURITY_PROTOCOL: 'sasl_plaintext', KAFKA_SASL_USERNAME: 'u' })),
      (error: unknown) => isTracestreamError(error, 'CONFIG_INVALID') && error.message.includes('KAFKA_SASL_PASSWORD') && error.message.includes('KAFKA_SASL_USERNAME'),
    );
    assert.throws(() => readSettings({}, { KAFKA_SECURITY_PROTOCOL: 'tls' }), (error: unknown) => isTracestreamError(error, 'CONFIG_INVALID'));
  });
});
