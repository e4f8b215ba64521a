/**
 * Kafka, grouped by client: client/ (shared config and records), consumer/ (the consumer base and
 * the at-least-once source), producer/, processor/ (at-least-once and exactly-once), admin/, and
 * broker/ (the embedded mock cluster).
 */
export * from './client/index.js';
export * from './consumer/index.js';
export * from './producer/index.js';
export * from './processor/index.js';
export * from './admin/index.js';
export * from './broker/index.js';
