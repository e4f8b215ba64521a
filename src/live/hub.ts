import type { Subscription } from 'rxjs';
import { TracestreamError } from '../errors/index.js';
import { startsAtTime, type PartitionStart } from '../kafka/index.js';
import { cursorOffsets, eventId, type Cursor } from './cursor.js';
import { eventMatcher, type LiveFilter } from './filter.js';
import { liveRecords, type LiveReaderOptions, type LiveRecord } from './records.js';
import { LIVE_STREAMS, type LiveEvent, type LiveFrom, type LiveStream } from './streams.js';

/** An event for one member, with the id that resumes that member right after it. */
export interface HubDelivery<S extends LiveStream = LiveStream> {
  readonly event: LiveEvent<S>;
  readonly id: string;
}

export interface HubMember<S extends LiveStream = LiveStream> {
  filter: LiveFilter;
  /** `now`, `beginning`, a time, or the cursor of a Last-Event-ID. */
  from: LiveFrom | { cursor: Cursor };
  /** Called synchronously for each matching event, in partition order; must not block. */
  deliver(delivery: HubDelivery<S>): void;
  /** The member's own catch-up reader failed, or the hub's consumer did; no more deliveries follow. */
  fail(error: unknown): void;
}

/**
 * One stream's fan-out: a single consumer reads the topic from now on and hands every event to
 * each member whose filter matches, synchronously, so members never hold the consumer up (a member
 * that cannot keep up drops itself; see `openEventStream`).
 *
 * A member that starts earlier than now (from the beginning, a time, or a Last-Event-ID) gets a
 * catch-up reader of its own that reads each partition from its start until it reaches the hub's
 * position there; from then on that partition's events come from the shared consumer. The switch
 * is made per partition at an exact offset, so a member sees each record once and misses none.
 */
export interface StreamHub<S extends LiveStream = LiveStream> {
  readonly stream: S;
  readonly topic: string;
  /** Resolves once the shared consumer has its partitions (its position is known). */
  readonly ready: Promise<void>;
  /** True while the shared consumer runs (for /readyz). */
  readonly healthy: boolean;
  readonly memberCount: number;
  /** Adds a member; the returned function removes it (and stops its catch-up reader). Idempotent. */
  join(member: HubMember<S>): () => void;
  /** Removes every member, closes the consumers and waits for them to disconnect. Idempotent. */
  close(): Promise<void>;
}

export function startStreamHub<S extends LiveStream>(stream: S, options: LiveReaderOptions): StreamHub<S> {
  const topic = options.topic ?? LIVE_STREAMS[stream].defaultTopic;
  /** The hub's position: the next offset of each partition after the records handed out so far. */
  const position = new Map<number, number>();
  const members = new Set<Member<S>>();
  const closing: Promise<void>[] = [];
  let healthy = false;
  let failure: unknown;
  let sharedId: { record: LiveRecord<S>; id: string } | undefined;

  const context: HubContext<S> = {
    stream, topic, options, position, closing,
    sharedIdOf(record) {
      if (sharedId?.record !== record) sharedId = { record, id: eventId(topic, record.partition, record.offset, position) };
      return sharedId.id;
    },
  };

  let resolveReady!: () => void;
  let rejectReady!: (error: unknown) => void;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => undefined);

  const subscription = liveRecords(stream, { ...options, from: 'now' }, {
    onAssigned(starts) {
      for (const { partition, offset } of starts) position.set(partition, offset);
      healthy = true;
      resolveReady();
    },
    onClosing: (closed) => closing.push(closed),
  }).subscribe({
    next(record) {
      const before = position.get(record.partition) ?? 0;
      position.set(record.partition, record.offset + 1);
      for (const member of members) member.onHubRecord(record, before);
    },
    error(error: unknown) {
      healthy = false;
      failure = error;
      rejectReady(error);
      for (const member of [...members]) member.fail(error);
    },
  });

  let closed: Promise<void> | undefined;
  return {
    stream,
    topic,
    ready,
    get healthy() {
      return healthy;
    },
    get memberCount() {
      return members.size;
    },
    join(spec) {
      if (failure !== undefined || closed !== undefined) {
        spec.fail(failure ?? new TracestreamError('EXECUTOR_CLOSED', `the ${stream} stream is closed`));
        return () => undefined;
      }
      const member = new Member(context, spec, () => members.delete(member));
      members.add(member);
      ready.then(() => member.start(), () => undefined);
      return () => member.leave();
    },
    close() {
      closed ??= (async () => {
        healthy = false;
        for (const member of [...members]) member.leave();
        subscription.unsubscribe();
        await Promise.all(closing);
      })();
      return closed;
    },
  };
}

interface HubContext<S extends LiveStream> {
  readonly stream: S;
  readonly topic: string;
  readonly options: LiveReaderOptions;
  readonly position: ReadonlyMap<number, number>;
  /** Disconnects of closed consumers, for the hub's close to await. */
  readonly closing: Promise<void>[];
  /** The id of a record for members that read every partition from the hub (computed once per record). */
  sharedIdOf(record: LiveRecord<S>): string;
}

