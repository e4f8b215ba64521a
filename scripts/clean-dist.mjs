// tsc never deletes: a test or module moved or removed would otherwise still run from dist/.
import { rmSync } from 'node:fs';
rmSync('dist', { recursive: true, force: true });
