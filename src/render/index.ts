export { renderSnoop } from './snoop.js';
export type { SnoopOptions } from './snoop.js';
export { renderCompact, parseCompact } from './compact.js';
export type { CompactOptions, CompactTrace } from './compact.js';
export { renderJson } from './json.js';
