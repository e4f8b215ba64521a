import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Kafka, { type TopicPartitionOffset } from '@confluentinc/kafka-javascript';
import { kafkaSource, type KafkaClientConfig, type KafkaProducer, type KafkaSource } from '../../src/kafka/index.js';
import { uniqueName } from '../helpers/broker.js';
import { committedOffsets, useKafkaFixture } from './support.js';
import { until } from './wait.js';

/** Partitions the mock cluster gives an auto-created topic. */
const PARTITIONS = 4;

interface Receipt {
  consumer: 'A' | 'B';
  partition: number;
  offset: number;
  round: number;
}

describe('kafkaSource rebalance between two live consumers of one group', () => {
  let client: KafkaClientConfig;
  let producer: KafkaProducer;

  useKafkaFixture((fixture) => ({ client, producer } = fixture));

  const protocols = [
    // The mock refuses every OffsetCommit with REBALANCE_IN_PROGRESS from the moment a classic group
    // starts rejoining until it is up again (its JOINING state; a real broker accepts commits while
    // it prepares a rebalance), and it cannot be up again before A gives its partitions up: A's
    // commit-on-revoke cannot land. A logs the refusal and gives up at once, since no retry can
    // succeed before the revoke completes; the next owner re-reads from the last confirmed commit.
    { groupProtocol: 'classic', revokeCommitLands: false },
    // KIP-848 revokes without stopping the group: the commit-on-revoke is confirmed before B is assigned.
    { groupProtocol: 'consumer', revokeCommitLands: true },
  ] as const;
  for (const { groupProtocol, revokeCommitLands } of protocols) {
    const delivery = revokeCommitLands
      ? 'no record is lost or delivered twice'
      : 'no record is lost, a record is delivered twice only below a commit-on-revoke the broker refused and A logged';
    it(`${groupProtocol} protocol: when B joins mid-stream ${delivery}, each partition then has one owner, and the commits match the acks`, { timeout: 90_000 }, async () => {
      const topic = uniqueName(`rebalance-${groupProtocol}`);
      const groupId = uniqueName('g');
      // Rounds put one record on every partition; the value names the round.
      const producedPerPartition = new Array<number>(PARTITIONS).fill(0);
      let rounds = 0;
      const produceRound = async (): Promise<void> => {
        const round = rounds++;
        await producer.send(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, key: null, value: Buffer.from(String(round)) })));
        for (let p = 0; p < PARTITIONS; p++) producedPerPartition[p]!++;
      };

      const receipts: Receipt[] = [];
      const failures: unknown[] = [];
      const warnings: { consumer: 'A' | 'B'; message: string; details: Record<string, unknown> }[] = [];
      const join = (consumer: 'A' | 'B'): KafkaSource => {
        // A small session timeout: on the mock a rejoining classic group waits it out for a departed member.
        const source = kafkaSource({
          client, groupId, topics: [topic], groupProtocol, commitIntervalMs: 200, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500,
          log: { warn: (message, details = {}) => warnings.push({ consumer, message, details }) },
        });
        source.records.subscribe({
          next: (record) => {
            receipts.push({ consumer, partition: record.partition, offset: Number(record.offset), round: Number(record.value!.toString()) });
            record.ack();
          },
          error: (error: unknown) => failures.push(error),
        });
        return source;
      };
      const received = (consumer: 'A' | 'B') => receipts.filter((r) => r.consumer === consumer);

      const firstRounds = 5;
      for (let i = 0; i < firstRounds; i++) await produceRound();
      const a = join('A');
      let b: KafkaSource | undefined;
      let streaming = true;
      let stream: Promise<void> = Promise.resolve();
      try {
        await until(() => receipts.length >= firstRounds * PARTITIONS, 'A to read the first rounds alone');
        assert.deepEqual(new Set(received('A').map((r) => r.partition)), new Set([0, 1, 2, 3]), 'alone, A owns every partition');

        // Keep producing while B joins, so partitions move while records flow.
        stream = (async () => {
          while (streaming) {
            await produceRound();
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        })();
        b = join('B');
        await until(() => received('B').length > 0, 'B to be assigned partitions and read from them');
        const bStart = receipts.findIndex((r) => r.consumer === 'B');
        await until(
          () => new Set(receipts.slice(bStart).map((r) => r.partition)).size === PARTITIONS,
          'every partition to be read again after the rebalance',
        );
        streaming = false;
        await stream;

        // Rounds produced once the group settled: each partition's records go to one consumer.
        const settledFrom = rounds;
        for (let i = 0; i < 5; i++) await produceRound();
        const total = rounds * PARTITIONS;
        await until(() => new Set(receipts.map((r) => `${r.partition}:${r.offset}`)).size >= total, 'every produced record to be read');

        assert.deepEqual(failures, [], 'neither consumer failed');
        const settledOwners = Array.from({ length: PARTITIONS }, (_, partition) => [
          ...new Set(receipts.filter((r) => r.partition === partition && r.round >= settledFrom).map((r) => r.consumer)),
        ]);
        for (const [partition, owners] of settledOwners.entries()) {
          assert.equal(owners.length, 1, `partition ${partition} is read by exactly one consumer after the rebalance (got ${owners.join(', ')})`);
        }
        const owned = (consumer: 'A' | 'B') => settledOwners.filter((owners) => owners[0] === consumer).length;
        assert.ok(owned('A') > 0 && owned('B') > 0, `both consumers own partitions after the rebalance (A ${owned('A')}, B ${owned('B')})`);

        const seen = new Set<string>();
        const twice: Receipt[] = [];
        for (const r of receipts) {
          const key = `${r.partition}:${r.offset}`;
          if (seen.has(key)) twice.push(r);
          seen.add(key);
        }
        if (revokeCommitLands) {
          assert.deepEqual(twice, [], 'no record was handed out twice: A committed its acks before giving its partitions up');
        } else {
          const refused = warnings.filter((w) => w.consumer === 'A' && w.message === 'revoke commit failed; giving up'
            && w.details['librdkafkaCode'] === Kafka.CODES.ERRORS.ERR_REBALANCE_IN_PROGRESS);
          assert.ok(refused.length > 0, `A logged that the broker refused its commit-on-revoke, with the broker's error (warnings: ${JSON.stringify(warnings)})`);
          const refusedUpTo = new Map<number, number>();
          for (const { details } of refused) {
            for (const { partition, offset } of details['offsets'] as TopicPartitionOffset[]) {
              refusedUpTo.set(partition, Math.max(refusedUpTo.get(partition) ?? 0, offset));
            }
          }
          for (const r of twice) {
            assert.ok(r.offset < (refusedUpTo.get(r.partition) ?? 0), `record ${r.partition}:${r.offset} was handed out twice though no refused commit covered it`);
          }
        }
        for (let partition = 0; partition < PARTITIONS; partition++) {
          const offsets = [...new Set(receipts.filter((r) => r.partition === partition).map((r) => r.offset))].sort((x, y) => x - y);
          assert.deepEqual(offsets, Array.from({ length: producedPerPartition[partition]! }, (_, i) => i), `every offset of partition ${partition} was acked by A or B`);
        }
      } finally {
        streaming = false;
        await stream;
        await Promise.all([a.close(), b?.close()]);
      }

      const committed = await committedOffsets(client, groupId, topic, PARTITIONS);
      assert.deepEqual([...committed.entries()].sort(([x], [y]) => x - y), producedPerPartition.map((count, partition) => [partition, count]));
    });
  }
});
