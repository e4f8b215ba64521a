import { readFile } from 'node:fs/promises';

export interface PageAsset {
  contentType: string;
  body: Buffer;
}

export interface Page {
  /** By URL path (`/index.html`, `/page.js`, `/page.css`). */
  assets: ReadonlyMap<string, PageAsset>;
  /** Headers for the page's responses. */
  headers: Readonly<Record<string, string>>;
}

const PAGE_DIR = new URL('./page/', import.meta.url);

const ASSETS: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'page.js': 'text/javascript; charset=utf-8',
  'page.css': 'text/css; charset=utf-8',
};

/**
 * The page's files, plain HTML/CSS/JS shipped in the package (the build copies src/live/page), read
 * once. The content security policy allows only the page's own script and style and connections
 * back to this server: even if a program's output slipped into the markup, it could not run.
 */
export async function loadPage(): Promise<Page> {
  const assets = new Map<string, PageAsset>();
  for (const [name, contentType] of Object.entries(ASSETS)) {
    assets.set(`/${name}`, { contentType, body: await readFile(new URL(name, PAGE_DIR)) });
  }
  return {
    assets,
    headers: {
      'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    },
  };
}
