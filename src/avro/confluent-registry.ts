import { TracestreamError, describeError } from '../errors/index.js';
import type { AvroSchema, CompatibilityResult } from './compatibility.js';
import type { SchemaRegistry } from './registry.js';

export interface ConfluentSchemaRegistryOptions {
  /** Limit of one HTTP request, in milliseconds. Default 10 000. */
  requestTimeoutMs?: number;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
// Confluent's error_code for "subject not found": a subject without versions accepts any schema.
const SUBJECT_NOT_FOUND = 40401;

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

/**
 * Client of a Confluent-compatible Schema Registry (Confluent, Redpanda, Apicurio's ccompat API),
 * using three endpoints: register, fetch by id, and test compatibility against the latest version.
 * The server enforces the subject's compatibility level; a refusal (HTTP 409) becomes
 * `SCHEMA_INCOMPATIBLE`. Credentials in the URL (`https://key:secret@host`) are sent as basic auth.
 * Ids are immutable, so schemas fetched by id are cached for the life of the client.
 *
 * @example
 * const registry = new ConfluentSchemaRegistry('http://localhost:8081')
 * const id = await registry.register('io.tracestream.LineDiff', schema)
 */
export class ConfluentSchemaRegistry implements SchemaRegistry {
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #requestTimeoutMs: number;
  readonly #byId = new Map<number, AvroSchema>();

  constructor(url: string, options: ConfluentSchemaRegistryOptions = {}) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (error) {
      throw new TracestreamError('CONFIG_INVALID', `schema registry url: ${JSON.stringify(url)} is not a URL`, { cause: error });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new TracestreamError('CONFIG_INVALID', `schema registry url: ${JSON.stringify(url)} must be http(s)`);
    }
    const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    if (!Number.isInteger(requestTimeoutMs) || requestTimeoutMs <= 0) {
      throw new TracestreamError('CONFIG_INVALID', `requestTimeoutMs: ${requestTimeoutMs} must be a positive integer`);
    }
    this.#requestTimeoutMs = requestTimeoutMs;
    this.#headers = { 'content-type': CONTENT_TYPE, accept: CONTENT_TYPE };
    if (parsed.username !== '') {
      const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
      this.#headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
      parsed.username = '';
      parsed.password = '';
    }
    this.#base = parsed.href.replace(/\/+$/, '');
  }

  async register(subject: string, schema: AvroSchema): Promise<number> {
    const reply = await this.#request('POST', `/subjects/${encodeURIComponent(subject)}/versions`, { schema: JSON.stringify(schema) });
    if (reply.status === 409) {
      throw new TracestreamError('SCHEMA_INCOMPATIBLE', `schema registry refused the schema for ${subject}: ${errorMessage(reply)}`, {
        details: { subject },
      });
    }
    if (reply.status === 422) {
      throw new TracestreamError('INPUT_INVALID', `schema registry rejected the schema for ${subject} as invalid: ${errorMessage(reply)}`, {
        details: { subject },
      });
    }
    this.#expectOk(reply, `register a schema under ${subject}`);
    const id = reply.body.id;
    if (typeof id !== 'number') throw this.#malformed(reply, 'id');
    this.#byId.set(id, schema);
    return id;
  }

  async getById(id: number): Promise<AvroSchema> {
    const cached = this.#byId.get(id);
    if (cached) return cached;
    const reply = await this.#request('GET', `/schemas/ids/${id}`);
    if (reply.status === 404) {
      throw new TracestreamError('SCHEMA_NOT_FOUND', `schema registry has no schema with id ${id}`, { details: { schemaId: id } });
    }
    this.#expectOk(reply, `fetch schema ${id}`);
    if (typeof reply.body.schema !== 'string') throw this.#malformed(reply, 'schema');
    const schema = JSON.parse(reply.body.schema) as AvroSchema;
    this.#byId.set(id, schema);
    return schema;
  }

  async checkCompatible(subject: string, schema: AvroSchema): Promise<CompatibilityResult> {
    const reply = await this.#request(
      'POST', `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest?verbose=true`, { schema: JSON.stringify(schema) },
    );
    if (reply.status === 404 && reply.body.error_code === SUBJECT_NOT_FOUND) return { compatible: true };
    this.#expectOk(reply, `check compatibility under ${subject}`);
    if (typeof reply.body.is_compatible !== 'boolean') throw this.#malformed(reply, 'is_compatible');
    if (reply.body.is_compatible) return { compatible: true };
    const messages = Array.isArray(reply.body.messages) ? reply.body.messages.map(String) : [];
    return { compatible: false, messages };
  }

  // Holds no connection of its own: fetch pools sockets process-wide.
  async close(): Promise<void> {}

  async #request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Reply> {
    let response: Response;
    try {
      response = await fetch(`${this.#base}${path}`, {
        method,
        headers: this.#headers,
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#requestTimeoutMs),
      });
    } catch (error) {
      throw new TracestreamError('SCHEMA_REGISTRY_UNAVAILABLE', `schema registry ${this.#base} did not answer ${method} ${path}: ${describeError(error)}`, {
        cause: error, retriable: true,
      });
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      parsed = { message: text };
    }
    const record = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : { message: text };
    return { status: response.status, body: record };
  }

  #expectOk(reply: Reply, what: string): void {
    if (reply.status >= 200 && reply.status < 300) return;
    throw new TracestreamError('SCHEMA_REGISTRY_UNAVAILABLE', `schema registry ${this.#base} could not ${what}: HTTP ${reply.status} ${errorMessage(reply)}`, {
      retriable: reply.status >= 500 || reply.status === 429,
      details: { status: reply.status, errorCode: reply.body.error_code },
    });
  }

  #malformed(reply: Reply, field: string): TracestreamError {
    return new TracestreamError('SCHEMA_REGISTRY_UNAVAILABLE', `schema registry ${this.#base} sent a reply without a valid "${field}": ${JSON.stringify(reply.body)}`, {
      details: { status: reply.status },
    });
  }
}

function errorMessage(reply: Reply): string {
  return typeof reply.body.message === 'string' ? reply.body.message : JSON.stringify(reply.body);
}
