// A permission document editor: a monospace text area checked on every change with the platform's
// rules (policy.ts); the problem is shown with its line and column, and the caret can jump there.

import { useRef } from 'react';
import { errorId } from '../app/ui';
import { useI18n } from '../i18n/i18n';
import { checkPolicy, type PolicyCheck } from './policy';

export function PolicyEditor({
  id,
  label,
  value,
  onChange,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (text: string) => void;
}) {
  const { t } = useI18n();
  const area = useRef<HTMLTextAreaElement>(null);
  const check: PolicyCheck = checkPolicy(value);
  const formatted = (() => {
    if (!check.ok) return undefined;
    try {
      const pretty = JSON.stringify(JSON.parse(value), null, 2);
      return pretty === value ? undefined : pretty;
    } catch {
      return undefined;
    }
  })();

  return (
    <div className="stack policy-editor">
      <label htmlFor={id}>{label}</label>
      <textarea
        id={id}
        ref={area}
        className="code"
        rows={Math.min(20, Math.max(6, value.split('\n').length + 1))}
        spellCheck={false}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={!check.ok}
        aria-describedby={errorId(id)}
      />
      <div className="row">
        <p
          id={errorId(id)}
          className={check.ok ? 'ok' : 'error'}
          data-policy={check.ok ? 'valid' : 'invalid'}
        >
          {check.ok
            ? t('sam.policyValid', { statements: check.statements, conditions: check.conditions })
            : t('sam.policyInvalid', { line: check.line, column: check.column, message: check.message })}
        </p>
        {!check.ok && (
          <button
            type="button"
            className="secondary"
            onClick={() => {
              area.current?.focus();
              area.current?.setSelectionRange(check.offset, check.offset + 1);
            }}
          >
            {t('sam.policyGoTo')}
          </button>
        )}
        {formatted !== undefined && (
          <button type="button" className="secondary" onClick={() => onChange(formatted)}>
            {t('sam.policyFormat')}
          </button>
        )}
      </div>
    </div>
  );
}
