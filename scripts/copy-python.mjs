// The tracer is Python shipped inside the package: tsc does not copy it, so the build does.
import { cpSync, mkdirSync } from 'node:fs';
mkdirSync('dist/src/executor/python', { recursive: true });
cpSync('src/executor/python', 'dist/src/executor/python', {
  recursive: true,
  filter: (path) => !path.includes('__pycache__'),
});
