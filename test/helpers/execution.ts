import { DEFAULT_LIMITS, type Execution, type Limits } from '../../src/runs/index.js';
import type { ExceptionInfo, Step, VariableChange } from '../../src/runs/index.js';

/** Limits of hand-built runs: the defaults, with room for long hand-built traces; tests that care about limits set their own. */
export const TEST_LIMITS: Limits = { ...DEFAULT_LIMITS, maxSteps: 100_000, traceBytes: 64 * 1024 * 1024 };

export const added = (name: string, value: string): VariableChange => ({ name, kind: 'new', value });
export const changed = (name: string, value: string): VariableChange => ({ name, kind: 'modified', value });
export const deleted = (name: string): VariableChange => ({ name, kind: 'deleted', value: null });

/** Fields a step may set beyond what the builder method fills in (depth, function, index too). */
export type StepExtra = Partial<Omit<Step, 'event' | 'line'>>;

/**
 * Builds the steps of a trace by hand, in the tracer's order, keeping depth, function and index
 * the way the tracer would: `call` enters a frame, `return` leaves it.
 *
 * @example
 * const execution = new TraceBuilder()
 *   .line(1, [added('x', '1')])
 *   .line(2).call('f', 4, [added('n', '1')]).line(5).return(5, '2')
 *   .build({ stdout: '2\n' });
 */
export class TraceBuilder {
  private readonly steps: Step[] = [];
  private readonly frames: string[] = ['<module>'];

  line(line: number, changes: VariableChange[] = [], extra: StepExtra = {}): this {
    return this.push({ event: 'line', line, changes, ...extra });
  }

  /** Enters `fn`: the step is one frame deeper than the current one. */
  call(fn: string, line: number, args: VariableChange[] = [], extra: StepExtra = {}): this {
    this.frames.push(fn);
    return this.push({ event: 'call', line, changes: args, ...extra });
  }

  /** Leaves the current frame returning (or yielding) `value`. */
  return(line: number, value: string | null, extra: StepExtra = {}): this {
    this.push({ event: 'return', line, value, ...extra });
    this.frames.pop();
    return this;
  }

  /** An exception raised in the current frame (it may be caught by a later `line`). */
  raise(line: number, exception: ExceptionInfo, extra: StepExtra = {}): this {
    return this.push({ event: 'exception', line, exception, ...extra });
  }

  /** Leaves the current frame because `exception` propagated out of it. */
  unwind(line: number, exception: ExceptionInfo, extra: StepExtra = {}): this {
    return this.return(line, null, { exception, ...extra });
  }

  build(overrides: Partial<Execution> = {}): Execution {
    const steps = overrides.steps ?? this.steps.map((step) => ({ ...step, changes: [...step.changes] }));
    return {
      runId: 'test#0',
      outcome: 'ok',
      exitCode: 0,
      signal: null,
      stdout: steps.map((step) => step.stdout).join(''),
      stderrTail: '',
      outputFile: null,
      exception: null,
      reason: 'ran to completion',
      wallTimeMs: 12,
      cpuTimeMs: 10,
      stepCount: steps.length,
      traceTruncated: false,
      limits: TEST_LIMITS,
      tracerVersion: 'test',
      pythonVersion: '3.11.2',
      ...overrides,
      steps,
    };
  }

  private push(spec: Partial<Step> & Pick<Step, 'event' | 'line'>): this {
    this.steps.push({
      index: this.steps.length,
      depth: this.frames.length - 1,
      function: this.frames[this.frames.length - 1] ?? '<module>',
      changes: [],
      value: null,
      exception: null,
      stdout: '',
      ...spec,
    });
    return this;
  }
}
