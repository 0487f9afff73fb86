// The SoracomAir and Endorse namespaces of a group as forms. The values are checked in the page with
// the API's own rules (configuration.ts) before they are sent; the API checks them again on save.

import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import type { Permission } from '../api/permissions';
import { FieldError, Guarded, invalidProps, OutcomeLine, useAction } from '../app/ui';
import { useI18n } from '../i18n/i18n';
import {
  COMPAT_MODES,
  checkParameters,
  ENDORSE_ALGORITHMS,
  ENDORSED_PARAMETERS,
  type FormNamespace,
  lines,
  TOKEN_TIMEOUT,
} from './configuration';
import type { Group } from './queries';

type Params = Array<{ key: string; value: unknown }>;

/** Saves `params` into `namespace` after the page's check; returns the errors by key. */
function useSave(group: Group, namespace: FormNamespace) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const action = useAction();
  const [errors, setErrors] = useState<Record<string, string>>({});
  async function save(params: Params) {
    const found = checkParameters(namespace, params);
    setErrors(found);
    if (Object.keys(found).length > 0) {
      action.clear();
      return;
    }
    if (params.length === 0) return;
    await action.run(
      () =>
        unwrap(
          api.PUT('/v1/groups/{group_id}/configuration/{namespace}', {
            params: { path: { group_id: group.groupId, namespace } },
            body: params,
          }),
        ),
      t('groups.saved'),
    );
    await queryClient.invalidateQueries({ queryKey: ['groups'] });
  }
  return { save, errors, action };
}

export function AirForm({ group, permission }: { group: Group; permission: Permission }) {
  const { t } = useI18n();
  const stored = group.configuration.SoracomAir ?? {};
  const [apns, setApns] = useState(
    Array.isArray(stored.allowedApns) ? (stored.allowedApns as unknown[]).map(String).join('\n') : '',
  );
  const [pool, setPool] = useState(typeof stored.addressPool === 'string' ? stored.addressPool : '');
  const { save, errors, action } = useSave(group, 'SoracomAir');

  function submit(e: FormEvent) {
    e.preventDefault();
    const params: Params = [];
    if (apns.trim() !== '') params.push({ key: 'allowedApns', value: lines(apns) });
    if (pool.trim() !== '') params.push({ key: 'addressPool', value: pool.trim() });
    void save(params);
  }

  return (
    <form className="card stack" aria-labelledby="air" onSubmit={submit} noValidate>
      <h2 id="air">{t('groups.air')}</h2>
      <p className="hint">{t('groups.airHint')}</p>
      <label>
        {t('groups.allowedApns')}
        <textarea
          rows={3}
          value={apns}
          onChange={(e) => setApns(e.target.value)}
          {...invalidProps('air-allowedApns', errors.allowedApns)}
        />
        <FieldError field="air-allowedApns" error={errors.allowedApns} />
      </label>
      <label>
        {t('groups.addressPool')}
        <input
          value={pool}
          placeholder="127.65.0.0/16"
          onChange={(e) => setPool(e.target.value)}
          {...invalidProps('air-addressPool', errors.addressPool)}
        />
        <FieldError field="air-addressPool" error={errors.addressPool} />
      </label>
      <p className="hint">{t('groups.speedHint')}</p>
      <div className="row">
        <Guarded type="submit" permission={permission} busy={action.busy}>
          {t('groups.saveAir')}
        </Guarded>
      </div>
      <OutcomeLine outcome={action.outcome} />
    </form>
  );
}

type Endorsed = (typeof ENDORSED_PARAMETERS)[number];
const DEFAULT_ENDORSED: Record<Endorsed, boolean> = {
  simId: false,
  imsi: true,
  imei: true,
  msisdn: false,
  requestParameters: false,
};

