// The create / edit form of an event handler: target, rule type with its properties, up to five
// actions with theirs and their timing, status. The fields of each type come from vocabulary.ts (the
// platform's own declaration); every value is checked in the page with the API's rules (model.ts)
// and an API refusal is placed on the field it names.

import { type FormEvent, useState } from 'react';
import { ApiError } from '../api/client';
import type { Permission } from '../api/permissions';
import { FieldError, Guarded, invalidProps } from '../app/ui';
import { groupName, useGroupPage } from '../groups/queries';
import { en, type MessageKey } from '../i18n/en';
import { useI18n } from '../i18n/i18n';
import {
  type ActionForm,
  type ActionType,
  actionSpec,
  actionTypesFor,
  type Field,
  type HandlerForm as Form,
  fieldId,
  fieldOfMessage,
  type HandlerBody,
  keepProperties,
  MAX_ACTIONS,
  newAction,
  type Problem,
  type PropertySpec,
  type RuleType,
  ruleSpec,
  ruleTypesFor,
  TARGET_KINDS,
  type TargetKind,
  toBody,
  WEB_REQUEST,
} from './model';

/** The label of a property: its name in the user's language when there is one, else the API's name. */
function usePropertyLabel() {
  const { t } = useI18n();
  return (name: string) => {
    const key = `eh.prop.${name}`;
    return Object.hasOwn(en, key) ? t(key as MessageKey) : name;
  };
}

const LONG = new Set(['message', 'body', 'headers']);

