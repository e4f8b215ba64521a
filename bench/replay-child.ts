/**
 * One replay in its own process, so that its peak RSS is its own: bench/replay.ts runs it with
 * `node dist/bench/replay-child.js '<json>'` and reads one JSON line from its stdout.
 */
import { createAvroCodec, openSchemaRegistry } from '../src/avro/index.js';
import { replayTopic, type DatasetFormat } from '../src/dataset/index.js';
import { TRACESTREAM_CLIENT_PROPERTIES } from '../src/kafka/index.js';

interface ChildArgs {
  bootstrapServers: string;
  topic: string;
  outDir: string;
  formats: Exclude<DatasetFormat, 'parquet'>[];
}

const args = JSON.parse(process.argv[2]!) as ChildArgs;
const registry = await openSchemaRegistry({ brokers: args.bootstrapServers });
try {
  const started = performance.now();
  const { manifest } = await replayTopic({
    client: { bootstrapServers: args.bootstrapServers, clientId: 'bench-replay', librdkafka: TRACESTREAM_CLIENT_PROPERTIES },
    codec: createAvroCodec(registry),
    topic: args.topic,
    outDir: args.outDir,
    formats: args.formats,
  });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ seconds, maxRssBytes: process.resourceUsage().maxRSS * 1024, manifest })}\n`);
} finally {
  await registry.close();
}
