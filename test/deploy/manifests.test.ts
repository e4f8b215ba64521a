import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { execa } from 'execa';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { RuntimeClass } from 'kubernetes-models/node.k8s.io/v1';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { DEFAULT_TRACE_TOPICS } from '../../src/pipeline/index.js';
import { DEFAULT_SCHEMA_TOPIC } from '../../src/avro/kafka-registry.js';
import { kafkaNodePoolSchema, kafkaSchema, kafkaTopicSchema, kafkaUserSchema, type KafkaTopic, type KafkaUser } from './strimzi-schemas.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const OVERLAYS = join(REPO, 'deploy', 'kustomize', 'overlays');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

/** Every kind the manifests may hold, with the schema that checks it. */
const VALIDATORS: Record<string, (object: Obj) => void> = {
  'v1/ConfigMap': (o) => new ConfigMap(o as never).validate(),
  'v1/Secret': (o) => new Secret(o as never).validate(),
  'v1/Service': (o) => new Service(o as never).validate(),
  'apps/v1/Deployment': (o) => new Deployment(o as never).validate(),
  'apps/v1/StatefulSet': (o) => new StatefulSet(o as never).validate(),
  'policy/v1/PodDisruptionBudget': (o) => new PodDisruptionBudget(o as never).validate(),
  'networking.k8s.io/v1/NetworkPolicy': (o) => new NetworkPolicy(o as never).validate(),
  'node.k8s.io/v1/RuntimeClass': (o) => new RuntimeClass(o as never).validate(),
  'keda.sh/v1alpha1/ScaledObject': (o) => new ScaledObject(o as never).validate(),
  'keda.sh/v1alpha1/TriggerAuthentication': (o) => new TriggerAuthentication(o as never).validate(),
  'kafka.strimzi.io/v1beta2/KafkaTopic': (o) => kafkaTopicSchema.parse(o),
  'kafka.strimzi.io/v1beta2/KafkaUser': (o) => kafkaUserSchema.parse(o),
  'kafka.strimzi.io/v1beta2/Kafka': (o) => kafkaSchema.parse(o),
  'kafka.strimzi.io/v1beta2/KafkaNodePool': (o) => kafkaNodePoolSchema.parse(o),
};

/** What the sandbox needs of an executor pod, and nothing more (see deploy/kustomize/base/trace-topology.yaml). */
const SANDBOX_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'KILL', 'SETGID', 'SETUID', 'SYS_ADMIN'];

