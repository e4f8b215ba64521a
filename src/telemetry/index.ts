/**
 * Health and metrics of long-running processes: one HTTP server (`/healthz`, `/readyz`,
 * `/metrics`) per process, a prom-client registry others register their metrics in, and the
 * metrics every topology shares.
 */
export { startTelemetryServer, type TelemetryServer, type TelemetryServerOptions, type Readiness, type ReadinessCheck } from './server.js';
export { createMetricsRegistry, topologyMetrics, deadLetterReason, type TopologyMetrics } from './metrics.js';
