// `npm start` = `simtrust up --demo`: embedded SQLite, a demo operator, 50 demo SIMs in two groups
// (and the demo eUICC with its two profiles, docs/esim.md),
// the API up, one screen of what to try next; Ctrl-C stops cleanly; a second start reuses the data.

import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_EUICC_SIMS } from '../../src/cli/demo-fleet.js';
import { SimtrustClient } from '../../src/sdk/client.js';
import { startDemo } from '../helpers/cli.js';

describe('simtrust up --demo', () => {
  it('starts with demo data, prints what to try next, stops on Ctrl-C, and restarts on the same data', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'simtrust-demo-'));
    const first = await startDemo(cwd);
    const url = /API docs\s+(http:\/\/[\d.:]+)\/docs/.exec(first.screen)?.[1] as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(first.screen).toContain('demo@simtrust.local / simtrust-demo-password');
    expect(first.screen).toContain('npx simtrust sims list');

    const session = await new SimtrustClient({ endpoint: url }).auth(
      'demo@simtrust.local',
      'simtrust-demo-password',
    );
    const client = new SimtrustClient({ endpoint: url, token: session.token });
    const sims: unknown[] = [];
    for await (const page of client.pages('/v1/sims')) sims.push(...page);
    expect(sims).toHaveLength(50 + DEMO_EUICC_SIMS);
    const groups = await client.request<Array<{ tags: Record<string, string> }>>('GET', '/v1/groups');
    expect(groups.map((g) => g.tags.name).sort()).toEqual(['demo-sensors', 'demo-trackers']);
    expect((await fetch(`${url}/docs/`)).status).toBe(200);

    const stopped = await first.stop();
    expect(stopped.code).toBe(0);
    expect(stopped.out).toContain('stopped.');
    expect(existsSync(join(cwd, 'data', 'simtrust.db'))).toBe(true);
    expect(statSync(join(cwd, 'data', 'master.key')).mode & 0o777).toBe(0o600);

    const second = await startDemo(cwd);
    const url2 = /API docs\s+(http:\/\/[\d.:]+)\/docs/.exec(second.screen)?.[1] as string;
    const again = await new SimtrustClient({ endpoint: url2 }).auth(
      'demo@simtrust.local',
      'simtrust-demo-password',
    );
    const count: unknown[] = [];
    for await (const page of new SimtrustClient({ endpoint: url2, token: again.token }).pages('/v1/sims'))
      count.push(...page);
    expect(count).toHaveLength(50 + DEMO_EUICC_SIMS);
    expect((await second.stop()).code).toBe(0);
  }, 180_000); // two demo starts, each seeding or opening the data and starting every listener
});
