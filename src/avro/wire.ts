import type avro from 'avsc';
import { TracestreamError, describeError } from '../errors/index.js';

/**
 * The Confluent wire format, understood by every Kafka tool that speaks Schema Registry:
 * byte 0 is the magic byte 0, bytes 1-4 the writer schema id (big-endian), then the Avro binary
 * encoding of the value.
 */
export const MAGIC_BYTE = 0;
export const WIRE_HEADER_BYTES = 5;

/** Why a message could not be decoded; in `TracestreamError.details.reason` of a `DECODE_FAILED`. */
export type DecodeFailure =
  | 'too-short' // fewer bytes than the 5-byte header
  | 'bad-magic-byte' // not Confluent wire format (plain JSON, another framing)
  | 'unknown-schema-id' // the registry has no schema with that id
  | 'unknown-event-type' // the writer schema is none of the four events and no reader type was asked for
  | 'incompatible-writer' // the writer schema cannot be read as the reader schema
  | 'truncated' // the body ends before the value does
  | 'trailing-bytes' // the body goes on after the value
  | 'invalid-body'; // bytes that are no value of the writer schema (bad union index, enum index, ...)

export function decodeFailed(reason: DecodeFailure, message: string, details: Record<string, unknown> = {}, cause?: unknown): TracestreamError {
  return new TracestreamError('DECODE_FAILED', message, { details: { ...details, reason }, ...(cause === undefined ? {} : { cause }) });
}

/** Encodes `value` with `type` behind the header of `schemaId`. Throws avsc's error for a value `type` does not accept. */
export function encodeWire(schemaId: number, type: avro.Type, value: unknown): Buffer {
  // Header and body are written into one scratch buffer, then copied out once: a topology encodes
  // a record per executed line, so the intermediate body buffer toBuffer() makes was a real cost.
  let end = type.encode(value, scratch, WIRE_HEADER_BYTES);
  if (end < 0) {
    scratch = Buffer.allocUnsafe(Math.max(2 * scratch.length, scratch.length - end));
    end = type.encode(value, scratch, WIRE_HEADER_BYTES);
  }
  scratch.writeUInt8(MAGIC_BYTE, 0);
  scratch.writeUInt32BE(schemaId, 1);
  return Buffer.from(scratch.subarray(0, end));
}

let scratch = Buffer.allocUnsafe(64 * 1024);

/** Splits a message into its writer schema id and Avro body; `DECODE_FAILED` when it is not in wire format. */
export function readWireHeader(message: Buffer): { schemaId: number; body: Buffer } {
  if (message.length < WIRE_HEADER_BYTES) {
    throw decodeFailed('too-short', `message of ${message.length} bytes is shorter than the ${WIRE_HEADER_BYTES}-byte wire header`, { bytes: message.length });
  }
  const magic = message.readUInt8(0);
  if (magic !== MAGIC_BYTE) {
    throw decodeFailed('bad-magic-byte', `bad magic byte 0x${magic.toString(16).padStart(2, '0')} (expected 0x00): not Confluent wire format`, { magicByte: magic });
  }
  return { schemaId: message.readUInt32BE(1), body: message.subarray(WIRE_HEADER_BYTES) };
}

/**
 * Decodes an Avro body written with the writer schema that `resolver` was built from (or with
 * `reader` itself when there is no resolver) into a value of `reader`.
 */
export function decodeBody(body: Buffer, reader: avro.Type, resolver: ReturnType<avro.Type['createResolver']> | undefined, schemaId: number): unknown {
  let decoded: { value: unknown; offset: number };
  try {
    decoded = reader.decode(body, 0, resolver);
  } catch (error) {
    throw decodeFailed('invalid-body', `body of schema ${schemaId} is not a valid ${reader.name ?? 'value'}: ${describeError(error)}`, { schemaId }, error);
  }
  if (decoded.offset === -1) {
    throw decodeFailed('truncated', `body of schema ${schemaId} is truncated: ${body.length} bytes end before the ${reader.name ?? 'value'} does`, { schemaId, bytes: body.length });
  }
  if (decoded.offset !== body.length) {
    throw decodeFailed('trailing-bytes', `body of schema ${schemaId} has ${body.length - decoded.offset} bytes after the ${reader.name ?? 'value'}`, { schemaId, bytes: body.length });
  }
  return decoded.value;
}
