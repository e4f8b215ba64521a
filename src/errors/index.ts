export {
  TracestreamError, AggregateTracestreamError, isTracestreamError, isInfrastructureFault, describeError,
  type ErrorCode, type TracestreamErrorOptions,
} from './error.js';
export { parseOptions } from './options.js';