function PropertyInput({
  field,
  name,
  spec,
  value,
  error,
  onChange,
  placeholder,
}: {
  field: Field;
  name: string;
  spec: PropertySpec;
  value: string;
  error: string | undefined;
  onChange: (value: string) => void;
  placeholder?: string;
}) {
  const { t } = useI18n();
  const label = usePropertyLabel();
  const id = fieldId(field);
  const common = { id, value, ...invalidProps(id, error) };
  const v = spec.value;
  const control =
    v.kind === 'enum' || v.kind === 'boolean' ? (
      <select {...common} onChange={(e) => onChange(e.target.value)}>
        {!spec.required && <option value="">{t('eh.notGiven')}</option>}
        {spec.required && value === '' && <option value="">{t('eh.choose')}</option>}
        {(v.kind === 'enum' ? v.values : ['true', 'false']).map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    ) : LONG.has(name) ? (
      <textarea
        {...common}
        rows={name === 'message' ? 4 : 3}
        placeholder={placeholder}
        onChange={(e) => onChange(e.target.value)}
      />
    ) : (
      <input
        {...common}
        type={
          v.kind === 'integer'
            ? 'text'
            : v.kind === 'email'
              ? 'email'
              : v.kind === 'url'
                ? 'url'
                : name === 'signingSecret'
                  ? 'password'
                  : 'text'
        }
        inputMode={v.kind === 'integer' ? 'numeric' : undefined}
        autoComplete="off"
        placeholder={placeholder}
        onChange={(e) => onChange(e.target.value)}
      />
    );
  return (
    <div className="stack eh-property">
      <label htmlFor={id}>
        {label(name)}
        {spec.required ? ' *' : ''}
      </label>
      {control}
      <span className="hint">
        <code>{name}</code> — {spec.description}
      </span>
      <FieldError field={id} error={error} />
    </div>
  );
}

function Properties({
  prefix,
  specs,
  values,
  errors,
  onChange,
  placeholders = {},
}: {
  prefix: string;
  specs: Readonly<Record<string, PropertySpec>>;
  values: Readonly<Record<string, string>>;
  errors: ReadonlyMap<Field, string>;
  onChange: (name: string, value: string) => void;
  placeholders?: Readonly<Record<string, string>>;
}) {
  return (
    <div className="grid">
      {Object.entries(specs).map(([name, spec]) => (
        <PropertyInput
          key={name}
          field={`${prefix}.${name}`}
          name={name}
          spec={spec}
          value={values[name] ?? ''}
          error={errors.get(`${prefix}.${name}`)}
          onChange={(v) => onChange(name, v)}
          placeholder={placeholders[name]}
        />
      ))}
    </div>
  );
}

export function HandlerForm({
  initial,
  operatorId,
  permission,
  submitLabel,
  onSubmit,
}: {
  initial: Form;
  operatorId: string;
  permission: Permission;
  submitLabel: string;
  /** Sends the body; an ApiError it throws is shown at its field. */
  onSubmit: (body: HandlerBody) => Promise<void>;
}) {
  const { t } = useI18n();
  const [form, setForm] = useState<Form>(initial);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [general, setGeneral] = useState<string>();
  const [busy, setBusy] = useState(false);
  const groups = useGroupPage(undefined);
  const errors = new Map<Field, string>();
  for (const p of problems) if (!errors.has(p.field)) errors.set(p.field, p.message);

  const set = (patch: Partial<Form>) => setForm((f) => ({ ...f, ...patch }));
  const setRuleType = (ruleType: RuleType) =>
    setForm((f) => ({
      ...f,
      ruleType,
      ruleProperties: keepProperties(ruleSpec(ruleType).properties, f.ruleProperties),
      actions: f.actions.map((a) =>
        actionTypesFor(ruleType).includes(a.type) ? a : newAction(actionTypesFor(ruleType)[0]),
      ),
    }));
  const setTarget = (targetKind: TargetKind) =>
    setForm((f) => {
      const types = ruleTypesFor(targetKind);
      return {
        ...f,
        targetKind,
        targetId: '',
        ...(types.includes(f.ruleType) ? {} : { ruleType: types[0] ?? f.ruleType }),
      };
    });
  const setAction = (i: number, next: ActionForm) =>
    setForm((f) => ({ ...f, actions: f.actions.map((a, j) => (j === i ? next : a)) }));

  async function submit(e: FormEvent) {
    e.preventDefault();
    setGeneral(undefined);
    const result = toBody(form, operatorId);
    if (!result.ok) {
      setProblems(result.problems);
      document.getElementById(fieldId(result.problems[0]?.field ?? 'name'))?.focus();
      return;
    }
    setProblems([]);
    setBusy(true);
    try {
      await onSubmit(result.body);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const field = err instanceof ApiError ? fieldOfMessage(message) : undefined;
      if (field !== undefined && document.getElementById(fieldId(field)) !== null) {
        setProblems([{ field, message }]);
        document.getElementById(fieldId(field))?.focus();
      } else setGeneral(message);
    } finally {
      setBusy(false);
    }
  }

  const targetError = errors.get('target');
  const targetId = fieldId('target');
  const ruleTypeId = fieldId('rule.type');
  const rule = ruleSpec(form.ruleType);
  return (
    <form className="stack" onSubmit={(e) => void submit(e)} noValidate>
      {general && (
        <p role="alert" className="error">
          {general}
        </p>
      )}
      {problems.length > 0 && (
        <p role="alert" className="error">
          {t('eh.problems', { count: String(problems.length) })}
        </p>
      )}
      <section className="card stack" aria-labelledby="ehs-general">
        <h2 id="ehs-general">{t('eh.general')}</h2>
        <div className="grid">
          <div className="stack">
            <label htmlFor={fieldId('name')}>{t('eh.name')} *</label>
            <input
              id={fieldId('name')}
              value={form.name}
              maxLength={256}
              onChange={(e) => set({ name: e.target.value })}
              {...invalidProps(fieldId('name'), errors.get('name'))}
            />
            <FieldError field={fieldId('name')} error={errors.get('name')} />
          </div>
          <div className="stack">
            <label htmlFor={fieldId('status')}>{t('eh.status')}</label>
            <select
              id={fieldId('status')}
              value={form.status}
              onChange={(e) => set({ status: e.target.value === 'inactive' ? 'inactive' : 'active' })}
            >
              <option value="active">{t('eh.status.active')}</option>
              <option value="inactive">{t('eh.status.inactive')}</option>
            </select>
          </div>
        </div>
        <label htmlFor={fieldId('description')}>{t('eh.description')}</label>
        <textarea
          id={fieldId('description')}
          rows={2}
          value={form.description}
          onChange={(e) => set({ description: e.target.value })}
          {...invalidProps(fieldId('description'), errors.get('description'))}
        />
        <FieldError field={fieldId('description')} error={errors.get('description')} />
      </section>

      <section className="card stack" aria-labelledby="ehs-target">
        <h2 id="ehs-target">{t('eh.target')}</h2>
        <div className="grid">
          <div className="stack">
            <label htmlFor={fieldId('targetKind')}>{t('eh.targetKind')}</label>
            <select
              id={fieldId('targetKind')}
              value={form.targetKind}
              onChange={(e) => setTarget(e.target.value as TargetKind)}
            >
              {TARGET_KINDS.map((k) => (
                <option key={k} value={k}>
                  {t(`eh.target.${k}` as MessageKey)}
                </option>
              ))}
            </select>
          </div>
          {form.targetKind === 'group' && (
            <div className="stack">
              <label htmlFor={targetId}>{t('eh.target.group')} *</label>
              <select
                id={targetId}
                value={form.targetId}
                onChange={(e) => set({ targetId: e.target.value })}
                {...invalidProps(targetId, targetError)}
              >
                <option value="">{t('eh.choose')}</option>
                {form.targetId !== '' && !groups.data?.groups.some((g) => g.groupId === form.targetId) && (
                  <option value={form.targetId}>{form.targetId}</option>
                )}
                {groups.data?.groups.map((g) => (
                  <option key={g.groupId} value={g.groupId}>
                    {groupName(g)}
                  </option>
                ))}
              </select>
              <FieldError field={targetId} error={targetError} />
            </div>
          )}
          {(form.targetKind === 'sim' || form.targetKind === 'imsi') && (
            <div className="stack">
              <label htmlFor={targetId}>
                {t(form.targetKind === 'sim' ? 'eh.targetSimId' : 'eh.targetImsi')} *
              </label>
              <input
                id={targetId}
                value={form.targetId}
                inputMode={form.targetKind === 'imsi' ? 'numeric' : undefined}
                onChange={(e) => set({ targetId: e.target.value })}
                {...invalidProps(targetId, targetError)}
              />
              <FieldError field={targetId} error={targetError} />
            </div>
          )}
          {form.targetKind === 'operator' && (
            <p className="hint">{t('eh.targetOperatorHint', { operatorId })}</p>
          )}
        </div>
      </section>

      <section className="card stack" aria-labelledby="ehs-rule">
        <h2 id="ehs-rule">{t('eh.rule')}</h2>
        <label htmlFor={ruleTypeId}>{t('eh.ruleType')}</label>
        <select
          id={ruleTypeId}
          value={form.ruleType}
          onChange={(e) => setRuleType(e.target.value as RuleType)}
          {...invalidProps(ruleTypeId, errors.get('rule.type'))}
        >
          {ruleTypesFor(form.targetKind).map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
        <span className="hint">{rule.summary}</span>
        <FieldError field={ruleTypeId} error={errors.get('rule.type')} />
        <Properties
          prefix="rule"
          specs={rule.properties}
          values={form.ruleProperties}
          errors={errors}
          onChange={(name, v) => set({ ruleProperties: { ...form.ruleProperties, [name]: v } })}
        />
      </section>

      <section className="card stack" aria-labelledby="ehs-actions">
        <h2 id="ehs-actions">{t('eh.actions')}</h2>
        <FieldError field={fieldId('actions')} error={errors.get('actions')} />
        {form.actions.map((action, i) => {
          const typeId = fieldId(`actions.${i}.type`);
          const spec = actionSpec(action.type);
          return (
            // biome-ignore lint/suspicious/noArrayIndexKey: actions have no id; their place is their identity
            <fieldset key={i} className="stack eh-action">
              <legend>{t('eh.action', { n: String(i + 1) })}</legend>
              <label htmlFor={typeId}>{t('eh.actionType')}</label>
              <select
                id={typeId}
                value={action.type}
                onChange={(e) => {
                  const type = e.target.value as ActionType;
                  setAction(i, {
                    type,
                    properties: keepProperties(actionSpec(type).properties, action.properties),
                  });
                }}
                {...invalidProps(typeId, errors.get(`actions.${i}.type`))}
              >
                {actionTypesFor(form.ruleType).map((a) => (
                  <option key={a} value={a}>
                    {a}
                  </option>
                ))}
              </select>
              <span className="hint">{spec.summary}</span>
              <FieldError field={typeId} error={errors.get(`actions.${i}.type`)} />
              <Properties
                prefix={`actions.${i}`}
                specs={spec.properties}
                values={action.properties}
                errors={errors}
                onChange={(name, v) =>
                  setAction(i, { ...action, properties: { ...action.properties, [name]: v } })
                }
                placeholders={
                  action.type === WEB_REQUEST && action.storedSecretAt === i
                    ? { signingSecret: t('eh.secretKept') }
                    : {}
                }
              />
              <div className="row">
                <button
                  type="button"
                  className="secondary"
                  disabled={form.actions.length === 1}
                  onClick={() => set({ actions: form.actions.filter((_, j) => j !== i) })}
                >
                  {t('eh.removeAction', { n: String(i + 1) })}
                </button>
              </div>
            </fieldset>
          );
        })}
        <div className="row">
          <button
            type="button"
            className="secondary"
            disabled={form.actions.length >= MAX_ACTIONS}
            title={
              form.actions.length >= MAX_ACTIONS
                ? t('eh.maxActions', { max: String(MAX_ACTIONS) })
                : undefined
            }
            onClick={() => set({ actions: [...form.actions, newAction(actionTypesFor(form.ruleType)[0])] })}
          >
            {t('eh.addAction')}
          </button>
        </div>
      </section>
      <div className="row">
        <Guarded type="submit" permission={permission} busy={busy}>
          {submitLabel}
        </Guarded>
      </div>
    </form>
  );
}