async function render(overlay: string): Promise<Obj[]> {
  const result = await execa('kubectl', ['kustomize', join(OVERLAYS, overlay)], { reject: false });
  if ((result as { code?: string }).code === 'ENOENT') {
    throw new Error('kubectl is not installed: the manifests are rendered with `kubectl kustomize` (kubectl >= 1.27). .ci/run installs it with scripts/setup-kubectl.sh');
  }
  assert.equal(result.exitCode, 0, `kubectl kustomize ${overlay} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout).map((doc) => {
    assert.deepEqual(doc.errors, [], `overlay ${overlay} renders valid YAML`);
    return doc.toJS() as Obj;
  }).filter((o) => o !== null);
}

const overlays = readdirSync(OVERLAYS, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();

describe('deploy manifests', () => {
  it('there are dev and prod overlays', () => {
    for (const name of ['dev', 'prod']) assert.ok(overlays.includes(name), `deploy/kustomize/overlays/${name} exists`);
  });

  for (const overlay of overlays) {
    describe(`overlay ${overlay}`, () => {
      let objects: Obj[] = [];
      const ofKind = (kind: string): Obj[] => objects.filter((o) => o.kind === kind);
      const named = (kind: string, name: string): Obj => {
        const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
        assert.ok(found, `${kind} ${name} is in the ${overlay} overlay`);
        return found;
      };
      const workloads = (): Obj[] => [...ofKind('Deployment'), ...ofKind('StatefulSet')];

      before(async () => {
        objects = await render(overlay);
      });

      it('renders with kubectl kustomize, and every object passes its schema', () => {
        assert.ok(objects.length > 0);
        for (const object of objects) {
          const key = `${object.apiVersion}/${object.kind}`;
          const validate = VALIDATORS[key];
          assert.ok(validate, `${key} ${object.metadata?.name} has a schema to check it against (add it to VALIDATORS)`);
          assert.doesNotThrow(() => validate(object), (error: unknown) => `${key} ${object.metadata?.name}: ${String(error)}`);
        }
      });

      it('has a KafkaTopic for every topic, compacted where records are keyed state, sized for the largest event', () => {
        const topics = new Map((ofKind('KafkaTopic') as KafkaTopic[]).map((t) => [t.spec.topicName ?? t.metadata.name, t]));
        // The trainer's own outputs (topologies/train.ts): its metrics and the traces it cannot train on.
        const expected = [...Object.values(DEFAULT_TRACE_TOPICS), 'model-metrics', 'traces.dead-letter', DEFAULT_SCHEMA_TOPIC];
        assert.deepEqual([...topics.keys()].sort(), [...expected].sort());
        for (const compacted of [DEFAULT_TRACE_TOPICS.traces, DEFAULT_SCHEMA_TOPIC]) assert.equal(topics.get(compacted)!.spec.config?.['cleanup.policy'], 'compact', compacted);
        for (const name of Object.values(DEFAULT_TRACE_TOPICS)) {
          assert.equal(Number(topics.get(name)!.spec.config?.['max.message.bytes']), 32 * 1024 * 1024, `${name} takes 32 MiB events (traceTopicSpecs)`);
        }
        for (const topic of topics.values()) {
          const minIsr = Number(topic.spec.config?.['min.insync.replicas'] ?? 1);
          assert.ok(minIsr <= topic.spec.replicas, `${topic.metadata.name}: min.insync.replicas ${minIsr} <= replicas ${topic.spec.replicas}`);
        }
      });

      it('gives each workload a KafkaUser whose ACLs name only topics that exist, and runs it as that user', () => {
        const topicNames = new Set((ofKind('KafkaTopic') as KafkaTopic[]).map((t) => t.spec.topicName ?? t.metadata.name));
        const users = new Map((ofKind('KafkaUser') as KafkaUser[]).map((u) => [u.metadata.name, u]));
        for (const user of users.values()) {
          for (const acl of user.spec.authorization.acls) {
            if (acl.resource.type === 'topic') assert.ok(topicNames.has(acl.resource.name), `${user.metadata.name}: ACL on topic ${acl.resource.name}, which has a KafkaTopic`);
            assert.ok(!acl.operations.includes('All') && !acl.operations.includes('Create') && !acl.operations.includes('Delete'), `${user.metadata.name} may neither create nor delete`);
          }
        }
        const can = (user: string, op: string, topic: string): boolean => users.get(user)!.spec.authorization.acls
          .some((a) => a.resource.type === 'topic' && a.resource.name === topic && a.operations.includes(op as never));
        assert.ok(can('tracestream-trace', 'Read', 'solutions') && can('tracestream-trace', 'Write', 'traces') && !can('tracestream-trace', 'Write', 'solutions'));
        assert.ok(can('tracestream-model', 'Read', 'traces') && !can('tracestream-model', 'Write', 'traces'));
        assert.ok(can('tracestream-model', 'Write', 'model-metrics') && can('tracestream-model', 'Write', 'traces.dead-letter'), 'the trainer writes its metrics and dead letters');
        assert.ok(!['traces', 'diffs', 'solutions'].some((t) => can('tracestream-serve', 'Write', t)), 'serve writes nothing');
        assert.ok(can('tracestream-submit', 'Write', 'solutions') && !can('tracestream-submit', 'Read', 'traces'), 'submitters only submit');
        for (const workload of workloads()) {
          const container = workload.spec.template.spec.containers[0];
          const username = container.env.find((e: Obj) => e.name === 'KAFKA_SASL_USERNAME')?.value;
          assert.ok(users.has(username), `${workload.metadata.name} logs in as a KafkaUser (${username})`);
          const password = container.env.find((e: Obj) => e.name === 'KAFKA_SASL_PASSWORD')?.valueFrom?.secretKeyRef;
          assert.deepEqual(password, { name: username, key: 'password' }, `${workload.metadata.name} takes its password from the Secret Strimzi writes for its user`);
        }
      });

      it('every workload has probes on the telemetry endpoints, requests and limits, a PDB and Prometheus scraping', () => {
        const pdbs = ofKind('PodDisruptionBudget');
        for (const workload of workloads()) {
          const name = workload.metadata.name;
          const pod = workload.spec.template;
          const container = pod.spec.containers[0];
          assert.equal(container.livenessProbe.httpGet.path, '/healthz', `${name} liveness`);
          assert.equal(container.readinessProbe.httpGet.path, '/readyz', `${name} readiness`);
          // The process serves the three endpoints on TRACESTREAM_TELEMETRY_PORT (src/cli/telemetry.ts): probes and scrapes go there.
          const telemetryConfig = ofKind('ConfigMap').find((c) => c.data?.TRACESTREAM_TELEMETRY_PORT !== undefined)!;
          const telemetryPort = Number(telemetryConfig.data.TRACESTREAM_TELEMETRY_PORT);
          assert.ok(container.envFrom?.some((e: Obj) => e.configMapRef?.name === telemetryConfig.metadata.name), `${name} takes TRACESTREAM_TELEMETRY_PORT from ${telemetryConfig.metadata.name}`);
          const portNamed = (port: string | number): number => (typeof port === 'number' ? port : container.ports.find((p: Obj) => p.name === port)?.containerPort);
          for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'].filter((p) => container[p] !== undefined)) {
            assert.equal(portNamed(container[probe].httpGet.port), telemetryPort, `${name}'s ${probe} asks the telemetry port ${telemetryPort}`);
          }
          assert.equal(Number(pod.metadata.annotations['prometheus.io/port']), telemetryPort, `${name} is scraped on the telemetry port`);
          for (const kind of ['requests', 'limits']) {
            assert.ok(container.resources[kind]?.cpu && container.resources[kind]?.memory, `${name} has cpu and memory ${kind}`);
          }
          assert.equal(pod.metadata.annotations['prometheus.io/scrape'], 'true', `${name} is scraped`);
          assert.ok(container.ports.some((p: Obj) => p.containerPort === Number(pod.metadata.annotations['prometheus.io/port'])), `${name} exposes the scraped port`);
          assert.ok(pdbs.some((p) => Object.entries(p.spec.selector.matchLabels).every(([k, v]) => pod.metadata.labels[k] === v)), `${name} has a PodDisruptionBudget`);
          const deadlineMs = Number(container.env.find((e: Obj) => e.name === 'TRACESTREAM_SHUTDOWN_DEADLINE_MS')?.value);
          assert.ok(deadlineMs > 0, `${name} sets its drain deadline`);
          const grace = pod.spec.terminationGracePeriodSeconds;
          assert.ok(grace * 1000 > deadlineMs && grace * 1000 <= deadlineMs + 20_000, `${name}: grace period ${grace}s covers the ${deadlineMs} ms drain with a margin under 20 s`);
          assert.equal(pod.spec.automountServiceAccountToken, false, `${name} gets no API token`);
        }
      });

      it('KEDA scales the trace topology on its group lag, never beyond the partitions of solutions', () => {
        const scaled = named('ScaledObject', 'trace-topology');
        assert.equal(scaled.spec.scaleTargetRef.name, 'trace-topology');
        named('Deployment', 'trace-topology');
        const trigger = scaled.spec.triggers.find((t: Obj) => t.type === 'kafka');
        assert.equal(trigger.metadata.consumerGroup, 'tracestream-trace');
        const topic = (ofKind('KafkaTopic') as KafkaTopic[]).find((t) => (t.spec.topicName ?? t.metadata.name) === trigger.metadata.topic)!;
        assert.ok(scaled.spec.maxReplicaCount <= topic.spec.partitions, `maxReplicaCount ${scaled.spec.maxReplicaCount} <= ${topic.spec.partitions} partitions`);
        const auth = named('TriggerAuthentication', trigger.metadata.authenticationRef?.name ?? scaled.spec.triggers[0].authenticationRef.name);
        assert.ok(auth.spec.secretTargetRef.some((r: Obj) => r.parameter === 'password'));
      });

      it('a Kafka cluster it brings (dev) has the listener, authentication and authorization the base expects', () => {
        const clusters = ofKind('Kafka');
        if (overlay === 'dev') assert.equal(clusters.length, 1, 'dev brings its own Kafka cluster');
        for (const kafka of clusters) {
          assert.equal(kafka.metadata.name, 'tracestream', 'the cluster the KafkaTopics and KafkaUsers name');
          const config = named('ConfigMap', 'tracestream-config').data;
          const port = Number(config.KAFKA_BROKERS.split(':')[1]);
          const listener = kafka.spec.kafka.listeners.find((l: Obj) => l.port === port);
          assert.ok(listener?.tls && listener.authentication.type === 'scram-sha-512', 'the brokers the workloads use speak TLS with SCRAM logins');
          assert.equal(kafka.spec.kafka.authorization.type, 'simple', 'KafkaUser ACLs are enforced');
          const pools = ofKind('KafkaNodePool');
          const brokers = pools.filter((p) => p.spec.roles.includes('broker')).reduce((n, p) => n + p.spec.replicas, 0);
          for (const topic of ofKind('KafkaTopic') as KafkaTopic[]) assert.ok(topic.spec.replicas <= brokers, `${topic.metadata.name}: ${topic.spec.replicas} replicas on ${brokers} broker(s)`);
        }
      });

      it('runs the model consumer as a StatefulSet with a checkpoint volume, and serve behind a Service with its token from a Secret', () => {
        const trainer = named('StatefulSet', 'model-trainer');
        assert.equal(trainer.spec.volumeClaimTemplates[0].metadata.name, 'checkpoints');
        const container = trainer.spec.template.spec.containers[0];
        assert.ok(container.volumeMounts.some((m: Obj) => m.name === 'checkpoints'));
        assert.ok(container.args.includes('--checkpoint'));
        if (overlay.startsWith('prod')) {
          assert.equal(container.resources.limits['nvidia.com/gpu'], '1', 'prod trains on a GPU');
          assert.ok(trainer.spec.template.spec.tolerations.some((t: Obj) => t.key === 'nvidia.com/gpu'), 'and tolerates GPU nodes\' taint');
        }
        const serve = named('Deployment', 'serve');
        const service = named('Service', 'serve');
        assert.deepEqual(service.spec.selector, serve.spec.selector.matchLabels);
        const token = serve.spec.template.spec.containers[0].env.find((e: Obj) => e.name === 'TRACESTREAM_SERVE_TOKEN');
        assert.ok(token.valueFrom.secretKeyRef, 'the token comes from a Secret, never a literal');
      });

      it('every pod that runs untrusted code has exactly the sandbox\'s privileges, a read-only root and a writable /tmp, and may reach only Kafka', () => {
        const untrusted = workloads().filter((w) => w.spec.template.metadata.labels['tracestream.dev/runs-untrusted-code'] === 'true');
        assert.ok(untrusted.some((w) => w.metadata.name === 'trace-topology'), 'the trace topology is marked as running untrusted code');
        for (const workload of untrusted) {
          const name = workload.metadata.name;
          const pod = workload.spec.template.spec;
          const gvisor = pod.runtimeClassName === 'gvisor';
          if (gvisor) named('RuntimeClass', 'gvisor');
          else assert.equal(pod.hostUsers, false, `${name}: container root is not node root (user namespace)`);
          assert.equal(pod.automountServiceAccountToken, false);
          assert.equal(pod.enableServiceLinks, false);
          assert.equal(pod.hostNetwork ?? false, false);
          assert.equal(pod.hostPID ?? false, false);
          assert.equal(pod.hostIPC ?? false, false);
          for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
            const sc = container.securityContext;
            assert.equal(sc.privileged, false, `${name}/${container.name} is not privileged`);
            assert.deepEqual(sc.capabilities.drop, ['ALL']);
            assert.deepEqual([...sc.capabilities.add].sort(), SANDBOX_CAPABILITIES, `${name}/${container.name} adds only what the sandbox needs`);
            assert.equal((sc.seccompProfile ?? pod.securityContext.seccompProfile).type, 'RuntimeDefault');
            assert.equal(sc.readOnlyRootFilesystem, true);
            if (!gvisor) assert.equal(sc.procMount, 'Unmasked', 'a box mounts its own /proc');
            const tmp = container.volumeMounts.find((m: Obj) => m.mountPath === '/tmp');
            assert.ok(tmp, `${name}/${container.name} writes run dirs to /tmp`);
            const volume = pod.volumes.find((v: Obj) => v.name === tmp.name);
            assert.ok(volume.emptyDir?.sizeLimit, 'an emptyDir with a size limit');
            const locks = container.volumeMounts.find((m: Obj) => m.mountPath === '/run/lock');
            assert.ok(locks && pod.volumes.find((v: Obj) => v.name === locks.name).emptyDir, `${name}/${container.name}: slots claim their uids with lock files in a writable /run/lock`);
          }
          const policies = ofKind('NetworkPolicy').filter((p) => Object.entries(p.spec.podSelector.matchLabels ?? {}).every(([k, v]) => workload.spec.template.metadata.labels[k] === v));
          assert.equal(policies.length, 1, `${name} has one NetworkPolicy`);
          const policy = policies[0]!;
          assert.ok(policy.spec.policyTypes.includes('Egress'));
          for (const rule of policy.spec.egress) {
            const peer = rule.to[0];
            const kafka = peer.podSelector?.matchLabels?.['strimzi.io/kind'] === 'Kafka' && peer.podSelector.matchLabels['strimzi.io/broker-role'] === 'true';
            const dns = peer.podSelector?.matchLabels?.['k8s-app'] === 'kube-dns' && rule.ports.every((p: Obj) => p.port === 53);
            assert.ok(rule.to.length === 1 && (kafka || dns), `${name}: egress only to the Kafka brokers and DNS, got ${JSON.stringify(rule)}`);
          }
        }
      });
    });
  }
});
