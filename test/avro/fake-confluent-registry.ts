import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkBackward, parseSchema, type AvroSchema } from '../../src/avro/index.js';

/**
 * A stand-in for a Confluent Schema Registry, enough to test our HTTP client: the three endpoints
 * it calls, over Maps, answering with the real registry's status codes and error_codes
 * (BACKWARD compatibility against the latest version, 409 on refusal, 40401/40403 on misses).
 */
export interface FakeConfluentRegistry {
  url: string;
  /** Every request seen, as `METHOD path`. */
  requests: string[];
  /** The Authorization header of every request ('' when absent). */
  authorizations: string[];
  close(): Promise<void>;
}

export async function startFakeConfluentRegistry(): Promise<FakeConfluentRegistry> {
  const schemas: string[] = []; // id - 1 → schema text
  const subjects = new Map<string, number[]>(); // subject → ids, latest last
  const requests: string[] = [];
  const authorizations: string[] = [];

  const reply = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
    res.end(JSON.stringify(body));
  };
  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as { schema: string };
  };
  const latestCompatibility = (subject: string, schemaText: string) => {
    const latest = subjects.get(subject)?.at(-1);
    if (latest === undefined) return undefined;
    const reader = parseSchema(JSON.parse(schemaText) as AvroSchema);
    const writer = parseSchema(JSON.parse(schemas[latest - 1] as string) as AvroSchema);
    return checkBackward(reader, writer);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    requests.push(`${req.method} ${url.pathname}`);
    authorizations.push(req.headers.authorization ?? '');
    void (async () => {
      let m: RegExpMatchArray | null;
      if (req.method === 'POST' && (m = url.pathname.match(/^\/subjects\/([^/]+)\/versions$/))) {
        const subject = decodeURIComponent(m[1] as string);
        const { schema } = await readBody(req);
        const compatibility = latestCompatibility(subject, schema);
        if (compatibility && !compatibility.compatible) {
          return reply(res, 409, { error_code: 409, message: 'Schema being registered is incompatible with an earlier schema' });
        }
        let id = schemas.indexOf(schema) + 1;
        if (id === 0) id = schemas.push(schema);
        const ids = subjects.get(subject) ?? [];
        if (!ids.includes(id)) ids.push(id);
        subjects.set(subject, ids);
        return reply(res, 200, { id });
      }
      if (req.method === 'GET' && (m = url.pathname.match(/^\/schemas\/ids\/(\d+)$/))) {
        const schema = schemas[Number(m[1]) - 1];
        if (schema === undefined) return reply(res, 404, { error_code: 40403, message: 'Schema not found' });
        return reply(res, 200, { schema });
      }
      if (req.method === 'POST' && (m = url.pathname.match(/^\/compatibility\/subjects\/([^/]+)\/versions\/latest$/))) {
        const { schema } = await readBody(req);
        const compatibility = latestCompatibility(decodeURIComponent(m[1] as string), schema);
        if (!compatibility) return reply(res, 404, { error_code: 40401, message: 'Subject not found' });
        return reply(res, 200, compatibility.compatible ? { is_compatible: true } : { is_compatible: false, messages: compatibility.messages });
      }
      reply(res, 404, { error_code: 404, message: 'Not found' });
    })().catch((error: unknown) => reply(res, 500, { error_code: 500, message: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    authorizations,
    close: () => new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((e) => (e ? reject(e) : resolve()));
    }),
  };
}
