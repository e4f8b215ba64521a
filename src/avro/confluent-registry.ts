import { SchemaRegistryClient } from '@confluentinc/schemaregistry/dist/schemaregistry-client.js';
import { RestError } from '@confluentinc/schemaregistry/dist/rest-error.js';
import { z } from 'zod';
import { TracestreamError, describeError, parseOptions } from '../errors/index.js';
import type { AvroSchema, CompatibilityResult } from './compatibility.js';
import type { SchemaRegistry } from './registry.js';

const confluentRegistrySchema = z.object({
  /** Limit of one HTTP request, in milliseconds. */
  requestTimeoutMs: z.number().int().positive().default(10_000),
  /** Retries of a request that failed for a reason worth retrying (5xx, 429, network). */
  maxRetries: z.number().int().nonnegative().default(2),
});

export type ConfluentSchemaRegistryOptions = z.input<typeof confluentRegistrySchema>;

// Confluent's error_code for "subject not found": a subject without versions accepts any schema.
const SUBJECT_NOT_FOUND = 40401;

/**
 * A Confluent-compatible Schema Registry (Confluent, Redpanda, Apicurio's ccompat API) through
 * Confluent's own client (`@confluentinc/schemaregistry`, the Kafka client's release line), which
 * brings auth, retries and caching. The server enforces the subject's compatibility level; a
 * refusal (HTTP 409) becomes `SCHEMA_INCOMPATIBLE`. Credentials in the URL
 * (`https://key:secret@host`) are sent as basic auth.
 *
 * @example
 * const registry = new ConfluentSchemaRegistry('http://localhost:8081')
 * const id = await registry.register('io.tracestream.LineDiff', schema)
 */
export class ConfluentSchemaRegistry implements SchemaRegistry {
  readonly #base: string;
  readonly #client: SchemaRegistryClient;

  constructor(url: string, options: ConfluentSchemaRegistryOptions = {}) {
    const { requestTimeoutMs, maxRetries } = parseOptions(confluentRegistrySchema, options, 'ConfluentSchemaRegistry');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (error) {
      throw new TracestreamError('CONFIG_INVALID', `schema registry url: ${JSON.stringify(url)} is not a URL`, { cause: error });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new TracestreamError('CONFIG_INVALID', `schema registry url: ${JSON.stringify(url)} must be http(s)`);
    }
    const userInfo = parsed.username === '' ? undefined : `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
    parsed.username = '';
    parsed.password = '';
    this.#base = parsed.href.replace(/\/+$/, '');
    this.#client = new SchemaRegistryClient({
      baseURLs: [this.#base],
      createAxiosDefaults: { timeout: requestTimeoutMs },
      maxRetries,
      ...(userInfo === undefined ? {} : { basicAuthCredentials: { credentialsSource: 'USER_INFO', userInfo } }),
    });
  }

  async register(subject: string, schema: AvroSchema): Promise<number> {
    try {
      return await this.#client.register(subject, { schemaType: 'AVRO', schema: JSON.stringify(schema) });
    } catch (error) {
      if (error instanceof RestError && error.status === 409) {
        throw new TracestreamError('SCHEMA_INCOMPATIBLE', `schema registry refused the schema for ${subject}: ${error.message}`, { cause: error, details: { subject } });
      }
      if (error instanceof RestError && error.status === 422) {
        throw new TracestreamError('INPUT_INVALID', `schema registry rejected the schema for ${subject} as invalid: ${error.message}`, { cause: error, details: { subject } });
      }
      throw this.#unavailable(`register a schema under ${subject}`, error);
    }
  }

  async getById(id: number): Promise<AvroSchema> {
    let text: string;
    try {
      // Ids are global in the default context; the client caches what it fetched (ids are immutable).
      text = (await this.#client.getBySubjectAndId('', id)).schema;
    } catch (error) {
      if (error instanceof RestError && error.status === 404) {
        throw new TracestreamError('SCHEMA_NOT_FOUND', `schema registry has no schema with id ${id}`, { cause: error, details: { schemaId: id } });
      }
      throw this.#unavailable(`fetch schema ${id}`, error);
    }
    try {
      return JSON.parse(text) as AvroSchema;
    } catch (error) {
      throw new TracestreamError('SCHEMA_REGISTRY_UNAVAILABLE', `schema registry ${this.#base} sent schema ${id} that is not JSON`, { cause: error });
    }
  }

  async checkCompatible(subject: string, schema: AvroSchema): Promise<CompatibilityResult> {
    try {
      const compatible = await this.#client.testSubjectCompatibility(subject, { schemaType: 'AVRO', schema: JSON.stringify(schema) });
      // Confluent's client asks without `verbose`, so the registry says whether, not why.
      return compatible ? { compatible: true } : { compatible: false, messages: [`incompatible with the latest version of ${subject} under the registry's compatibility level`] };
    } catch (error) {
      if (error instanceof RestError && error.status === 404 && error.errorCode === SUBJECT_NOT_FOUND) return { compatible: true };
      throw this.#unavailable(`check compatibility under ${subject}`, error);
    }
  }

  async close(): Promise<void> {
    this.#client.close();
  }

  /** A registry that could not answer: worth asking again when the server said so (5xx, 429) or did not answer at all. */
  #unavailable(what: string, error: unknown): TracestreamError {
    const status = error instanceof RestError ? error.status : undefined;
    return new TracestreamError('SCHEMA_REGISTRY_UNAVAILABLE', `schema registry ${this.#base} could not ${what}: ${status === undefined ? '' : `HTTP ${status} `}${describeError(error)}`, {
      cause: error,
      retriable: status === undefined || status >= 500 || status === 429,
      details: { status, errorCode: error instanceof RestError ? error.errorCode : undefined },
    });
  }
}
