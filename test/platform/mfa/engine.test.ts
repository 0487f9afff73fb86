// The MFA engine's SMS one-time codes and limits at the store level, on SQLite and PostgreSQL:
// what is stored, single use under races, the guess and send limits, the address limit, the
// account lock shared by password and code failures. Codes come from a real SMPP peer.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { directorySource } from '../../../src/platform/directories/subjects.js';
import type { StepContext } from '../../../src/platform/mfa/engine.js';
import { passwordStep } from '../../../src/platform/mfa/login-flow.js';
import type { Subject, SubjectSource } from '../../../src/platform/mfa/subject.js';
import { Smsc } from '../../../src/servers/smpp/smsc.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';
import { codeIn } from '../../servers/gateway/fixture.js';

const clock = new ManualClock(Date.now());
let api: TestApi;
let smsc: Smsc;
let source: SubjectSource;
let directoryId: string;
let n = 0;

beforeAll(async () => {
  smsc = await Smsc.start({ accounts: { e: 'pw' }, receipt: false });
  api = await startTestApi({
    clock,
    config: {
      mfaAddressMaxAttempts: 1000,
      smsProviders: [{ name: 'lab', kind: 'smpp', url: smsc.url, systemId: 'e', password: 'pw' }],
    },
  });
  const admin = {
    principal: { operatorId: api.operator.operatorId, kind: 'root' as const, id: api.operator.email },
    operationId: 'Directory:test',
  };
  directoryId = (await api.platform.directories.create(admin, { name: 'engine' })).directoryId;
  source = directorySource(api.db.store.db, api.platform.directories, directoryId, api.operator.operatorId);
});
afterAll(async () => {
  await api?.platform.sms.close();
  await api?.close();
  await smsc?.close();
});

const ctx: StepContext = { sourceIp: '192.0.2.1', surface: 'Gateway' };

async function newSubject(): Promise<Subject> {
  n++;
  const admin = {
    principal: { operatorId: api.operator.operatorId, kind: 'root' as const, id: api.operator.email },
    operationId: 'Directory:test',
  };
  await api.platform.directories.createUser(admin, directoryId, {
    userId: `u${n}`,
    passwordHash: 'scrypt$10$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
    phoneNumber: `+8160${String(n).padStart(8, '0')}`,
    phoneVerified: true,
  });
  return (await source.load(`dir:${directoryId}:u${n}`)) as Subject;
}

async function sendCode(subject: Subject) {
  const { id, transaction } = await api.platform.mfa.begin({
    subject,
    application: 'app',
    factors: ['sms-otp'],
    returnTo: '/',
  });
  const before = smsc.messages.length;
  await api.platform.mfa.sendSmsCode(transaction, subject, ctx);
  const sms = await smsc.waitForMessage((m) => smsc.messages.indexOf(m) >= before);
  return { id, transaction: (await api.platform.mfa.transaction(id))!, code: codeIn(sms.text) };
}

