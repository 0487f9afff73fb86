// The threat: an operator probing another operator's inventory through conflicts. ICCIDs and IMSIs
// are unique across the platform, so creating or importing a number another operator holds must be
// refused — which tells the caller the number is taken, and nothing more may leak (issue 11): the
// answer reads the same whether the number is in the caller's own inventory or another operator's
// (so a user who may import but not read the inventory learns nothing either), and it names no
// operator, no other ICCID or IMSI and no differing field.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestApi, vendorCsv } from '../../helpers/app.js';

const api = await startTestApi();
afterAll(() => api.close());

const B = await api.newOperator();
const A = api.operator;

// A holds `own`, B holds `theirs`.
const { csv: csvA, rows: rowsA } = vendorCsv(1, { start: 31_000 });
const { csv: csvB, rows: rowsB } = vendorCsv(1, { start: 32_000 });
const own = rowsA[0]!;
const theirs = rowsB[0]!;
const importAs = (token: string, payload: string) =>
  api.call({
    method: 'POST',
    url: '/v1/sims/import',
    token,
    headers: { 'content-type': 'text/csv' },
    payload,
  });
expect((await importAs(A.token, csvA)).statusCode).toBe(200);
expect((await importAs(B.token, csvB)).statusCode).toBe(200);

const hex = () => randomBytes(16).toString('hex');
const fresh = vendorCsv(4, { start: 33_000 }).rows;

/** The message with the number the caller sent replaced, so two clashes can be compared. */
const shape = (message: string, sent: string) => message.replaceAll(sent, '<number>');

function leaksNothing(message: string, holder: { iccid: string; imsi: string }, sent: string) {
  for (const secret of [A.operatorId, B.operatorId, holder.iccid, holder.imsi]) {
    if (secret !== sent) expect(message).not.toContain(secret);
  }
  expect(message).not.toMatch(/operator|tenant|another|belongs|different|MSISDN|Ki|OPc|AMF/);
}

describe('issue 11: a conflict reads the same in whichever inventory the number is', () => {
  it('POST /v1/sims: an ICCID or IMSI clash with your own SIM and with another operator’s', async () => {
    const create = (body: Record<string, string>) =>
      api.call({
        method: 'POST',
        url: '/v1/sims',
        token: A.token,
        payload: { ki: hex(), opc: hex(), ...body },
      });
    const iccidOwn = await create({ iccid: own.iccid, imsi: fresh[0]!.imsi });
    const iccidTheirs = await create({ iccid: theirs.iccid, imsi: fresh[0]!.imsi });
    const imsiOwn = await create({ iccid: fresh[1]!.iccid, imsi: own.imsi });
    const imsiTheirs = await create({ iccid: fresh[1]!.iccid, imsi: theirs.imsi });
    for (const res of [iccidOwn, iccidTheirs, imsiOwn, imsiTheirs]) {
      expect(res.statusCode, res.body).toBe(409);
      expect(res.json().code).toBe('ERR_DUPLICATE_SIM');
    }
    expect(shape(iccidOwn.json().message, own.iccid)).toBe(shape(iccidTheirs.json().message, theirs.iccid));
    expect(shape(imsiOwn.json().message, own.imsi)).toBe(shape(imsiTheirs.json().message, theirs.imsi));
    expect(iccidTheirs.json().message).toBe(
      `ICCID ${theirs.iccid} is already registered (ICCIDs and IMSIs are unique across the whole platform); check the number against the card vendor's file, or look for it with GET /v1/sims?iccid_prefix=${theirs.iccid}`,
    );
    leaksNothing(iccidTheirs.json().message, theirs, theirs.iccid);
    leaksNothing(imsiTheirs.json().message, theirs, theirs.imsi);
    leaksNothing(imsiOwn.json().message, own, own.imsi);
  });

  it('CSV import: the per-row reason is the same for your own SIM and another operator’s', async () => {
    const line = (r: { iccid: string; imsi: string; ki: string; opc: string }) =>
      `${r.iccid},${r.imsi},${r.ki},${r.opc}`;
    const rowsOf = (target: typeof own) => [
      line({ ...target, imsi: fresh[3]!.imsi, ki: hex() }), // line 2: the ICCID, another IMSI and keys
      line({ ...fresh[2]!, imsi: target.imsi }), // line 3: a new ICCID with the IMSI
    ];
    const reasons = async (target: typeof own) => {
      const res = await importAs(A.token, `iccid,imsi,ki,opc\n${rowsOf(target).join('\n')}\n`);
      expect(res.statusCode, res.body).toBe(422);
      expect(res.json()).toMatchObject({ rows: 2, created: 0, unchanged: 0, rejected: 2 });
      return (res.json().errors as Array<{ line: number; code: string; reason: string }>).map((e) => {
        expect(e.code).toBe('ERR_DUPLICATE_SIM');
        return { line: e.line, reason: e.reason };
      });
    };
    const mine = await reasons(own);
    const other = await reasons(theirs);
    const normalise = (list: typeof mine, t: typeof own) =>
      list.map((e) => ({ line: e.line, reason: shape(shape(e.reason, t.iccid), t.imsi) }));
    expect(normalise(mine, own)).toEqual(normalise(other, theirs));
    for (const e of other)
      leaksNothing(e.reason, theirs, e.reason.includes(theirs.iccid) ? theirs.iccid : theirs.imsi);
    // Re-importing your own SIM as it is stays idempotent; the same row of another's SIM is refused.
    const same = await importAs(A.token, csvA);
    expect(same.json()).toMatchObject({ created: 0, unchanged: 1, rejected: 0 });
    const probe = await importAs(A.token, csvB);
    expect(probe.json()).toMatchObject({ created: 0, unchanged: 0, rejected: 1 });
  });

  it('docs/sims.md documents it', () => {
    const docs = readFileSync('docs/sims.md', 'utf8');
    expect(docs).toContain('## Uniqueness');
    expect(docs).toMatch(/same text whether the number is in your own inventory or another\s+operator's/);
  });
});
