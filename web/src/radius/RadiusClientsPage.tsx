// RADIUS clients (NAS): the address or network each sends from, its CoA port and whether it must
// sign Access-Requests (Message-Authenticator). The shared secret is write-only: typed here, sealed
// by the platform, never shown again (no answer carries it).

import { useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import { usePermissions } from '../api/permissions';
import type { components } from '../api/schema';
import { Guarded, OutcomeLine, QueryState, useAction } from '../app/ui';
import { useI18n } from '../i18n/i18n';

type RadiusClient = components['schemas']['RadiusClient'];
const OPERATIONS = [
  'RadiusClient:createRadiusClient',
  'RadiusClient:updateRadiusClient',
  'RadiusClient:deleteRadiusClient',
];

export function RadiusClientsPage() {
  const { t, formatTime } = useI18n();
  const clients = useQuery({
    queryKey: ['radius-clients'],
    queryFn: () => unwrap(api.GET('/v1/radius_clients')),
  });
  const can = usePermissions(OPERATIONS);
  const [editing, setEditing] = useState<string>();
  return (
    <div className="stack">
      <h1>{t('radius.title')}</h1>
      <p className="hint">{t('radius.hint')}</p>
      <QueryState error={clients.error} loading={clients.isPending} />
      {clients.data && clients.data.length === 0 && <p>{t('radius.none')}</p>}
      {clients.data && clients.data.length > 0 && (
        <div className="table-wrap">
          <table className="radius-clients">
            <caption className="visually-hidden">{t('radius.title')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('groups.name')}</th>
                <th scope="col">{t('radius.address')}</th>
                <th scope="col">{t('radius.coaPort')}</th>
                <th scope="col">{t('radius.requireMA')}</th>
                <th scope="col">{t('col.modified')}</th>
                <th scope="col">
                  <span className="visually-hidden">{t('sim.actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {clients.data.map((c) => (
                <tr key={c.clientId} data-client={c.address}>
                  <td>{c.name || '—'}</td>
                  <td>{c.address}</td>
                  <td>{c.coaPort}</td>
                  <td>{c.requireMessageAuthenticator ? t('sam.yes') : t('sam.no')}</td>
                  <td>{formatTime(c.lastModifiedTime)}</td>
                  <td>
                    <button
                      type="button"
                      className="secondary"
                      aria-expanded={editing === c.clientId}
                      onClick={() => setEditing(editing === c.clientId ? undefined : c.clientId)}
                    >
                      {t('radius.edit', { address: c.address })}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {clients.data
        ?.filter((c) => c.clientId === editing)
        .map((c) => (
          <ClientForm key={c.clientId} client={c} can={can} onDone={() => setEditing(undefined)} />
        ))}
      <ClientForm can={can} />
    </div>
  );
}

function ClientForm({
  client,
  can,
  onDone,
}: {
  client?: RadiusClient;
  can: ReturnType<typeof usePermissions>;
  onDone?: () => void;
}) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [name, setName] = useState(client?.name ?? '');
  const [address, setAddress] = useState(client?.address ?? '');
  const [secret, setSecret] = useState('');
  const [coaPort, setCoaPort] = useState(String(client?.coaPort ?? 3799));
  const [requireMA, setRequireMA] = useState(client?.requireMessageAuthenticator ?? true);
  const action = useAction();
  const id = client ? `client-${client.clientId}` : 'new-client';
  const port = Number(coaPort);
  const portOk = Number.isInteger(port) && port >= 1 && port <= 65_535;

  async function submit(e: FormEvent) {
    e.preventDefault();
    const common = { name, coaPort: port, requireMessageAuthenticator: requireMA };
    const done = await action.run(
      async () => {
        if (client)
          await unwrap(
            api.PUT('/v1/radius_clients/{client_id}', {
              params: { path: { client_id: client.clientId } },
              body: { ...common, ...(secret ? { secret } : {}) },
            }),
          );
        else
          await unwrap(
            api.POST('/v1/radius_clients', { body: { ...common, address: address.trim(), secret } }),
          );
        return true;
      },
      client ? t('groups.saved') : t('radius.created', { address: address.trim() }),
    );
    setSecret('');
    if (done && !client) {
      setName('');
      setAddress('');
    }
    await queryClient.invalidateQueries({ queryKey: ['radius-clients'] });
  }
  async function remove() {
    if (!client || !window.confirm(t('radius.confirmDelete', { address: client.address }))) return;
    const done = await action.run(async () => {
      await unwrap(
        api.DELETE('/v1/radius_clients/{client_id}', { params: { path: { client_id: client.clientId } } }),
      );
      return true;
    }, t('radius.deleted'));
    if (done) onDone?.();
    await queryClient.invalidateQueries({ queryKey: ['radius-clients'] });
  }

  return (
    <form className="card stack" onSubmit={(e) => void submit(e)} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>
        {client ? t('radius.editTitle', { address: client.address }) : t('radius.add')}
      </h2>
      <div className="row">
        <label>
          {t('radius.address')}
          <input
            required
            disabled={client !== undefined}
            placeholder="10.1.0.0/24"
            value={address}
            onChange={(e) => setAddress(e.target.value)}
          />
        </label>
        <label>
          {t('groups.name')}
          <input maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          {client ? t('radius.newSecret') : t('radius.secret')}
          <input
            type="password"
            autoComplete="new-password"
            required={client === undefined}
            value={secret}
            onChange={(e) => setSecret(e.target.value)}
          />
        </label>
        <label>
          {t('radius.coaPort')}
          <input
            type="number"
            min={1}
            max={65_535}
            value={coaPort}
            onChange={(e) => setCoaPort(e.target.value)}
            aria-invalid={!portOk}
          />
        </label>
        <label className="inline">
          <input type="checkbox" checked={requireMA} onChange={(e) => setRequireMA(e.target.checked)} />
          {t('radius.requireMA')}
        </label>
      </div>
      <div className="row">
        <Guarded
          type="submit"
          permission={can(client ? 'RadiusClient:updateRadiusClient' : 'RadiusClient:createRadiusClient')}
          busy={action.busy || !portOk || (client === undefined && (address.trim() === '' || secret === ''))}
        >
          {client ? t('radius.save') : t('radius.add')}
        </Guarded>
        {client && (
          <Guarded
            className="danger"
            permission={can('RadiusClient:deleteRadiusClient')}
            busy={action.busy}
            onClick={() => void remove()}
          >
            {t('radius.delete')}
          </Guarded>
        )}
      </div>
      <OutcomeLine outcome={action.outcome} />
    </form>
  );
}
