// The operator's SIM-token signing keys (Endorse): their state (pending → current → retired), a
// rotation (successors published now, signing after a lead time), and the public JWKS verifiers
// fetch — this operator's own, at /v1/operators/{operator_id}/endorse/jwks.json — with each key's
// certificate.

import { useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import { usePermissions } from '../api/permissions';
import { Guarded, OutcomeLine, QueryState, useAction } from '../app/ui';
import { useSignedIn } from '../auth/session';
import { ENDORSE_ALGORITHMS } from '../groups/configuration';
import { useI18n } from '../i18n/i18n';

type Algorithm = (typeof ENDORSE_ALGORITHMS)[number];

export function SigningKeysPage() {
  const { t, formatTime } = useI18n();
  const { operatorId } = useSignedIn();
  const queryClient = useQueryClient();
  const jwks = useQuery({
    queryKey: ['endorse-keys', 'jwks'],
    queryFn: () =>
      unwrap(
        api.GET('/v1/operators/{operator_id}/endorse/jwks.json', {
          params: { path: { operator_id: operatorId } },
          // Verifiers may cache the JWKS (Cache-Control); this page must show the keys as they are now.
          cache: 'no-cache',
        }),
      ),
  });
  // The list is asked after the JWKS: an operator that has not signed yet gets its first keys when
  // its JWKS is first published (signing-keys.ts), and the list alone would show none. States move
  // on with time (pending → current → retired), so the list is asked again now and then.
  const keys = useQuery({
    queryKey: ['endorse-keys', 'list'],
    queryFn: () => unwrap(api.GET('/v1/endorse/keys')),
    enabled: jwks.isSuccess,
    refetchInterval: 30_000,
  });
  const can = usePermissions(['Endorse:rotateEndorseKeys']);
  const [algorithms, setAlgorithms] = useState<ReadonlySet<Algorithm>>(new Set(['RS256']));
  const [lead, setLead] = useState('');
  const action = useAction();
  const jwksPath = `/v1/operators/${encodeURIComponent(operatorId)}/endorse/jwks.json`;

  async function rotate(e: FormEvent) {
    e.preventDefault();
    if (lead !== '' && !window.confirm(lead === '0' ? t('keys.confirmNow') : t('keys.confirm'))) return;
    await action.run(
      () =>
        unwrap(
          api.POST('/v1/endorse/keys/rotate', {
            body: {
              algorithms: ENDORSE_ALGORITHMS.filter((a) => algorithms.has(a)),
              ...(lead === '' ? {} : { activateInSeconds: Number(lead) }),
            },
          }),
        ),
      (created) => t('keys.rotated', { count: created.length }),
    );
    await queryClient.invalidateQueries({ queryKey: ['endorse-keys'] });
  }

  const leadNumber = Number(lead);
  const leadOk = lead === '' || (Number.isInteger(leadNumber) && leadNumber >= 0 && leadNumber <= 604_800);

  return (
    <div className="stack">
      <h1>{t('keys.title')}</h1>
      <p className="hint">{t('keys.hint')}</p>
      <QueryState error={keys.error ?? jwks.error} loading={keys.isPending && jwks.error === null} />
      {keys.data && (
        <div className="table-wrap">
          <table className="signing-keys">
            <caption className="visually-hidden">{t('keys.title')}</caption>
            <thead>
              <tr>
                <th scope="col">kid</th>
                <th scope="col">{t('keys.algorithm')}</th>
                <th scope="col">{t('keys.state')}</th>
                <th scope="col">{t('keys.published')}</th>
                <th scope="col">{t('keys.signsFrom')}</th>
                <th scope="col">{t('keys.unpublish')}</th>
                <th scope="col">{t('keys.certificate')}</th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((k) => (
                <tr key={k.kid} data-kid={k.kid} data-state={k.state}>
                  <td>
                    <code>{k.kid}</code>
                    <br />
                    <span className="hint">{k.compatKid}</span>
                  </td>
                  <td>{k.alg}</td>
                  <td className={k.state === 'current' ? 'ok' : undefined}>{t(`keys.${k.state}`)}</td>
                  <td>{formatTime(k.createdTime)}</td>
                  <td>{formatTime(k.activatesTime)}</td>
                  <td>{k.unpublishTime === null ? '—' : formatTime(k.unpublishTime)}</td>
                  <td>
                    <a
                      href={`/v1/operators/${encodeURIComponent(operatorId)}/endorse/keys/${encodeURIComponent(k.kid)}`}
                      aria-label={t('keys.pemOf', { kid: k.kid })}
                    >
                      PEM
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form className="card stack" onSubmit={(e) => void rotate(e)} aria-labelledby="rotate">
        <h2 id="rotate">{t('keys.rotate')}</h2>
        <fieldset>
          <legend>{t('keys.algorithms')}</legend>
          {ENDORSE_ALGORITHMS.map((a) => (
            <label key={a} className="inline">
              <input
                type="checkbox"
                checked={algorithms.has(a)}
                onChange={(e) => {
                  const next = new Set(algorithms);
                  if (e.target.checked) next.add(a);
                  else next.delete(a);
                  setAlgorithms(next);
                }}
              />
              {a}
            </label>
          ))}
        </fieldset>
        <label>
          {t('keys.lead')}
          <input
            type="number"
            min={0}
            max={604_800}
            placeholder={t('keys.leadDefault')}
            value={lead}
            onChange={(e) => setLead(e.target.value)}
            aria-invalid={!leadOk}
          />
        </label>
        <div className="row">
          <Guarded
            type="submit"
            permission={can('Endorse:rotateEndorseKeys')}
            busy={action.busy || algorithms.size === 0 || !leadOk}
          >
            {t('keys.rotate')}
          </Guarded>
        </div>
        <OutcomeLine outcome={action.outcome} />
      </form>
      <section className="card stack" aria-labelledby="jwks">
        <h2 id="jwks">JWKS</h2>
        <p>
          {t('keys.jwksHint')} <a href={jwksPath}>{jwksPath}</a>
        </p>
        <QueryState error={jwks.error} loading={jwks.isPending} />
        {jwks.data && (
          <pre className="json" data-jwks>
            {JSON.stringify(
              { keys: jwks.data.keys.map((k) => ({ ...k, x5c: k.x5c.map((c) => `${c.slice(0, 24)}…`) })) },
              null,
              2,
            )}
          </pre>
        )}
      </section>
    </div>
  );
}
