/**
 * The report as one self-contained HTML file: the page's script and style, bundled at build time
 * (scripts/build.mjs writes dist/viewer/), and the report's data, all inlined, so the file opens
 * from file:// with no server and no network. docs/decisions/0191-report-page-build.md.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import type { ReportData } from './data.ts';
import { packageRoot } from './variant-sources.ts';

/** The page's bundled script and style, from the build. */
export function pageAssets(): { js: string; css: string } {
  const dir = join(packageRoot(), 'dist', 'viewer');
  const js = join(dir, 'page.js');
  const css = join(dir, 'page.css');
  if (!existsSync(js) || !existsSync(css))
    throw new UserError(`${dir}: the report page is not built (run npm run build, or npm install)`);
  staleWarning(join(packageRoot(), 'viewer'), statSync(js).mtimeMs);
  return { js: readFileSync(js, 'utf8'), css: readFileSync(css, 'utf8') };
}

/** In a checkout, says once on stderr when the page's sources are newer than its build. */
function staleWarning(src: string, built: number): void {
  if (!existsSync(src)) return;
  const newer = readdirSync(src).some((f) => statSync(join(src, f)).mtimeMs > built);
  if (newer)
    process.stderr.write('irqlab: viewer/ is newer than dist/viewer (npm run build rebuilds the page)\n');
}

/** Text that cannot end the element it is inlined in ("</script" and "<!--" inside a script). */
function inline(s: string): string {
  return s.replace(/<\/(script|style)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

export function reportHtml(data: ReportData, assets = pageAssets()): string {
  // In JSON, "<" can always be written \u003c: the data can then hold any text.
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  const title = `irqlab report · ${data.command}`.replace(/[<&]/g, (c) => (c === '<' ? '&lt;' : '&amp;'));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${title}</title>
<style>${inline(assets.css)}</style>
</head>
<body>
<div id="app"></div>
<script type="application/json" id="irqlab-data">${json}</script>
<script>${inline(assets.js)}</script>
</body>
</html>
`;
}
