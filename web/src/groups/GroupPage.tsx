import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import { usePermissions } from '../api/permissions';
import { Link, navigate } from '../app/router';
import { Guarded, OutcomeLine, QueryState, useAction } from '../app/ui';
import { useI18n } from '../i18n/i18n';
import { identity } from '../sims/model';
import { GROUP_OPERATIONS } from './GroupListPage';
import { AirForm, EndorseForm } from './NamespaceForms';
import { type Group, groupName, useGroup, useGroupSims } from './queries';

const FORM_NAMESPACES = new Set(['SoracomAir', 'Endorse']);

export function GroupPage({ groupId }: { groupId: string }) {
  const { t } = useI18n();
  const group = useGroup(groupId);
  const can = usePermissions(GROUP_OPERATIONS);
  if (group.data === undefined) return <QueryState error={group.error} loading={group.isPending} />;
  const g = group.data;
  const edit = can('Group:putConfigurationParameters');
  return (
    <div className="stack">
      <p>
        <Link to="/groups">← {t('groups.back')}</Link>
      </p>
      <h1>{t('groups.group', { name: groupName(g) })}</h1>
      <div className="grid">
        <Identity group={g} can={can} />
        <Members groupId={groupId} can={can} />
      </div>
      <div className="grid">
        {/* Each form starts from the stored values and then keeps its own state: saving one namespace
            (which refreshes the group) leaves the other form's unsaved edits alone. */}
        <AirForm group={g} permission={edit} />
        <EndorseForm group={g} permission={edit} />
      </div>
      <OtherNamespaces group={g} can={can} />
    </div>
  );
}

type Can = ReturnType<typeof usePermissions>;

function Identity({ group, can }: { group: Group; can: Can }) {
  const { t, formatTime } = useI18n();
  const queryClient = useQueryClient();
  const [name, setName] = useState(group.tags.name ?? '');
  const action = useAction();

  async function rename(e: FormEvent) {
    e.preventDefault();
    await action.run(
      () =>
        unwrap(
          api.PUT('/v1/groups/{group_id}/tags', {
            params: { path: { group_id: group.groupId } },
            body: [{ tagName: 'name', tagValue: name.trim() }],
          }),
        ),
      t('groups.renamed', { name: name.trim() }),
    );
    await queryClient.invalidateQueries({ queryKey: ['groups'] });
  }

  return (
    <section className="card stack" aria-labelledby="group-identity">
      <h2 id="group-identity">{t('groups.identity')}</h2>
      <dl>
        <dt>{t('groups.id')}</dt>
        <dd>{group.groupId}</dd>
        <dt>{t('col.tags')}</dt>
        <dd>
          {Object.entries(group.tags)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ') || '—'}
        </dd>
        <dt>{t('groups.createdTime')}</dt>
        <dd>{formatTime(group.createdTime)}</dd>
        <dt>{t('col.modified')}</dt>
        <dd>{formatTime(group.lastModifiedTime)}</dd>
      </dl>
      <form className="row" onSubmit={(e) => void rename(e)}>
        <label>
          {t('groups.name')}
          <input required maxLength={1000} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <Guarded
          type="submit"
          permission={can('Group:putGroupTags')}
          busy={action.busy || name.trim() === '' || name.trim() === group.tags.name}
        >
          {t('groups.rename')}
        </Guarded>
      </form>
      <OutcomeLine outcome={action.outcome} />
    </section>
  );
}

function Members({ groupId, can }: { groupId: string; can: Can }) {
  const { t } = useI18n();
  const sims = useGroupSims(groupId);
  const queryClient = useQueryClient();
  const action = useAction();
  const count = sims.data?.sims.length ?? 0;
  const permission = can('Group:deleteGroup');
  // A group with SIMs cannot be deleted (the API answers ERR_GROUP_IN_USE): say so before the click.
  const blocked = permission.allowed && count > 0;

  async function remove() {
    if (!window.confirm(t('groups.confirmDelete'))) return;
    const done = await action.run(async () => {
      await unwrap(api.DELETE('/v1/groups/{group_id}', { params: { path: { group_id: groupId } } }));
      return true;
    }, t('groups.deleted'));
    if (done !== true) return;
    // Leave the page first: refreshing this group's query now would only find it gone (404).
    navigate('/groups');
    queryClient.removeQueries({ queryKey: ['groups', 'one', groupId] });
    await queryClient.invalidateQueries({ queryKey: ['groups'] });
  }

  return (
    <section className="card stack" aria-labelledby="group-sims">
      <h2 id="group-sims">{t('groups.sims')}</h2>
      <QueryState error={sims.error} loading={sims.isPending} />
      {sims.data && count === 0 && <p>{t('groups.noSims')}</p>}
      {sims.data && count > 0 && (
        <ul className="group-sims">
          {sims.data.sims.map((s) => (
            <li key={s.simId} data-sim-id={s.simId}>
              <Link to={`/sims/${encodeURIComponent(s.simId)}`}>{identity(s).iccid || s.simId}</Link> —{' '}
              {s.status}
            </li>
          ))}
        </ul>
      )}
      <p>
        <Link to={`/sims?groupId=${encodeURIComponent(groupId)}`}>{t('groups.allSims')}</Link>
      </p>
      <p className="hint">{t('groups.moveHint')}</p>
      <div className="row">
        <Guarded
          className="danger"
          permission={blocked ? { allowed: false, reason: t('groups.notEmpty') } : permission}
          busy={action.busy}
          onClick={() => void remove()}
        >
          {t('groups.delete')}
        </Guarded>
      </div>
      <OutcomeLine outcome={action.outcome} />
    </section>
  );
}

function OtherNamespaces({ group, can }: { group: Group; can: Can }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const action = useAction();
  const namespaces = Object.entries(group.configuration);
  if (namespaces.length === 0) return null;

  async function remove(namespace: string) {
    if (!window.confirm(t('groups.confirmRemoveNamespace', { namespace }))) return;
    await action.run(
      () =>
        unwrap(
          api.DELETE('/v1/groups/{group_id}/configuration/{namespace}', {
            params: { path: { group_id: group.groupId, namespace } },
          }),
        ),
      t('groups.namespaceRemoved', { namespace }),
    );
    await queryClient.invalidateQueries({ queryKey: ['groups'] });
  }

  return (
    <section className="card stack" aria-labelledby="group-config">
      <h2 id="group-config">{t('groups.configuration')}</h2>
      {namespaces.map(([namespace, values]) => (
        <div key={namespace} className="stack">
          <h3>
            {namespace}
            {FORM_NAMESPACES.has(namespace) ? ` (${t('groups.editedAbove')})` : ''}
          </h3>
          <pre className="json">{JSON.stringify(values, null, 2)}</pre>
          <Guarded
            className="secondary"
            permission={can('Group:deleteConfigurationNamespace')}
            busy={action.busy}
            onClick={() => void remove(namespace)}
          >
            {t('groups.removeNamespace', { namespace })}
          </Guarded>
        </div>
      ))}
      <OutcomeLine outcome={action.outcome} />
    </section>
  );
}
