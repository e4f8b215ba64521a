import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderDatasetCard } from './card.js';
import type { DatasetFile, DatasetManifest } from './manifest.js';
import { FORMAT_EXTENSIONS, type StagedShard } from './shards.js';
import { SPLITS } from './splits.js';

/** The dataset's own file names: `data/<split>-NNNNN-of-MMMMM.<ext>`, the Hugging Face Hub's layout. */
const DATA_FILE = new RegExp(`^(${SPLITS.join('|')})-\\d{5}-of-\\d{5}\\.(${Object.values(FORMAT_EXTENSIONS).map((e) => e.replace(/\./g, '\\.')).join('|')})$`);

/**
 * Moves staged shards to their final names (now that each split's shard count is known), hashes
 * them, and writes README.md and then manifest.json, which comes last: a dataset directory with a
 * manifest is complete. Data files of an earlier replay into the same directory that this one did
 * not write again are removed, so the directory holds exactly what the manifest lists.
 */
export async function publishDataset(outDir: string, staged: readonly StagedShard[], manifest: Omit<DatasetManifest, 'files'>): Promise<DatasetManifest> {
  const dataDir = join(outDir, 'data');
  await mkdir(dataDir, { recursive: true });
  const files: DatasetFile[] = [];
  for (const split of SPLITS) {
    const ofSplit = staged.filter((shard) => shard.split === split);
    const count = new Set(ofSplit.map((shard) => shard.index)).size;
    for (const shard of ofSplit) {
      const name = `${split}-${pad(shard.index)}-of-${pad(count)}.${FORMAT_EXTENSIONS[shard.format]}`;
      const path = join(dataDir, name);
      await rename(shard.path, path);
      files.push({
        path: `data/${name}`, split, format: shard.format, rows: shard.rows, steps: shard.steps,
        bytes: (await stat(path)).size, sha256: await sha256Of(path),
      });
    }
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const written = new Set(files.map((file) => file.path.slice('data/'.length)));
  for (const name of await readdir(dataDir)) {
    if (DATA_FILE.test(name) && !written.has(name)) await rm(join(dataDir, name), { force: true });
  }
  const complete: DatasetManifest = { ...manifest, files };
  await writeAtomically(join(outDir, 'README.md'), renderDatasetCard(complete));
  await writeAtomically(join(outDir, 'manifest.json'), `${JSON.stringify(complete, null, 2)}\n`);
  return complete;
}

export async function writeAtomically(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

function pad(n: number): string {
  return String(n).padStart(5, '0');
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
