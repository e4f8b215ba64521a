export {
  TracestreamError, AggregateTracestreamError, isTracestreamError, describeError,
  type ErrorCode, type TracestreamErrorOptions,
} from './error.js';
export { parseOptions } from './options.js';
