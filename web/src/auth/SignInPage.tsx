import { type FormEvent, useId, useState } from 'react';
import { ApiError } from '../api/client';
import { navigate, useLocation } from '../app/router';
import { useI18n } from '../i18n/i18n';
import { safeNext } from './next';
import { type SignInRequest, useSession } from './session';

type Step = { kind: 'password' } | { kind: 'totp' } | { kind: 'sms'; transactionId: string; message: string };

export function SignInPage({ reason }: { reason?: 'expired' | 'signed-out' | undefined }) {
  const { t } = useI18n();
  const { signIn } = useSession();
  const { search } = useLocation();
  const [account, setAccount] = useState<'root' | 'user'>('root');
  const [fields, setFields] = useState({ email: '', operatorId: '', userName: '', password: '', code: '' });
  const [step, setStep] = useState<Step>({ kind: 'password' });
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const errorId = useId();

  const request = (): SignInRequest =>
    account === 'root'
      ? { email: fields.email, password: fields.password }
      : { operatorId: fields.operatorId, userName: fields.userName, password: fields.password };

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const second =
        step.kind === 'password'
          ? undefined
          : {
              mfaOTPCode: fields.code.trim(),
              ...(step.kind === 'sms' ? { mfaTransactionId: step.transactionId } : {}),
            };
      const outcome = await signIn(request(), second);
      if (outcome.kind === 'signed-in') navigate(safeNext(search.get('next')), { replace: true });
      else setStep(outcome.kind === 'totp' ? { kind: 'totp' } : outcome);
    } catch (err) {
      setError(err instanceof ApiError ? `${err.message} (${err.code})` : String(err));
    } finally {
      setBusy(false);
    }
  }

  const set = (name: keyof typeof fields) => (e: { target: { value: string } }) =>
    setFields((f) => ({ ...f, [name]: e.target.value }));
  const described = error ? { 'aria-describedby': errorId } : {};

  return (
    <main id="main" className="signin">
      <h1>{t('auth.title')}</h1>
      {reason && (
        <p className="notice" role="status">
          {t(reason === 'expired' ? 'auth.expired' : 'auth.signedOut')}
        </p>
      )}
      <form onSubmit={submit} className="card stack">
        {step.kind === 'password' ? (
          <>
            <fieldset>
              <legend>{t('auth.kind')}</legend>
              <label className="inline">
                <input
                  type="radio"
                  name="account"
                  checked={account === 'root'}
                  onChange={() => setAccount('root')}
                />
                {t('auth.root')}
              </label>
              <label className="inline">
                <input
                  type="radio"
                  name="account"
                  checked={account === 'user'}
                  onChange={() => setAccount('user')}
                />
                {t('auth.user')}
              </label>
            </fieldset>
            {account === 'root' ? (
              <label>
                {t('auth.email')}
                <input
                  type="email"
                  autoComplete="username"
                  required
                  value={fields.email}
                  onChange={set('email')}
                  {...described}
                />
              </label>
            ) : (
              <>
                <label>
                  {t('auth.operatorId')}
                  <input required value={fields.operatorId} onChange={set('operatorId')} {...described} />
                </label>
                <label>
                  {t('auth.userName')}
                  <input
                    autoComplete="username"
                    required
                    value={fields.userName}
                    onChange={set('userName')}
                    {...described}
                  />
                </label>
              </>
            )}
            <label>
              {t('auth.password')}
              <input
                type="password"
                autoComplete="current-password"
                required
                value={fields.password}
                onChange={set('password')}
                {...described}
              />
            </label>
          </>
        ) : (
          <>
            <p>{step.kind === 'totp' ? t('auth.totpHint') : step.message}</p>
            <label>
              {t(step.kind === 'totp' ? 'auth.totp' : 'auth.sms')}
              <input
                inputMode="numeric"
                autoComplete="one-time-code"
                required
                value={fields.code}
                onChange={set('code')}
                {...described}
              />
            </label>
          </>
        )}
        {error && (
          <p id={errorId} className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {t(step.kind === 'password' ? 'auth.submit' : 'auth.verify')}
        </button>
      </form>
    </main>
  );
}
