import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConsumerStatistics, PartitionLag } from '../../src/kafka/index.js';
import { TopologyProbe } from '../../src/pipeline/index.js';
import { createMetricsRegistry, topologyMetrics } from '../../src/telemetry/index.js';
import { parsePrometheusText } from '../helpers/prometheus.js';

function partition(id: number, fields: Partial<PartitionLag>): PartitionLag {
  return { topic: 'traces', partition: id, lag: undefined, endOffset: undefined, startOffset: undefined, ...fields };
}

function report(partitions: PartitionLag[]): ConsumerStatistics {
  return { brokersUp: 1, brokersKnown: 1, partitions };
}

/** tracestream_consumer_lag_records as [partition, records] pairs. */
async function lagSamples(probe: TopologyProbe, stats: ConsumerStatistics, registry: ReturnType<typeof createMetricsRegistry>): Promise<[string, number][]> {
  probe.observer.statistics!(stats);
  return parsePrometheusText(await registry.metrics()).samples
    .filter((s) => s.name === 'tracestream_consumer_lag_records')
    .map((s): [string, number] => [s.labels['partition']!, s.value])
    .sort();
}

describe('the consumer lag gauge', () => {
  it('of a group consumer is librdkafka\'s lag from the committed offsets, and a partition whose lag is unknown has no sample', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const probe = new TopologyProbe(topologyMetrics(registry), 'traces');
    const samples = await lagSamples(probe, report([
      partition(0, { lag: 7, endOffset: 100 }),
      partition(1, { lag: undefined, endOffset: 50 }),
    ]), registry);
    assert.deepEqual(samples, [['0', 7]]);
  });

  it('of a consumer that keeps its own position (the trainer) is each partition\'s end minus that position, from the partition\'s start when it has taken nothing there', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const positions: Record<number, number> = { 0: 40, 1: 50 };
    const probe = new TopologyProbe(topologyMetrics(registry), 'traces', { position: (_topic, id) => positions[id] });
    // librdkafka's lag is unknown for all of them: no offsets are committed.
    const first = await lagSamples(probe, report([
      partition(0, { endOffset: 100, startOffset: 0 }),
      partition(1, { endOffset: 50, startOffset: 0 }),
      partition(2, { endOffset: 30, startOffset: 10 }),
      partition(3, { endOffset: undefined, startOffset: 0 }),
    ]), registry);
    assert.deepEqual(first, [['0', 60], ['1', 0], ['2', 20]], 'partition 3\'s end is not known yet');

    positions[0] = 100;
    const second = await lagSamples(probe, report([partition(0, { endOffset: 100, startOffset: 0 })]), registry);
    assert.deepEqual(second, [['0', 0]], 'caught up; partitions no longer reported lose their sample');
  });
});
