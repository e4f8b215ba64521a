/** How processes and topologies start, stop and drain: signal handling and ordered teardowns. */
export { installShutdown, runTeardowns, type ShutdownHandle, type ShutdownOptions, type Teardown } from './shutdown.js';
export { startTopology, type RunningTopology, type TopologyScope } from './topology.js';
