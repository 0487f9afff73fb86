// TOTP enrolment for root (the operator's MFA) or a SAM user: the otpauth:// URI is shown once as a
// QR code drawn in the page (qrcode, loaded on demand — nothing leaves the browser) and as the secret
// for manual entry; a code from the app confirms it, and the single-use backup codes are shown once.

import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useState } from 'react';
import { api, unwrap } from '../api/client';
import type { Permission } from '../api/permissions';
import { Guarded, OutcomeLine, useAction } from '../app/ui';
import { useI18n } from '../i18n/i18n';

export type MfaTarget =
  | { kind: 'operator'; operatorId: string }
  | { kind: 'user'; operatorId: string; userName: string };

type Status = 'ACTIVE' | 'INACTIVE' | 'UNCONFIRMED';

function calls(target: MfaTarget) {
  if (target.kind === 'operator') {
    const path = { operator_id: target.operatorId };
    return {
      status: () => unwrap(api.GET('/v1/operators/{operator_id}/mfa', { params: { path } })),
      enable: () => unwrap(api.POST('/v1/operators/{operator_id}/mfa', { params: { path } })),
      verify: (mfaOTPCode: string) =>
        unwrap(
          api.POST('/v1/operators/{operator_id}/mfa/verify', { params: { path }, body: { mfaOTPCode } }),
        ),
      revoke: (password: string) =>
        unwrap(api.DELETE('/v1/operators/{operator_id}/mfa', { params: { path }, body: { password } })),
    };
  }
  const path = { operator_id: target.operatorId, user_name: target.userName };
  return {
    status: () => unwrap(api.GET('/v1/operators/{operator_id}/users/{user_name}/mfa', { params: { path } })),
    enable: () => unwrap(api.POST('/v1/operators/{operator_id}/users/{user_name}/mfa', { params: { path } })),
    verify: (mfaOTPCode: string) =>
      unwrap(
        api.POST('/v1/operators/{operator_id}/users/{user_name}/mfa/verify', {
          params: { path },
          body: { mfaOTPCode },
        }),
      ),
    revoke: (password: string) =>
      unwrap(
        api.DELETE('/v1/operators/{operator_id}/users/{user_name}/mfa', {
          params: { path },
          body: { password },
        }),
      ),
  };
}

export function QrCode({ uri, label }: { uri: string; label: string }) {
  const [src, setSrc] = useState<string>();
  useEffect(() => {
    let live = true;
    void import('qrcode').then(async (qr) => {
      const url = await qr.toDataURL(uri, { errorCorrectionLevel: 'M', margin: 2, scale: 5 });
      if (live) setSrc(url);
    });
    return () => {
      live = false;
    };
  }, [uri]);
  return src ? <img className="qr" src={src} alt={label} width={220} height={220} /> : null;
}

export function MfaEnrolment({
  target,
  status,
  can,
}: {
  target: MfaTarget;
  /** The status when the caller already has it (a user's mfaStatus); otherwise it is asked. */
  status?: string;
  can: { enable: Permission; verify: Permission; revoke: Permission };
}) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const mfa = calls(target);
  const [current, setCurrent] = useState<Status | undefined>(status as Status | undefined);
  const [uri, setUri] = useState<string>();
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [backupCodes, setBackupCodes] = useState<readonly string[]>();
  const action = useAction();

  // The operator's status is not part of any other answer: ask for it once.
  useEffect(() => {
    if (current === undefined && target.kind === 'operator')
      void mfa.status().then(
        (s) => setCurrent(s.status),
        () => undefined,
      );
  }, [current, target.kind, mfa]);

  const refresh = () => queryClient.invalidateQueries({ queryKey: ['sam'] });
  const secret = uri && URL.canParse(uri) ? new URL(uri).searchParams.get('secret') : undefined;

  async function enable() {
    const answer = await action.run(mfa.enable, t('sam.mfaScan'));
    if (answer === undefined) return;
    setUri(answer.totpUri);
    setBackupCodes(undefined);
    setCurrent('UNCONFIRMED');
  }
  async function verify(e: FormEvent) {
    e.preventDefault();
    const answer = await action.run(() => mfa.verify(code.trim()), t('sam.mfaOn'));
    if (answer === undefined) return;
    setBackupCodes(answer.backupCodes);
    setUri(undefined);
    setCode('');
    setCurrent('ACTIVE');
    await refresh();
  }
  async function revoke(e: FormEvent) {
    e.preventDefault();
    const done = await action.run(async () => {
      await mfa.revoke(password);
      return true;
    }, t('sam.mfaOff'));
    setPassword('');
    if (done) {
      setCurrent('INACTIVE');
      setUri(undefined);
      setBackupCodes(undefined);
      await refresh();
    }
  }

  return (
    <section className="card stack" aria-labelledby="mfa">
      <h2 id="mfa">{t('sam.mfa')}</h2>
      <p data-mfa-status={current ?? ''}>{t('sam.mfaStatus', { status: current ?? '…' })}</p>
      {uri && (
        <div className="stack" data-mfa-enrolment>
          <p>{t('sam.mfaScanHint')}</p>
          <QrCode uri={uri} label={t('sam.mfaQr')} />
          {secret && (
            <p>
              {t('sam.mfaSecret')} <code className="secret">{secret}</code>
            </p>
          )}
          <form className="row" onSubmit={(e) => void verify(e)}>
            <label>
              {t('sam.mfaCode')}
              <input
                inputMode="numeric"
                autoComplete="one-time-code"
                required
                value={code}
                onChange={(e) => setCode(e.target.value)}
              />
            </label>
            <Guarded type="submit" permission={can.verify} busy={action.busy || code.trim() === ''}>
              {t('sam.mfaConfirm')}
            </Guarded>
          </form>
        </div>
      )}
      {backupCodes && (
        <div className="notice stack" data-backup-codes>
          <strong>{t('sam.backupCodes')}</strong>
          <p>{t('sam.shownOnce')}</p>
          <ul className="codes">
            {backupCodes.map((c) => (
              <li key={c}>
                <code>{c}</code>
              </li>
            ))}
          </ul>
        </div>
      )}
      <div className="row">
        {current !== 'ACTIVE' && !uri && (
          <Guarded permission={can.enable} busy={action.busy} onClick={() => void enable()}>
            {t('sam.mfaEnable')}
          </Guarded>
        )}
      </div>
      {current !== undefined && current !== 'INACTIVE' && (
        <form className="row" onSubmit={(e) => void revoke(e)}>
          {/* Turning MFA off needs the password of whoever is signed in (the API checks it). */}
          <label>
            {t('sam.yourPassword')}
            <input
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </label>
          <Guarded
            type="submit"
            className="secondary"
            permission={can.revoke}
            busy={action.busy || password === ''}
          >
            {t('sam.mfaDisable')}
          </Guarded>
        </form>
      )}
      <OutcomeLine outcome={action.outcome} />
    </section>
  );
}
