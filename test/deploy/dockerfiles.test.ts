import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

/**
 * What can be checked of the images without a Docker engine (none on these machines): the
 * Dockerfiles are read as Docker reads them (continuation lines joined, comment lines dropped,
 * stages split at FROM, ARG defaults substituted into FROM) and their promises checked against
 * the repository. Whether each RUN succeeds can only be known by building.
 */
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const DOCKER = join(REPO, 'deploy', 'docker');

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  name: string | undefined;
  base: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    // Comment lines are dropped, also inside a continued instruction (Docker does the same).
    if (/^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    if (current.trim() !== '') logical.push(current.trim());
    current = '';
  }
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args: rest };
    if (instruction.keyword === 'ARG' && stages.length === 0) {
      const [name, value] = rest.split('=', 2);
      args.set(name!.trim(), (value ?? '').trim());
    } else if (instruction.keyword === 'FROM') {
      const [, image = '', name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest) ?? [];
      stages.push({ name, base: image.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => args.get((a ?? b)!) ?? ''), instructions: [] });
    } else {
      assert.ok(stages.length > 0, `${keyword} before the first FROM`);
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { args, stages };
}

/** The sources and destination of a COPY (flags such as --from= left out), and its --from stage. */
function copyOf(instruction: Instruction): { from: string | undefined; sources: string[]; destination: string } {
  const words = instruction.args.split(/\s+/).filter((w) => w !== '');
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
  const paths = words.filter((w) => !w.startsWith('--'));
  return { from, sources: paths.slice(0, -1), destination: paths.at(-1)! };
}

const ignored = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));

const dockerfiles = readdirSync(DOCKER).filter((f) => f.endsWith('.Dockerfile')).sort();