class Member<S extends LiveStream> {
  private readonly matches: (event: LiveEvent<S>['event']) => boolean;
  private readonly notBeforeMs: number;
  /** Partitions whose events come from the hub; the member's position there is the hub's. */
  private readonly joined = new Set<number>();
  /** The member's next offset in each partition not joined yet (behind or ahead of the hub). */
  private readonly behind = new Map<number, number>();
  /** Until the start offsets are known the hub's records are left to the catch-up reader. */
  private started = false;
  private catchUp: Subscription | undefined;
  private left = false;

  constructor(
    private readonly hub: HubContext<S>,
    private readonly spec: HubMember<S>,
    private readonly remove: () => void,
  ) {
    this.matches = eventMatcher<S>(spec.filter);
    const from = spec.from;
    this.notBeforeMs = typeof from === 'object' && 'timestampMs' in from ? startsAtTime(from) ?? 0 : 0;
  }

  start(): void {
    if (this.left) return;
    const from = this.spec.from;
    if (from === 'now') {
      this.begin([...this.hub.position].map(([partition, offset]) => ({ topic: this.hub.topic, partition, offset })));
      return;
    }
    if (typeof from === 'object' && 'cursor' in from && this.atHub(from.cursor)) {
      this.begin([...from.cursor].map(([partition, offset]) => ({ topic: this.hub.topic, partition, offset })));
      return;
    }
    const liveFrom: LiveFrom = typeof from === 'object' && 'cursor' in from ? { offsets: cursorOffsets(from.cursor) } : from;
    // The catch-up reader resolves its start offsets itself (clamped to what the partitions hold).
    this.catchUp = liveRecords(this.hub.stream, { ...this.hub.options, from: liveFrom }, {
      onAssigned: (starts) => this.begin(starts),
      onClosing: (closed) => this.hub.closing.push(closed),
    }).subscribe({
      next: (record) => this.onCatchUpRecord(record),
      error: (error: unknown) => this.fail(error),
    });
  }

  /** A cursor that names exactly the hub's position needs no catch-up reader (a reconnect after a quiet spell). */
  private atHub(cursor: Cursor): boolean {
    if (cursor.size !== this.hub.position.size) return false;
    for (const [partition, offset] of this.hub.position) if (cursor.get(partition) !== offset) return false;
    return true;
  }

  private begin(starts: readonly PartitionStart[]): void {
    for (const { partition, offset } of starts) {
      if (offset === this.hub.position.get(partition)) this.joined.add(partition);
      else this.behind.set(partition, offset);
    }
    this.started = true;
    this.stopCatchUpWhenJoined();
  }

  onHubRecord(record: LiveRecord<S>, hubBefore: number): void {
    if (!this.started) return;
    const { partition, offset } = record;
    if (this.joined.has(partition)) {
      this.offer(record);
      return;
    }
    const next = this.behind.get(partition);
    // Behind the hub there: the catch-up reader brings this partition up to the hub.
    if (next === undefined || next < hubBefore) return;
    if (offset >= next) {
      this.behind.set(partition, offset + 1);
      this.offer(record);
    }
    if (this.behind.get(partition) === offset + 1) this.join(partition);
  }

  private onCatchUpRecord(record: LiveRecord<S>): void {
    const { partition, offset } = record;
    const next = this.behind.get(partition);
    if (next === undefined || offset < next) return;
    this.behind.set(partition, offset + 1);
    this.offer(record);
    if (offset + 1 === this.hub.position.get(partition)) this.join(partition);
  }

  private join(partition: number): void {
    this.behind.delete(partition);
    this.joined.add(partition);
    this.stopCatchUpWhenJoined();
  }

  private stopCatchUpWhenJoined(): void {
    if (this.behind.size === 0 && this.catchUp !== undefined) {
      this.catchUp.unsubscribe();
      this.catchUp = undefined;
    }
  }

  private offer(record: LiveRecord<S>): void {
    if (this.left || record.event === undefined || record.timestampMs < this.notBeforeMs || !this.matches(record.event)) return;
    const event: LiveEvent<S> = {
      stream: this.hub.stream, topic: record.topic, partition: record.partition, offset: record.offset, timestampMs: record.timestampMs, event: record.event,
    };
    this.spec.deliver({ event, id: this.idOf(record) });
  }

  private idOf(record: LiveRecord<S>): string {
    if (this.behind.size === 0) return this.hub.sharedIdOf(record);
    const cursor = new Map<number, number>();
    for (const [partition, offset] of this.hub.position) cursor.set(partition, this.behind.get(partition) ?? offset);
    return eventId(this.hub.topic, record.partition, record.offset, cursor);
  }

  fail(error: unknown): void {
    if (this.left) return;
    this.leave();
    this.spec.fail(error);
  }

  leave(): void {
    if (this.left) return;
    this.left = true;
    this.catchUp?.unsubscribe();
    this.catchUp = undefined;
    this.remove();
  }
}
