/** Cluster administration: topics made as asked (or auto-created where the cluster cannot). */
export { ensureTopics, type TopicSpec, type EnsureTopicsOptions, type EnsuredTopic } from './ensure-topics.js';