describe('deploy/docker images, checked without building them', () => {
  it('there is a topology image and a GPU trainer image', () => {
    assert.deepEqual(dockerfiles, ['topology.Dockerfile', 'trainer.Dockerfile']);
  });

  for (const file of dockerfiles) {
    describe(file, () => {
      const { stages } = parseDockerfile(readFileSync(join(DOCKER, file), 'utf8'));
      const final = stages.at(-1)!;
      const runs = (stage: Stage): string[] => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);

      it('every COPY from the build context names a file or folder the repository has, not left out by .dockerignore', () => {
        for (const stage of stages) {
          for (const instruction of stage.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')) {
            const copy = copyOf(instruction);
            if (copy.from !== undefined) {
              assert.ok(stages.some((s) => s.name === copy.from) || copy.from.includes('/') || copy.from.includes(':'), `COPY --from=${copy.from} names a stage of ${file}`);
              continue;
            }
            for (const source of copy.sources) {
              assert.ok(existsSync(join(REPO, source)), `${file}: COPY ${source}: the repository has no ${source}`);
              const top = source.replace(/^\.\//, '').split('/')[0]!;
              assert.ok(!ignored.includes(top) && !ignored.includes(source), `${file}: COPY ${source} is excluded by .dockerignore`);
            }
          }
        }
      });

      it('the final stage runs as a non-root USER', () => {
        const users = final.instructions.filter((i) => i.keyword === 'USER').map((i) => i.args.split(':')[0]!.trim());
        assert.ok(users.length > 0, `${file}: the final stage sets a USER`);
        const user = users.at(-1)!;
        assert.ok(user !== 'root' && user !== '0', `${file}: the final stage runs as ${user}`);
        // The uid it names exists in the image (useradd in the final stage), so files and $HOME resolve.
        if (/^\d+$/.test(user)) assert.ok(runs(final).some((r) => new RegExp(`useradd[^&]*--uid ${user}\\b`).test(r)), `${file}: uid ${user} is created in the final stage`);
      });

      it('the final stage holds no dev dependencies: node_modules comes from a stage that pruned them, and nothing installs them later', () => {
        for (const run of runs(final)) {
          assert.ok(!/\bnpm (ci|install|i)\b/.test(run) || /--omit=dev/.test(run), `${file}: the final stage runs "${run}"`);
        }
        const copies = final.instructions.filter((i) => i.keyword === 'COPY').map(copyOf).filter((c) => c.sources.some((s) => /node_modules$/.test(s)));
        assert.ok(copies.length > 0, `${file}: the final stage copies node_modules from a build stage`);
        for (const copy of copies) {
          const from = stages.find((s) => s.name === copy.from);
          assert.ok(from !== undefined, `${file}: node_modules comes from a stage of this file (${copy.from})`);
          const fromRuns = runs(from).join(' && ');
          const lastInstall = Math.max(fromRuns.lastIndexOf('npm ci'), fromRuns.lastIndexOf('npm install'));
          const prune = fromRuns.search(/npm (prune|ci)[^&]*--omit=dev/);
          assert.ok(prune !== -1 && fromRuns.slice(lastInstall).includes('--omit=dev'), `${file}: stage ${copy.from} drops dev dependencies (npm prune --omit=dev) after its last install`);
        }
      });

      it('installs system packages with scripts/setup-system.sh (runtime packages only in the final stage), as the README does', () => {
        const script = readFileSync(join(REPO, 'scripts', 'setup-system.sh'), 'utf8');
        assert.match(script, /--runtime\)/, 'setup-system.sh has a --runtime mode');
        for (const stage of stages.filter((s) => s.instructions.some((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args)))) {
          assert.ok(runs(stage).some((r) => /setup-system\.sh(?!\s+--runtime)/.test(r)), `${file}: stage ${stage.name ?? '(final)'} runs setup-system.sh before npm ci`);
        }
        assert.ok(runs(final).some((r) => /setup-system\.sh --runtime/.test(r)), `${file}: the final stage runs setup-system.sh --runtime`);
        assert.ok(!runs(final).some((r) => /apt-get install/.test(r)), `${file}: the final stage installs packages only through setup-system.sh`);
      });
    });
  }

  it('the GPU trainer is built on a CUDA 11.2 + cuDNN 8 base, what @tensorflow/tfjs-node-gpu 4.x binds (TensorFlow 2.9: CUDA 11.2, cuDNN 8.1), and the README says so', () => {
    const { stages } = parseDockerfile(readFileSync(join(DOCKER, 'trainer.Dockerfile'), 'utf8'));
    const final = stages.at(-1)!;
    // NVIDIA's 11.2.2-cudnn8 images carry cuDNN 8.1.1, the only cuDNN 8 built for CUDA 11.2 there.
    assert.match(final.base, /^nvidia\/cuda:11\.2(\.\d+)?-cudnn8-(runtime|devel)-ubuntu\d+\.\d+$/, `the trainer's base image: ${final.base}`);
    for (const stage of stages.filter((s) => s.instructions.some((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args)))) {
      assert.equal(stage.base, final.base, `stage ${stage.name ?? ''} builds the native addons on the runtime's own base`);
    }
    const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; optional?: boolean }> };
    const gpu = lock.packages['node_modules/@tensorflow/tfjs-node-gpu'];
    assert.ok(gpu !== undefined, 'the lockfile pins @tensorflow/tfjs-node-gpu');
    assert.match(gpu.version ?? '', /^4\./, 'tfjs-node-gpu 4.x (libtensorflow 2.9)');
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    assert.match(readme, new RegExp(`@tensorflow/tfjs-node-gpu\`? ${gpu.version!.replace(/\.\d+$/, '').replace('.', '\\.')}[\\s\\S]{0,200}CUDA 11\\.2 and cuDNN 8\\.1`), 'the README names the CUDA and cuDNN versions tfjs-node-gpu binds');
    assert.match(readFileSync(join(REPO, 'deploy', 'README.md'), 'utf8'), /CUDA 11\.2 \/ cuDNN 8\.1/);
  });

  it('.ci/run installs or checks kubectl (with kustomize) before the tests, and fails saying so when it cannot', () => {
    const ci = readFileSync(join(REPO, '.ci', 'run'), 'utf8').split('\n').filter((l) => !l.trim().startsWith('#'));
    const kubectl = ci.findIndex((l) => /scripts\/setup-kubectl\.sh/.test(l));
    const tests = ci.findIndex((l) => /\bnpm test\b/.test(l));
    assert.ok(kubectl !== -1 && tests !== -1 && kubectl < tests, '.ci/run runs scripts/setup-kubectl.sh before npm test');
    assert.match(ci.join('\n'), /set -euo pipefail/, 'a failed setup stops .ci/run');
    const setup = readFileSync(join(REPO, 'scripts', 'setup-kubectl.sh'), 'utf8');
    assert.match(setup, /kubectl kustomize --help/, 'it checks that kubectl has kustomize built in');
    assert.match(setup, /need_minor=\d+/, 'it checks the kubectl version');
    assert.match(setup, /\n\s*exit 1\s*$/, 'it ends with exit 1 when no usable kubectl could be had');
  });
});
