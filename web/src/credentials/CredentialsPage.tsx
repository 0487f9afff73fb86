// Credential sets (docs/credentials.md): the list with what may be shown (id, type, description,
// fields that are not secret, times), and a form to add, change or delete one. Secret fields are
// write-only: their inputs start empty and are never filled from an answer (no answer carries
// them); left empty on an edit, the set keeps its credentials and only the description changes.

import { useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import { usePermissions } from '../api/permissions';
import type { components, operations } from '../api/schema';
import { Guarded, OutcomeLine, QueryState, useAction } from '../app/ui';
import type { MessageKey } from '../i18n/en';
import { useI18n } from '../i18n/i18n';
import { CREDENTIAL_TYPES, credentialsToSend, type FieldDef, TYPE_NAMES } from './model';

type CredentialSet = components['schemas']['CredentialsModel'];
type CredentialType = operations['createCredential']['requestBody']['content']['application/json']['type'];
const OPERATIONS = [
  'Credential:createCredential',
  'Credential:updateCredential',
  'Credential:deleteCredential',
];
const ID_PATTERN = '[A-Za-z0-9][A-Za-z0-9._\\-]{0,99}';

const typeLabel = (type: string) => `cred.type.${type}` as MessageKey;
const fieldLabel = (type: string, field: FieldDef) =>
  `cred.field.${type === 'x509' && field.name === 'key' ? 'x509Key' : field.name}` as MessageKey;
const shownText = (c: CredentialSet) =>
  Object.entries(c.credentials)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

export function CredentialsPage() {
  const { t, formatTime } = useI18n();
  const sets = useQuery({
    queryKey: ['credentials'],
    queryFn: () => unwrap(api.GET('/v1/credentials')),
  });
  const can = usePermissions(OPERATIONS);
  const [editing, setEditing] = useState<string>();
  return (
    <div className="stack">
      <h1>{t('cred.title')}</h1>
      <p className="hint">{t('cred.hint')}</p>
      <QueryState error={sets.error} loading={sets.isPending} />
      {sets.data && sets.data.length === 0 && <p>{t('cred.none')}</p>}
      {sets.data && sets.data.length > 0 && (
        <div className="table-wrap">
          <table className="credential-sets">
            <caption className="visually-hidden">{t('cred.title')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('cred.id')}</th>
                <th scope="col">{t('cred.type')}</th>
                <th scope="col">{t('cred.description')}</th>
                <th scope="col">{t('cred.shown')}</th>
                <th scope="col">{t('cred.updated')}</th>
                <th scope="col">{t('cred.lastUsed')}</th>
                <th scope="col">
                  <span className="visually-hidden">{t('sim.actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sets.data.map((c) => (
                <tr key={c.credentialsId} data-credentials={c.credentialsId}>
                  <td>{c.credentialsId}</td>
                  <td title={c.type}>{CREDENTIAL_TYPES[c.type] ? t(typeLabel(c.type)) : c.type}</td>
                  <td>{c.description || '—'}</td>
                  <td>{shownText(c) || '—'}</td>
                  <td>{formatTime(c.updateDateTime)}</td>
                  <td>
                    {c.lastUsedDateTime === undefined ? t('cred.never') : formatTime(c.lastUsedDateTime)}
                  </td>
                  <td>
                    <button
                      type="button"
                      className="secondary"
                      aria-expanded={editing === c.credentialsId}
                      onClick={() => setEditing(editing === c.credentialsId ? undefined : c.credentialsId)}
                    >
                      {t('cred.edit', { id: c.credentialsId })}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {sets.data
        ?.filter((c) => c.credentialsId === editing)
        .map((c) => (
          <CredentialForm key={c.credentialsId} set={c} can={can} onDone={() => setEditing(undefined)} />
        ))}
      <CredentialForm can={can} />
    </div>
  );
}

function CredentialForm({
  set,
  can,
  onDone,
}: {
  set?: CredentialSet;
  can: ReturnType<typeof usePermissions>;
  onDone?: () => void;
}) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [credentialsId, setCredentialsId] = useState(set?.credentialsId ?? '');
  const [type, setType] = useState<string>(set?.type ?? 'psk');
  const [description, setDescription] = useState(set?.description ?? '');
  // Shown fields start from the set; secret ones always start empty.
  const [values, setValues] = useState<Record<string, string>>(() => ({ ...(set?.credentials ?? {}) }));
  const action = useAction();
  const formId = set ? `set-${set.credentialsId}` : 'new-set';
  const fields = CREDENTIAL_TYPES[type] ?? [];
  const { credentials, missing } = credentialsToSend(
    type,
    values,
    set?.credentials,
    set !== undefined && type !== set.type,
  );

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (missing.length > 0) return;
    const id = set?.credentialsId ?? credentialsId.trim();
    const done = await action.run(
      async () => {
        if (set)
          await unwrap(
            api.PUT('/v1/credentials/{credentials_id}', {
              params: { path: { credentials_id: id } },
              body: {
                description,
                ...(type === set.type ? {} : { type: type as CredentialType }),
                ...(credentials === undefined ? {} : { credentials }),
              },
            }),
          );
        else
          await unwrap(
            api.POST('/v1/credentials/{credentials_id}', {
              params: { path: { credentials_id: id } },
              body: { type: type as CredentialType, description, credentials: credentials ?? {} },
            }),
          );
        return true;
      },
      set ? t('cred.saved', { id }) : t('cred.created', { id }),
    );
    // Typed secrets do not outlive the request, whatever its outcome.
    setValues((v) =>
      Object.fromEntries(
        Object.entries(v).filter(([name]) => fields.some((f) => f.name === name && !f.secret)),
      ),
    );
    if (done && !set) {
      setCredentialsId('');
      setDescription('');
      setValues({});
    }
    await queryClient.invalidateQueries({ queryKey: ['credentials'] });
  }
  async function remove() {
    if (!set || !window.confirm(t('cred.confirmDelete', { id: set.credentialsId }))) return;
    const done = await action.run(async () => {
      await unwrap(
        api.DELETE('/v1/credentials/{credentials_id}', {
          params: { path: { credentials_id: set.credentialsId } },
        }),
      );
      return true;
    }, t('cred.deleted'));
    if (done) onDone?.();
    await queryClient.invalidateQueries({ queryKey: ['credentials'] });
  }

  return (
    <form className="card stack" onSubmit={(e) => void submit(e)} aria-labelledby={`${formId}-title`}>
      <h2 id={`${formId}-title`}>{set ? t('cred.editTitle', { id: set.credentialsId }) : t('cred.add')}</h2>
      <div className="row">
        <label>
          {t('cred.id')}
          <input
            required
            disabled={set !== undefined}
            pattern={ID_PATTERN}
            maxLength={100}
            placeholder="beam-psk"
            aria-describedby={`${formId}-id-hint`}
            value={credentialsId}
            onChange={(e) => setCredentialsId(e.target.value)}
          />
        </label>
        <label>
          {t('cred.type')}
          <select value={type} onChange={(e) => setType(e.target.value)}>
            {TYPE_NAMES.map((name) => (
              <option key={name} value={name}>
                {t(typeLabel(name))} ({name})
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('cred.description')}
          <input maxLength={1000} value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
      </div>
      <p className="hint" id={`${formId}-id-hint`}>
        {set ? t('cred.keepSecrets') : t('cred.idHint')}
      </p>
      <div className="stack">
        {fields.map((f) => {
          const value = values[f.name] ?? '';
          const onChange = (v: string) => setValues((old) => ({ ...old, [f.name]: v }));
          return (
            <label key={`${type}-${f.name}`} htmlFor={`${formId}-${f.name}`}>
              {t(fieldLabel(type, f))}
              {f.kind === 'text' ? (
                <input
                  id={`${formId}-${f.name}`}
                  type={f.secret ? 'password' : 'text'}
                  autoComplete={f.secret ? 'new-password' : 'off'}
                  required={f.required && set === undefined}
                  value={value}
                  onChange={(e) => onChange(e.target.value)}
                />
              ) : (
                <textarea
                  id={`${formId}-${f.name}`}
                  className="code"
                  rows={6}
                  spellCheck={false}
                  autoComplete="off"
                  required={f.required && set === undefined}
                  placeholder={
                    f.kind === 'pem-private-key'
                      ? '-----BEGIN PRIVATE KEY-----'
                      : '-----BEGIN CERTIFICATE-----'
                  }
                  value={value}
                  onChange={(e) => onChange(e.target.value)}
                />
              )}
            </label>
          );
        })}
      </div>
      {set && missing.length > 0 && (
        <p className="error" role="status">
          {t('cred.missing', { fields: missing.join(', ') })}
        </p>
      )}
      <div className="row">
        <Guarded
          type="submit"
          permission={can(set ? 'Credential:updateCredential' : 'Credential:createCredential')}
          busy={action.busy || missing.length > 0 || (set === undefined && credentialsId.trim() === '')}
        >
          {set ? t('cred.save') : t('cred.add')}
        </Guarded>
        {set && (
          <Guarded
            className="danger"
            permission={can('Credential:deleteCredential')}
            busy={action.busy}
            onClick={() => void remove()}
          >
            {t('cred.delete')}
          </Guarded>
        )}
      </div>
      <OutcomeLine outcome={action.outcome} />
    </form>
  );
}
