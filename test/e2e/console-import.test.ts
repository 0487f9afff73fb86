// The console's CSV import against `simtrust up --demo` in Chromium (issue 12, "import a CSV with one
// bad row and see the row error"): the file is previewed in the page before anything is sent (key
// material masked), a header the importer would refuse is refused in the page, the import runs over
// the real streaming API with a progress bar, the one bad row is listed with its line and reason, and
// the good rows are SIMs afterwards. axe-core clean; no console errors, no failed requests.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { luhnCheckDigit } from '../../src/lib/luhn.js';
import { requirePrograms } from '../helpers/external.js';
import { axeViolations, screenshots, watchedPage } from './console-browser.js';
import { type ConsoleDemo, signInRoot, startConsoleDemo } from './console-demo.js';

const ok = requirePrograms({ chromium: 'chromium' });

const iccid = (n: number) => {
  const body = `89810990${String(n).padStart(10, '0')}`;
  return `${body}${luhnCheckDigit(body)}`;
};
const hex = () => randomBytes(16).toString('hex');

describe.skipIf(!ok)('console: CSV import in the browser', () => {
  let demo: ConsoleDemo;
  const dir = mkdtempSync(join(tmpdir(), 'console-import-'));
  beforeAll(async () => {
    demo = await startConsoleDemo();
  }, 120_000);
  afterAll(async () => {
    await demo?.stop();
  });

  it('previews a CSV, imports it with progress and shows the one bad row', async () => {
    const base = 700_000 + Math.floor(Math.random() * 100_000);
    const good = [0, 1, 2].map((i) => ({
      iccid: iccid(base + i),
      imsi: `00101${String(base + i).padStart(10, '0')}`,
    }));
    const bad = { iccid: iccid(base + 3), imsi: `00101${String(base + 3).padStart(10, '0')}` };
    const file = join(dir, 'fleet.csv');
    const secretKi = hex();
    writeFileSync(
      file,
      [
        'iccid,imsi,msisdn,ki,opc',
        `${good[0]!.iccid},${good[0]!.imsi},819000000001,${secretKi},${hex()}`,
        `${good[1]!.iccid},${good[1]!.imsi},,${hex()},${hex()}`,
        `${bad.iccid},${bad.imsi},,not-a-key,${hex()}`,
        `${good[2]!.iccid},${good[2]!.imsi},,${hex()},${hex()}`,
        '',
      ].join('\r\n'),
    );
    const badHeader = join(dir, 'bad-header.csv');
    writeFileSync(badHeader, `iccid,imsi,colour\n${good[0]!.iccid},${good[0]!.imsi},red\n`);

    const w = await watchedPage(demo.browser);
    const { page } = w;
    w.expect(401, '/console/api/session');
    await signInRoot(page, demo, '/import', 'Import SIMs from CSV');
    expect(await axeViolations(page)).toEqual([]);

    // A header the importer refuses is refused before anything is sent.
    const input = page.getByLabel('Vendor CSV file', { exact: true });
    await input.setInputFiles(badHeader);
    await page
      .getByText(/The header cannot be imported \(missing ki; unknown colour; needs opc or op\)/)
      .waitFor();
    expect(await page.getByRole('button', { name: /^Import 1 rows$/ }).isDisabled()).toBe(true);

    await input.setInputFiles(file);
    await page.getByRole('heading', { name: 'Preview (first 4 rows of 4)' }).waitFor();
    const preview = page.locator('table.preview');
    expect(await preview.locator('tbody tr').count()).toBe(4);
    expect(await preview.locator('tbody tr[data-line="4"]').textContent()).toContain(bad.iccid);
    // Key material is never shown.
    expect(await preview.textContent()).not.toContain(secretKi);
    expect(await preview.textContent()).toContain('••••');
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'import-preview');

    await page.getByRole('button', { name: 'Import 4 rows' }).click();
    const done = page.locator('[data-import-done]');
    await done.waitFor({ timeout: 30_000 });
    expect(await done.textContent()).toBe('Imported: 3 created, 0 unchanged, 1 rows with errors.');
    expect(await page.locator('progress').getAttribute('value')).toBe('4');
    const errors = page.locator('table.row-errors tbody tr');
    expect(await errors.count()).toBe(1);
    expect(await errors.first().getAttribute('data-line')).toBe('4');
    expect(await errors.first().textContent()).toMatch(/ki must be 32 hex digits/);
    expect(await errors.first().textContent()).not.toContain('not-a-key');
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'import-done');

    for (const g of good) {
      const found = await demo.call('GET', `/v1/sims?iccid_prefix=${g.iccid}`);
      expect(found).toHaveLength(1);
    }
    expect(await demo.call('GET', `/v1/sims?iccid_prefix=${bad.iccid}`)).toEqual([]);

    // The same file again: every good row is unchanged, the bad row still refused.
    await page.getByRole('button', { name: 'Import 4 rows' }).click();
    await expect
      .poll(() => done.textContent(), { timeout: 30_000 })
      .toBe('Imported: 0 created, 3 unchanged, 1 rows with errors.');

    await page.getByLabel('Language').selectOption('ja');
    await page.getByRole('heading', { name: 'CSV から SIM をインポート' }).waitFor();
    await screenshots(page, 'import-done-ja');
    await page.getByLabel('言語').selectOption('en');
    expect(w.problems).toEqual([]);
    await w.context.close();
  });
});
