/**
 * Debian's Chromium driven by playwright-core for the report's browser tests: never a downloaded
 * browser (.ci/run installs the `chromium` package when /usr/bin/chromium is missing), a fresh
 * profile per launch, and every network feature that would call out switched off. The page is
 * opened from file://; any request that is not for that file is recorded, and the tests say none
 * was made.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots are kept here (gitignored); CI keeps the folder as the tests' artefacts. */
export const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'viewer');

export interface Session {
  context: BrowserContext;
  page: Page;
  consoleErrors: string[];
  requests: string[];
  close(): Promise<void>;
}

export async function openPage(file: string, width = 1600, height = 1000): Promise<Session> {
  const profile = mkdtempSync(join(tmpdir(), 'irqlab-chromium-'));
  // A fresh profile (--user-data-dir, which playwright passes for a persistent context).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width, height },
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
  const page = context.pages()[0] ?? (await context.newPage());
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
  mkdirSync(ARTIFACTS, { recursive: true });
  return {
    context,
    page,
    consoleErrors,
    requests,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
