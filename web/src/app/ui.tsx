// Small pieces every domain page uses: a button that is disabled with the reason when the account's
// permissions refuse its operation, an action runner with its outcome line, and field errors tied to
// their input (aria-describedby), so pages stay plain forms and tables.

import { type ReactNode, useState } from 'react';
import type { Permission } from '../api/permissions';
import { useI18n } from '../i18n/i18n';

/** The text an Error (or anything thrown) shows to the operator. */
export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** A button for one API operation: disabled, with the statement that forbids it, when refused. */
export function Guarded({
  permission,
  onClick,
  children,
  busy = false,
  type = 'button',
  className,
  ariaLabel,
}: {
  permission: Permission;
  onClick?: () => void;
  children: ReactNode;
  busy?: boolean;
  type?: 'button' | 'submit';
  className?: string;
  /** The accessible name when the visible text alone is ambiguous (several "Retry" in a table). */
  ariaLabel?: string;
}) {
  const { t } = useI18n();
  const reason = permission.allowed
    ? undefined
    : t('app.forbidden', { reason: permission.reason ?? t('app.permissionUnknown') });
  return (
    <button
      type={type}
      className={className}
      disabled={!permission.allowed || busy}
      title={reason}
      aria-label={ariaLabel}
      aria-description={reason}
      onClick={onClick}
    >
      {children}
    </button>
  );
}

export interface Outcome {
  readonly ok: boolean;
  readonly text: string;
}

/** Runs one API call at a time; `outcome` is its success text or its error. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome>();
  async function run<T>(
    call: () => Promise<T>,
    success: string | ((value: T) => string),
  ): Promise<T | undefined> {
    setBusy(true);
    setOutcome(undefined);
    try {
      const value = await call();
      setOutcome({ ok: true, text: typeof success === 'string' ? success : success(value) });
      return value;
    } catch (e) {
      setOutcome({ ok: false, text: errorText(e) });
      return undefined;
    } finally {
      setBusy(false);
    }
  }
  return { busy, outcome, run, clear: () => setOutcome(undefined) };
}

/** The outcome of the last action: a polite status when it worked, an alert when it did not. */
export function OutcomeLine({ outcome }: { outcome: Outcome | undefined }) {
  if (outcome === undefined) return null;
  return (
    <p role={outcome.ok ? 'status' : 'alert'} className={outcome.ok ? 'ok' : 'error'}>
      {outcome.text}
    </p>
  );
}

/** A query's error, or a loading line, or nothing once the data is there. */
export function QueryState({ error, loading }: { error: Error | null; loading: boolean }) {
  const { t } = useI18n();
  if (error)
    return (
      <p role="alert" className="error">
        {t('app.error', { message: error.message })}
      </p>
    );
  return loading ? <p>{t('app.loading')}</p> : null;
}

/** The id of a field's error text, for aria-describedby. */
export const errorId = (field: string) => `${field}-error`;

/** A field's error under its input (the input points at it with aria-describedby / aria-invalid). */
export function FieldError({ field, error }: { field: string; error: string | undefined }) {
  return error ? (
    <span id={errorId(field)} className="error field-error">
      {error}
    </span>
  ) : null;
}

/** aria attributes of an input whose value `error` refuses. */
export const invalidProps = (field: string, error: string | undefined) =>
  error ? { 'aria-invalid': true as const, 'aria-describedby': errorId(field) } : {};

/**
 * Previous / next over keyset pages. `keys` holds the page key of every page visited so far (the
 * first page's is undefined); the API's `nextKey` opens the next one.
 */
export function KeysetPager<K>({
  label,
  keys,
  setKeys,
  nextKey,
  busy,
}: {
  label: string;
  keys: ReadonlyArray<K | undefined>;
  setKeys: (keys: Array<K | undefined>) => void;
  nextKey: K | undefined;
  busy: boolean;
}) {
  const { t, formatNumber } = useI18n();
  return (
    <nav className="row pager" aria-label={label}>
      <button
        type="button"
        className="secondary"
        disabled={keys.length === 1}
        onClick={() => setKeys(keys.slice(0, -1))}
      >
        {t('sims.previous')}
      </button>
      <span>{t('sims.page', { page: formatNumber(keys.length) })}</span>
      <button
        type="button"
        className="secondary"
        disabled={nextKey === undefined || busy}
        onClick={() => setKeys([...keys, nextKey])}
      >
        {t('sims.next')}
      </button>
    </nav>
  );
}
