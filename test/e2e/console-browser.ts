// The console's browser tests: Debian's Chromium (gateway-browser.ts), the console build, axe-core in
// the page, screenshots at desktop and phone size (git-ignored .tmp/console-screenshots/), and a
// record of console errors and failed requests that a test expects to stay empty.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';

export const SCREENSHOTS = join('.tmp', 'console-screenshots');
export const VIEWPORTS = {
  desktop: { width: 1440, height: 900 },
  phone: { width: 390, height: 844 },
} as const;
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Builds web/ once when there is no build yet (npm ci builds it through `prepare`). */
export function ensureConsoleBuilt(): void {
  if (existsSync('web/dist/index.html')) return;
  execFileSync(
    process.execPath,
    ['node_modules/vite/bin/vite.js', 'build', '--config', 'web/vite.config.ts'],
    {
      stdio: 'ignore',
    },
  );
}

export interface Watched {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Console errors and failed requests not declared expected. */
  readonly problems: string[];
  /** Answers with these statuses on URLs containing the text are expected (sign-in steps, a forged call). */
  expect(status: number, urlPart: string): void;
}

/**
 * The SIM page asks every SIM for its anti-theft applet; a SIM without one answers GET
 * /v1/sims/{id}/anti_theft with 409 ERR_ANTI_THEFT_NOT_PROVISIONED, which the page reads as "no
 * panel". That answer (and only that one: GET, that path) is no failure.
 */
const noApplet = (r: Response) =>
  r.status() === 409 &&
  r.request().method() === 'GET' &&
  /\/v1\/sims\/[^/?]+\/anti_theft$/.test(new URL(r.url()).pathname);

export async function watchedPage(browser: Browser, locale = 'en-US'): Promise<Watched> {
  const context = await browser.newContext({ viewport: VIEWPORTS.desktop, locale });
  const page = await context.newPage();
  const problems: string[] = [];
  const expected: Array<{ status: number; urlPart: string }> = [];
  const isExpected = (status: number, url: string) =>
    expected.some((e) => e.status === status && url.includes(e.urlPart));
  page.on('requestfailed', (r) => {
    // A poll cut short by navigation is not a failure of the console.
    if (r.failure()?.errorText !== 'net::ERR_ABORTED')
      problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !isExpected(r.status(), r.url()) && !noApplet(r))
      problems.push(`HTTP ${r.status()} ${r.url()}`);
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Chromium logs every 4xx fetch; those are judged by their response above. So is a 5xx the test
    // declared expected (the log line names the resource in its location, not in its text).
    const failed = /Failed to load resource: the server responded with a status of (\d{3})/.exec(m.text());
    if (failed && (failed[1]?.startsWith('4') || isExpected(Number(failed[1]), m.location().url))) return;
    problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return { page, context, problems, expect: (status, urlPart) => expected.push({ status, urlPart }) };
}

/** axe-core's serious and critical violations on the page as it is now. */
export async function axeViolations(page: Page): Promise<string[]> {
  // evaluate() runs over the DevTools protocol: the page's CSP (no inline script) stays in force.
  await page.evaluate(AXE);
  // A string, not a function: this file is type-checked without the DOM library.
  const violations = (await page.evaluate(
    `axe.run(document).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => JSON.stringify(n.target)) })))`,
  )) as Array<{ id: string; impact: string; targets: string[] }>;
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.targets.join(', ')}`);
}

/** A screenshot of the page at desktop and phone size. */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const [size, viewport] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${size}.png`), fullPage: true });
  }
  await page.setViewportSize(VIEWPORTS.desktop);
}
