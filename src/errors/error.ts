/**
 * The one error type tracestream throws. A finite set of codes says what went wrong; the flags say
 * what a caller can do about it, so nobody has to match on message strings.
 *
 * @example
 * try { await pool.run(job) } catch (e) {
 *   if (e instanceof TracestreamError && e.retriable) retryLater(job)
 *   else throw e
 * }
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'INPUT_INVALID'
  | 'INTERPRETER_UNAVAILABLE'
  | 'EXECUTOR_CRASHED'
  | 'EXECUTOR_CLOSED'
  | 'EXECUTOR_SATURATED'
  | 'RUN_CANCELLED'
  | 'KAFKA_CONNECT_FAILED'
  | 'KAFKA_DISCONNECTED'
  | 'KAFKA_DELIVERY_FAILED'
  | 'KAFKA_COMMIT_FAILED'
  | 'KAFKA_CONSUME_FAILED'
  | 'KAFKA_ADMIN_FAILED'
  | 'KAFKA_TRANSACTION_FAILED'
  | 'SCHEMA_INCOMPATIBLE'
  | 'SCHEMA_NOT_FOUND'
  | 'SCHEMA_ID_COLLISION'
  | 'SCHEMA_REGISTRY_UNAVAILABLE'
  | 'DECODE_FAILED'
  | 'TOPOLOGY_STOPPED'
  | 'SHUTDOWN_TIMEOUT'
  | 'SHUTDOWN_FAILED'
  | 'BUFFER_OVERFLOW'
  | 'EVENT_TOO_LARGE'
  | 'CHECKPOINT_INVALID'
  | 'BACKEND_UNAVAILABLE'
  | 'RECORDS_LOST';

export interface TracestreamErrorOptions {
  cause?: unknown;
  /** The same call may succeed if tried again later (broker down, registry busy). */
  retriable?: boolean;
  /**
   * The consumer group moved on without this member (new generation, member evicted, assignment
   * lost): retrying as it is cannot succeed; only rejoining the group (a new assignment) helps.
   */
  needsRejoin?: boolean;
  /** Anything that helps a reader locate the problem (topic, offset, field). */
  details?: Record<string, unknown>;
}

export class TracestreamError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly needsRejoin: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: TracestreamErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TracestreamError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.needsRejoin = options.needsRejoin ?? false;
    this.details = options.details ?? {};
  }
}

/** Several failures that happened together (e.g. every finalizer of a shutdown), reported at once. */
export class AggregateTracestreamError extends TracestreamError {
  readonly errors: readonly unknown[];
  constructor(code: ErrorCode, message: string, errors: readonly unknown[]) {
    super(code, `${message}: ${errors.map(describeError).join('; ')}`, { cause: errors[0] });
    this.errors = errors;
  }
}

export function isTracestreamError(error: unknown, code?: ErrorCode): error is TracestreamError {
  return error instanceof TracestreamError && (code === undefined || error.code === code);
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
/**
 * Faults of the machinery a topology runs on (broker, registry, executors, configuration, its own
 * shutdown), as opposed to faults of one input. Only these stop a topology (the retriable ones after
 * retries); any other error raised while one input is processed (it does not decode, its events do
 * not fit the schema or the message size, a bug it alone triggers) is that input's, and the input
 * goes to the dead-letter topic with the reason while the rest flow on.
 */
const INFRASTRUCTURE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'CONFIG_INVALID', 'INTERPRETER_UNAVAILABLE', 'EXECUTOR_CRASHED', 'EXECUTOR_CLOSED', 'EXECUTOR_SATURATED', 'RUN_CANCELLED',
  'KAFKA_CONNECT_FAILED', 'KAFKA_DELIVERY_FAILED', 'KAFKA_COMMIT_FAILED', 'KAFKA_CONSUME_FAILED', 'KAFKA_ADMIN_FAILED',
  'KAFKA_TRANSACTION_FAILED', 'SCHEMA_INCOMPATIBLE', 'SCHEMA_ID_COLLISION', 'SCHEMA_REGISTRY_UNAVAILABLE',
  'SHUTDOWN_TIMEOUT', 'SHUTDOWN_FAILED', 'BUFFER_OVERFLOW', 'RECORDS_LOST',
]);

export function isInfrastructureFault(error: unknown): boolean {
  return error instanceof TracestreamError && (error.retriable || INFRASTRUCTURE_CODES.has(error.code));
}
