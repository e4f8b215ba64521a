// The live page is plain HTML/CSS/JS served from the package: tsc does not copy it, so the build does.
import { cpSync, mkdirSync } from 'node:fs';
mkdirSync('dist/src/live/page', { recursive: true });
cpSync('src/live/page', 'dist/src/live/page', { recursive: true });