export function EndorseForm({ group, permission }: { group: Group; permission: Permission }) {
  const { t } = useI18n();
  const stored = group.configuration.Endorse ?? {};
  const [enabled, setEnabled] = useState(stored.enabled === true);
  const [endorsed, setEndorsed] = useState<Record<Endorsed, boolean>>({
    ...DEFAULT_ENDORSED,
    ...(typeof stored.parametersToEndorse === 'object' && stored.parametersToEndorse !== null
      ? (stored.parametersToEndorse as Partial<Record<Endorsed, boolean>>)
      : {}),
  });
  const [timeout, setTimeoutText] = useState(String(stored.tokenTimeoutSeconds ?? 180));
  const [origin, setOrigin] = useState(typeof stored.allowOrigin === 'string' ? stored.allowOrigin : '');
  const [redirects, setRedirects] = useState(
    Array.isArray(stored.authorizedRedirectUrls) ? stored.authorizedRedirectUrls.map(String).join('\n') : '',
  );
  const [compat, setCompat] = useState(typeof stored.compat === 'string' ? stored.compat : 'simtrust');
  const [algorithm, setAlgorithm] = useState(
    typeof stored.algorithm === 'string' ? stored.algorithm : 'RS256',
  );
  const { save, errors, action } = useSave(group, 'Endorse');

  function submit(e: FormEvent) {
    e.preventDefault();
    void save([
      { key: 'enabled', value: enabled },
      { key: 'parametersToEndorse', value: endorsed },
      { key: 'tokenTimeoutSeconds', value: timeout.trim() === '' ? Number.NaN : Number(timeout) },
      { key: 'allowOrigin', value: origin.trim() === '' ? null : origin.trim() },
      { key: 'authorizedRedirectUrls', value: lines(redirects) },
      { key: 'compat', value: compat },
      { key: 'algorithm', value: algorithm },
    ]);
  }

  return (
    <form className="card stack" aria-labelledby="endorse" onSubmit={submit} noValidate>
      <h2 id="endorse">{t('groups.endorse')}</h2>
      <label className="inline">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
        {t('groups.endorseEnabled')}
      </label>
      <fieldset>
        <legend>{t('groups.parametersToEndorse')}</legend>
        {ENDORSED_PARAMETERS.map((p) => (
          <label key={p} className="inline">
            <input
              type="checkbox"
              checked={endorsed[p]}
              onChange={(e) => setEndorsed({ ...endorsed, [p]: e.target.checked })}
            />
            {p}
          </label>
        ))}
      </fieldset>
      <label>
        {t('groups.tokenTimeout', TOKEN_TIMEOUT)}
        <input
          type="number"
          inputMode="numeric"
          min={TOKEN_TIMEOUT.min}
          max={TOKEN_TIMEOUT.max}
          value={timeout}
          onChange={(e) => setTimeoutText(e.target.value)}
          {...invalidProps('endorse-tokenTimeoutSeconds', errors.tokenTimeoutSeconds)}
        />
        <FieldError field="endorse-tokenTimeoutSeconds" error={errors.tokenTimeoutSeconds} />
      </label>
      <label>
        {t('groups.allowOrigin')}
        <input
          value={origin}
          placeholder="https://app.example.com"
          onChange={(e) => setOrigin(e.target.value)}
          {...invalidProps('endorse-allowOrigin', errors.allowOrigin)}
        />
        <FieldError field="endorse-allowOrigin" error={errors.allowOrigin} />
      </label>
      <label>
        {t('groups.redirectUrls')}
        <textarea
          rows={3}
          value={redirects}
          onChange={(e) => setRedirects(e.target.value)}
          {...invalidProps('endorse-authorizedRedirectUrls', errors.authorizedRedirectUrls)}
        />
        <FieldError field="endorse-authorizedRedirectUrls" error={errors.authorizedRedirectUrls} />
      </label>
      <div className="row">
        <label>
          {t('groups.compat')}
          <select value={compat} onChange={(e) => setCompat(e.target.value)}>
            {COMPAT_MODES.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
        <label>
          {t('groups.algorithm')}
          <select value={algorithm} onChange={(e) => setAlgorithm(e.target.value)}>
            {ENDORSE_ALGORITHMS.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </label>
      </div>
      <div className="row">
        <Guarded type="submit" permission={permission} busy={action.busy}>
          {t('groups.saveEndorse')}
        </Guarded>
      </div>
      <OutcomeLine outcome={action.outcome} />
    </form>
  );
}
