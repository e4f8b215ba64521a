import { z } from 'zod';

/**
 * The fields of Strimzi's KafkaTopic and KafkaUser (kafka.strimzi.io/v1beta2) our manifests use,
 * as Strimzi's API reference documents them. Objects are strict: a misspelt field fails here
 * instead of being ignored by the operator.
 */
const metadata = z.object({
  name: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a Kubernetes name: lowercase letters, digits, "-" and "."'),
  namespace: z.string().optional(),
  labels: z.record(z.string(), z.string()).refine((l) => typeof l['strimzi.io/cluster'] === 'string', 'labels need strimzi.io/cluster (the Kafka cluster the operator manages it in)'),
  annotations: z.record(z.string(), z.string()).optional(),
}).strict();

export const kafkaTopicSchema = z.object({
  apiVersion: z.literal('kafka.strimzi.io/v1beta2'),
  kind: z.literal('KafkaTopic'),
  metadata,
  spec: z.object({
    topicName: z.string().min(1).max(249).regex(/^[a-zA-Z0-9._-]+$/).optional(),
    partitions: z.number().int().min(1),
    replicas: z.number().int().min(1).max(32_767),
    config: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  }).strict(),
}).strict();

const aclOperation = z.enum(['Read', 'Write', 'Create', 'Delete', 'Alter', 'Describe', 'ClusterAction', 'AlterConfigs', 'DescribeConfigs', 'IdempotentWrite', 'All']);
const aclResource = z.discriminatedUnion('type', [
  z.object({ type: z.literal('topic'), name: z.string().min(1), patternType: z.enum(['literal', 'prefix']).default('literal') }).strict(),
  z.object({ type: z.literal('group'), name: z.string().min(1), patternType: z.enum(['literal', 'prefix']).default('literal') }).strict(),
  z.object({ type: z.literal('transactionalId'), name: z.string().min(1), patternType: z.enum(['literal', 'prefix']).default('literal') }).strict(),
  z.object({ type: z.literal('cluster') }).strict(),
]);

export const kafkaUserSchema = z.object({
  apiVersion: z.literal('kafka.strimzi.io/v1beta2'),
  kind: z.literal('KafkaUser'),
  metadata,
  spec: z.object({
    authentication: z.object({ type: z.enum(['tls', 'tls-external', 'scram-sha-512']) }).strict(),
    authorization: z.object({
      type: z.literal('simple'),
      acls: z.array(z.object({
        resource: aclResource,
        operations: z.array(aclOperation).min(1),
        host: z.string().optional(),
        type: z.enum(['allow', 'deny']).optional(),
      }).strict()).min(1),
    }).strict(),
  }).strict(),
}).strict();

export type KafkaTopic = z.output<typeof kafkaTopicSchema>;
export type KafkaUser = z.output<typeof kafkaUserSchema>;

const clusterMetadata = z.object({
  name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/),
  namespace: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
}).strict();

const persistentVolume = z.object({
  id: z.number().int().nonnegative(),
  type: z.literal('persistent-claim'),
  size: z.string().regex(/^\d+(Ki|Mi|Gi|Ti)$/),
  class: z.string().optional(),
  deleteClaim: z.boolean().optional(),
  kraftMetadata: z.literal('shared').optional(),
}).strict();

export const kafkaNodePoolSchema = z.object({
  apiVersion: z.literal('kafka.strimzi.io/v1beta2'),
  kind: z.literal('KafkaNodePool'),
  metadata,
  spec: z.object({
    replicas: z.number().int().min(1),
    roles: z.array(z.enum(['controller', 'broker'])).min(1),
    storage: z.object({ type: z.literal('jbod'), volumes: z.array(persistentVolume).min(1) }).strict(),
  }).strict(),
}).strict();

export const kafkaSchema = z.object({
  apiVersion: z.literal('kafka.strimzi.io/v1beta2'),
  kind: z.literal('Kafka'),
  metadata: clusterMetadata,
  spec: z.object({
    kafka: z.object({
      version: z.string().regex(/^\d+\.\d+\.\d+$/),
      listeners: z.array(z.object({
        name: z.string().regex(/^[a-z0-9]{1,11}$/),
        port: z.number().int().min(9092),
        type: z.enum(['internal', 'route', 'loadbalancer', 'nodeport', 'ingress', 'cluster-ip']),
        tls: z.boolean(),
        authentication: z.object({ type: z.enum(['tls', 'scram-sha-512', 'oauth', 'custom']) }).strict().optional(),
      }).strict()).min(1),
      authorization: z.object({ type: z.enum(['simple', 'keycloak', 'opa', 'custom']) }).strict().optional(),
      config: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    }).strict(),
    entityOperator: z.object({ topicOperator: z.object({}).strict().optional(), userOperator: z.object({}).strict().optional() }).strict().optional(),
  }).strict(),
}).strict();
