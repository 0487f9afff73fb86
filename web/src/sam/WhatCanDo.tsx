// "What can this user do": each operation asked of GET …/users/{user}/permission/simulate, the
// platform's own policy evaluation (direct permission, roles, default permissions), with the
// statement that decided — the same answer the API's auth layer would give that user now.

import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import type { Permission } from '../api/permissions';
import { Guarded, OutcomeLine, useAction } from '../app/ui';
import { lines } from '../groups/configuration';
import { useI18n } from '../i18n/i18n';
import { useOperatorId } from './queries';

/** What an operator usually wants to know about a console user. */
export const COMMON_OPERATIONS = [
  'Sim:listSims',
  'Sim:getSim',
  'Sim:activateSim',
  'Sim:suspendSim',
  'Sim:updateSimSpeedClass',
  'Sim:setSimGroup',
  'Sim:importSims',
  'Group:createGroup',
  'Group:putConfigurationParameters',
  'User:createUser',
  'User:updateUserPermission',
  'AuditLog:listAuditLogs',
];

interface Row {
  readonly api: string;
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
  readonly source: string;
}

export function WhatCanDo({ userName, permission }: { userName: string; permission: Permission }) {
  const { t } = useI18n();
  const operator_id = useOperatorId();
  const [text, setText] = useState(COMMON_OPERATIONS.join('\n'));
  const [rows, setRows] = useState<readonly Row[]>();
  const action = useAction();

  async function check(e: FormEvent) {
    e.preventDefault();
    const apis = [...new Set(lines(text))].slice(0, 100);
    const answer = await action.run(
      () =>
        Promise.all(
          apis.map((apiName) =>
            unwrap(
              api.GET('/v1/operators/{operator_id}/users/{user_name}/permission/simulate', {
                params: { path: { operator_id, user_name: userName }, query: { api: apiName } },
              }),
            ).then(
              (s): Row => ({
                api: s.api,
                decision: s.decision,
                reason: s.reason,
                source: s.statement ? `${s.statement.source} #${s.statement.index}` : '—',
              }),
            ),
          ),
        ),
      (r) => t('sam.checked', { count: r.length }),
    );
    if (answer) setRows(answer);
  }

  return (
    <section className="card stack" aria-labelledby="what-can">
      <h2 id="what-can">{t('sam.whatCan')}</h2>
      <form className="stack" onSubmit={(e) => void check(e)}>
        <label>
          {t('sam.operations')}
          <textarea className="code" rows={6} value={text} onChange={(e) => setText(e.target.value)} />
        </label>
        <div className="row">
          <Guarded type="submit" permission={permission} busy={action.busy}>
            {t('sam.check')}
          </Guarded>
        </div>
      </form>
      <OutcomeLine outcome={action.outcome} />
      {rows && (
        <div className="table-wrap">
          <table className="simulation">
            <caption className="visually-hidden">{t('sam.whatCan')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('sam.operation')}</th>
                <th scope="col">{t('sam.decision')}</th>
                <th scope="col">{t('sim.reason')}</th>
                <th scope="col">{t('sam.decidedBy')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.api} data-api={r.api} data-decision={r.decision}>
                  <th scope="row">{r.api}</th>
                  <td className={r.decision === 'allow' ? 'ok' : 'error'}>
                    {r.decision === 'allow' ? t('sam.allowed') : t('sam.denied')}
                  </td>
                  <td>{r.reason}</td>
                  <td>{r.source}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