describe('MFA engine (store level)', () => {
  it('keeps only an HMAC of the code: the code is in no table', async () => {
    // Threat: a copy of the database (backup, SQL injection elsewhere) revealing live codes.
    const subject = await newSubject();
    const { code } = await sendCode(subject);
    const db = api.db.store.db;
    const dump = JSON.stringify([
      await db.selectFrom('one_time_values').selectAll().execute(),
      await db.selectFrom('mfa_transactions').selectAll().execute(),
      await db.selectFrom('sms_messages').selectAll().execute(),
      await db.selectFrom('audit_logs').selectAll().execute(),
      await db.selectFrom('counters').selectAll().execute(),
    ]);
    expect(dump).not.toContain(code);
  });

  it('accepts the right code exactly once when submitted concurrently', async () => {
    // Threat: racing the same code from two browsers/instances to get two sessions.
    const subject = await newSubject();
    const { transaction, code } = await sendCode(subject);
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => api.platform.mfa.verifySmsCode(transaction, subject, code, ctx)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((x) => x.status === 'rejected')) {
      expect((r as PromiseRejectedResult).reason.code).toBe('ERR_OTP_EXPIRED');
    }
    await api.platform.mfa.complete(transaction);
    await expect(api.platform.mfa.complete(transaction)).rejects.toMatchObject({
      code: 'ERR_MFA_TRANSACTION',
    });
  });

  it('a resend makes the previous code worthless', async () => {
    const subject = await newSubject();
    const first = await sendCode(subject);
    clock.advance(31_000);
    const before = smsc.messages.length;
    await api.platform.mfa.sendSmsCode(first.transaction, subject, ctx);
    const second = codeIn((await smsc.waitForMessage((m) => smsc.messages.indexOf(m) >= before)).text);
    const t = (await api.platform.mfa.transaction(first.id))!;
    if (first.code !== second) {
      await expect(api.platform.mfa.verifySmsCode(t, subject, first.code, ctx)).rejects.toMatchObject({
        code: 'ERR_OTP_INVALID',
      });
    }
    await api.platform.mfa.verifySmsCode(t, subject, second, ctx);
  });

  it('refuses malformed codes as wrong guesses, counting them', async () => {
    const subject = await newSubject();
    const { transaction } = await sendCode(subject);
    for (const [i, bad] of ['', '12345', '1234567', 'abcdef', '１２３４５６'].entries()) {
      const e = await api.platform.mfa
        .verifySmsCode(transaction, subject, bad, ctx)
        .catch((x: { code: string; details?: Record<string, unknown> }) => x);
      expect(e).toMatchObject({ code: i === 4 ? 'ERR_OTP_DEAD' : 'ERR_OTP_INVALID' });
    }
  });

  it('limits attempts per source address across accounts', async () => {
    // Threat: one host guessing codes or passwords across many accounts.
    const small = await startTestApi({ clock, config: { mfaAddressMaxAttempts: 3 } });
    try {
      const ip = '198.51.100.9';
      for (let i = 0; i < 3; i++) await small.platform.mfa.limitAddress(ip);
      await expect(small.platform.mfa.limitAddress(ip)).rejects.toMatchObject({
        code: 'ERR_TOO_MANY_ATTEMPTS',
        details: { retryAfterSeconds: 60 },
      });
      await small.platform.mfa.limitAddress('198.51.100.10');
      clock.advance(60_000);
      await small.platform.mfa.limitAddress(ip);
    } finally {
      await small.close();
    }
  });

  it('counts password and code failures towards one lock, and a success clears them', async () => {
    const subject = await newSubject();
    const app = { name: 'app', policy: [] };
    const threshold = api.platform.config.mfaLockThreshold;
    for (let i = 0; i < threshold - 1; i++) {
      await expect(
        passwordStep(api.platform.mfa, {
          source,
          application: app,
          login: subject.userId,
          password: 'wrong',
          returnTo: '/',
          ctx,
        }),
      ).rejects.toMatchObject({ code: 'ERR_INVALID_CREDENTIALS' });
    }
    const { transaction } = await sendCode(subject);
    await expect(api.platform.mfa.verifySmsCode(transaction, subject, 'x', ctx)).rejects.toMatchObject({
      code: 'ERR_OTP_INVALID',
    });
    await expect(api.platform.mfa.verifySmsCode(transaction, subject, 'x', ctx)).rejects.toMatchObject({
      code: 'ERR_TOO_MANY_ATTEMPTS',
      details: { retryAfterSeconds: 30 },
    });
    clock.advance(30_000);
    await expect(api.platform.mfa.verifySmsCode(transaction, subject, 'y', ctx)).rejects.toMatchObject({
      code: 'ERR_OTP_INVALID',
    });
    await expect(api.platform.mfa.assertNotLocked(subject.key)).rejects.toMatchObject({
      details: { retryAfterSeconds: 60 },
    });
  });

  it('ends a login transaction after 10 minutes', async () => {
    const subject = await newSubject();
    const { id } = await api.platform.mfa.begin({
      subject,
      application: 'app',
      factors: ['sms-otp'],
      returnTo: '/',
    });
    clock.advance(599_000);
    expect(await api.platform.mfa.transaction(id)).toBeDefined();
    clock.advance(1_000);
    expect(await api.platform.mfa.transaction(id)).toBeUndefined();
  });
});
