import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTracestreamError } from '../../src/errors/index.js';
import { startTopology, type RunningTopology } from '../../src/lifecycle/index.js';

/** A flow that runs until closed (or until `fail` is called), recording its (idempotent) drain in `log`. */
function flow(log: string[]): RunningTopology & { fail(error: Error): void } {
  let drained = false;
  let stop!: () => void;
  let fail!: (error: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    stop = resolve;
    fail = reject;
  });
  done.catch(() => undefined);
  return {
    done,
    close() {
      if (!drained) log.push('flow drained');
      drained = true;
      stop();
      return done;
    },
    fail,
  };
}

const after = <T>(ms: number, value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms));

describe('startTopology', () => {
  it('opens resources concurrently and closes them once, last opened first, after draining the flow', async () => {
    const log: string[] = [];
    const opening = (name: string) => {
      log.push(`${name} opening`);
      return after(30, name).then((value) => {
        log.push(`${name} open`);
        return value;
      });
    };
    const running = await startTopology('test', async (scope) => {
      void scope.open('pool', opening('pool'), () => void log.push('pool closed'));
      void scope.open('schemas', opening('schemas'));
      await scope.open('producer', opening('producer'), () => void log.push('producer closed'));
      return scope.open('processor', Promise.resolve(flow(log)), (f) => f.close());
    });
    assert.deepEqual(log.slice(0, 3), ['pool opening', 'schemas opening', 'producer opening'], 'all three start before any has opened');
    await Promise.all([running.close(), running.close()]);
    await running.close();
    assert.deepEqual(log.slice(6), ['flow drained', 'producer closed', 'pool closed']);
  });

  it('a resource that fails to open fails the start with its own error, and what did open is closed', async () => {
    const log: string[] = [];
    await assert.rejects(
      startTopology('test', async (scope) => {
        void scope.open('slow pool', after(50, 'pool'), () => void log.push('slow pool closed'));
        void scope.open('registry', Promise.reject(new Error('registry unreachable')));
        await scope.open('producer', Promise.resolve('producer'), () => void log.push('producer closed'));
        return flow(log);
      }),
      /registry unreachable/,
    );
    assert.deepEqual(log, ['producer closed', 'slow pool closed'], 'the pool still opening when the start failed is closed once it opens');
  });

  it('a start function that throws closes what it opened before rethrowing', async () => {
    const log: string[] = [];
    await assert.rejects(
      startTopology('test', async (scope) => {
        await scope.open('pool', Promise.resolve('pool'), () => void log.push('pool closed'));
        throw new Error('topics could not be made');
      }),
      /topics could not be made/,
    );
    assert.deepEqual(log, ['pool closed']);
  });

  it('when the flow stops with an error, done rejects with it after every resource closed', async () => {
    const log: string[] = [];
    const inner = flow(log);
    const running = await startTopology('test', async (scope) => {
      await scope.open('pool', Promise.resolve('pool'), () => void log.push('pool closed'));
      return inner;
    });
    inner.fail(new Error('consumer fenced'));
    await assert.rejects(running.done, /consumer fenced/);
    assert.deepEqual(log, ['pool closed']);
  });

  it('a failing teardown does not stop the others, and done reports it as SHUTDOWN_FAILED', async () => {
    const log: string[] = [];
    const running = await startTopology('test', async (scope) => {
      await scope.open('pool', Promise.resolve('pool'), () => void log.push('pool closed'));
      await scope.open('producer', Promise.resolve('producer'), () => Promise.reject(new Error('flush failed')));
      return flow(log);
    });
    await assert.rejects(running.close(), (error: unknown) => isTracestreamError(error, 'SHUTDOWN_FAILED') && /closing producer failed: Error: flush failed/.test(error.message));
    assert.deepEqual(log, ['flow drained', 'pool closed']);
  });
});
