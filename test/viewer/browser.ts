/**
 * Debian's Chromium driven by playwright-core for the report's browser tests: never a downloaded
 * browser (.ci/run installs the `chromium` package when /usr/bin/chromium is missing), a fresh
 * profile per launch, and the features that would call out on their own switched off. Pages are
 * opened from file://; any request that is not for the page's own file is recorded, and so is
 * every console error and uncaught exception, for the tests to say there were none.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots are kept here (gitignored), as the tests' artefacts. */
export const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'viewer');

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launch(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'irqlab-chromium-'));
  // A persistent context is how playwright takes a fresh --user-data-dir.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1600, height: 1000 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  mkdirSync(ARTIFACTS, { recursive: true });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface Opened {
  page: Page;
  consoleErrors: string[];
  /** Requests for anything but the page's own file. */
  requests: string[];
}

export async function open(b: Browser, file: string): Promise<Opened> {
  const page = await b.context.newPage();
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  const url = pathToFileURL(file).href;
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('request', (r) => {
    if (r.url() !== url) requests.push(r.url());
  });
  await page.goto(url);
  return { page, consoleErrors, requests };
}
