// One `simtrust up --demo` and one Chromium per console test file (console-groups, -import, -sam,
// -operations): the demo's URL and root login read from its screen, root's API token for setting
// things up beside the browser, and the sign-in steps of the console page.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { loginToken, startDemo } from '../helpers/cli.js';
import { ensureConsoleBuilt } from './console-browser.js';
import { launchChromium } from './gateway-browser.js';

export interface ConsoleDemo {
  readonly base: string;
  readonly email: string;
  readonly password: string;
  readonly operatorId: string;
  readonly screen: string;
  readonly browser: Browser;
  /** A /v1 call as root (bearer token), its JSON answer; throws on a non-2xx answer. */
  // biome-ignore lint/suspicious/noExplicitAny: answers of every route, read field by field in tests
  call(method: string, path: string, body?: unknown): Promise<any>;
  stop(): Promise<void>;
}

export async function startConsoleDemo(): Promise<ConsoleDemo> {
  ensureConsoleBuilt();
  const demo = await startDemo(mkdtempSync(join(tmpdir(), 'console-demo-')));
  const base = /Console\s+(http:\/\/\S+)\/console\//.exec(demo.screen)![1]!;
  const [, email, password] = /Demo login\s+(\S+) \/ (\S+)/.exec(demo.screen)! as unknown as [
    string,
    string,
    string,
  ];
  const token = await loginToken(base, email, password);
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  const operatorId = (await call('GET', '/v1/auth/session')).operatorId as string;
  const browser = await launchChromium();
  return {
    base,
    email,
    password,
    operatorId,
    screen: demo.screen,
    browser,
    call,
    stop: async () => {
      await browser.close();
      await demo.stop();
    },
  };
}

/** Signs root in on the console's sign-in page (no MFA) and waits for `landing` (a heading). */
export async function signInRoot(
  page: Page,
  demo: ConsoleDemo,
  path: string,
  landing: string,
): Promise<void> {
  await page.goto(`${demo.base}/console${path}`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Email', { exact: true }).fill(demo.email);
  await page.getByLabel('Password', { exact: true }).fill(demo.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: landing, exact: true }).waitFor();
}

/** Signs a SAM user in (Japanese or English labels follow the page's language). */
export async function signInUser(
  page: Page,
  demo: ConsoleDemo,
  userName: string,
  password: string,
  path: string,
  landing: string,
): Promise<void> {
  await page.goto(`${demo.base}/console${path}`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('SAM user').check();
  await page.getByLabel('Operator ID').fill(demo.operatorId);
  await page.getByLabel('User name').fill(userName);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: landing, exact: true }).waitFor();
}
