// The EventHandler API (issue 14, slice 1): conformance to SORACOM's shapes for every rule type and
// every action type (a valid body is stored and read back unchanged; invalid bodies are refused with
// a code and a message naming the field), the limits (5 actions, 10 handlers per target), tenant
// isolation of targets and handlers, per-subscriber and per-SIM listings, ignore/unignore, SAM
// permissions and the audit log. Runs on SQLite and PostgreSQL (SIMTRUST_TEST_DATABASE).

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACTION_TYPE_NAMES,
  RULE_TYPE_NAMES,
  SIMTRUST_RULE_TYPES,
} from '../../../src/platform/events/rules.js';
import { startTestApi, type TestApi, vendorCsv } from '../../helpers/app.js';

let api: TestApi;
let op: string;
let rows: ReturnType<typeof vendorCsv>['rows'];
let groupId: string;
let other: { operatorId: string; token: string };
let otherSim: string;
let otherImsi: string;
let otherGroup: string;

type Handler = {
  handlerId: string;
  name: string;
  description: string;
  status: string;
  targetImsi?: string;
  targetSimId?: string;
  targetGroupId?: string;
  targetOperatorId?: string;
  ruleConfig: { type: string; properties: Record<string, string> };
  actionConfigList: Array<{ type: string; properties: Record<string, string> }>;
};

const simOf = (i: number) => (rows[i] as { iccid: string }).iccid;
const imsiOf = (i: number) => (rows[i] as { imsi: string }).imsi;

async function importSims(token: string | undefined, start: number, count: number, group?: string) {
  const csv = vendorCsv(count, { start });
  const lines = csv.rows.map((r) => `${r.iccid},${r.imsi},${r.ki},${r.opc}${group ? `,${group}` : ''}`);
  const res = await api.call({
    method: 'POST',
    url: '/v1/sims/import',
    headers: { 'content-type': 'text/csv' },
    payload: `iccid,imsi,ki,opc${group ? ',group' : ''}\n${lines.join('\n')}\n`,
    ...(token === undefined ? {} : { token }),
  });
  expect(res.statusCode, res.body).toBe(200);
  return csv.rows;
}

beforeAll(async () => {
  api = await startTestApi();
  op = api.operator.operatorId;
  const g = await api.call({ method: 'POST', url: '/v1/groups', payload: { tags: { name: 'fleet' } } });
  groupId = g.json().groupId;
  rows = await importSims(undefined, 0, 30, 'fleet');
  other = await api.newOperator();
  const og = await api.call({
    method: 'POST',
    url: '/v1/groups',
    payload: { tags: { name: 'theirs' } },
    token: other.token,
  });
  otherGroup = og.json().groupId;
  const theirs = await importSims(other.token, 500, 1);
  otherSim = (theirs[0] as { iccid: string }).iccid;
  otherImsi = (theirs[0] as { imsi: string }).imsi;
});
afterAll(() => api.close());

const mail = {
  type: 'SendMailToOperatorAction',
  properties: { title: 't', message: 'm', executionDateTimeConst: 'IMMEDIATELY' },
};

function body(over: Record<string, unknown> = {}) {
  return {
    name: 'h',
    status: 'active',
    targetSimId: simOf(0),
    ruleConfig: {
      type: 'SimDailyTotalTrafficRule',
      properties: { limitTotalTrafficMegaByte: '100', inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY' },
    },
    actionConfigList: [mail],
    ...over,
  };
}

const create = (payload: unknown, token?: string) =>
  api.call({
    method: 'POST',
    url: '/v1/event_handlers',
    payload: payload as object,
    ...(token ? { token } : {}),
  });

async function created(payload: unknown): Promise<Handler> {
  const res = await create(payload);
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as Handler;
}

const del = (id: string) => api.call({ method: 'DELETE', url: `/v1/event_handlers/${id}` });

/** One valid configuration of every rule type (with the target it needs), as SORACOM documents them. */
const VALID_RULES: Record<string, { properties: Record<string, string>; target?: Record<string, string> }> = {
  SubscriberFirstTrafficRule: { properties: { inactiveTimeoutDateConst: 'NEVER' } },
  SubscriberDailyTrafficRule: {
    properties: { limitTotalTrafficMegaByte: '10', inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY' },
  },
  SubscriberMonthlyTrafficRule: {
    properties: {
      limitTotalTrafficMegaByte: '1024',
      inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_MONTH',
      inactiveTimeoutOffsetMinutes: '30',
    },
  },
  SubscriberCumulativeTrafficRule: {
    properties: { limitTotalTrafficMegaByte: '2147483647', inactiveTimeoutDateConst: 'NEVER' },
  },
  SimDailyTotalTrafficRule: {
    properties: {
      limitTotalTrafficMegaByte: '1',
      inactiveTimeoutDateConst: 'AFTER_ONE_DAY',
      runOnceAmongTarget: 'false',
    },
  },
  SimMonthlyTotalTrafficRule: {
    properties: { limitTotalTrafficMegaByte: '500', inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_MONTH' },
  },
  SimCumulativeTotalTrafficRule: {
    properties: {
      limitTotalTrafficMegaByte: '500',
      inactiveTimeoutDateConst: 'NEVER',
      runOnceAmongTarget: 'true',
    },
  },
  DailyTotalTrafficRule: {
    properties: { limitTotalTrafficMegaByte: '5000', inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY' },
    target: { targetGroupId: 'GROUP' },
  },
  MonthlyTotalTrafficRule: {
    properties: { limitTotalTrafficMegaByte: '5000', inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_MONTH' },
    target: { targetOperatorId: 'OPERATOR' },
  },
  SubscriberStatusAttributeRule: {
    properties: {
      sourceStatus: 'active',
      targetStatus: 'suspended',
      inactiveTimeoutDateConst: 'IMMEDIATELY',
    },
  },
  SimStatusAttributeRule: {
    properties: {
      targetStatus: 'inactive',
      inactiveTimeoutDateConst: 'IMMEDIATELY',
      runOnceAmongTarget: 'true',
    },
  },
  SubscriberSpeedClassAttributeRule: {
    properties: { targetSpeedClass: 's1.minimum', inactiveTimeoutDateConst: 'IMMEDIATELY' },
  },
  SimSpeedClassAttributeRule: {
    properties: { targetSpeedClass: 's1.fast', inactiveTimeoutDateConst: 'AFTER_ONE_DAY' },
  },
  SubscriberExpiredRule: { properties: { inactiveTimeoutDateConst: 'NEVER' } },
  SimExpiredRule: { properties: { inactiveTimeoutDateConst: 'IMMEDIATELY' } },
  SubscriberImeiMismatchedRule: { properties: { inactiveTimeoutDateConst: 'IMMEDIATELY' } },
  SimImeiMismatchedRule: {
    properties: { inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY', inactiveTimeoutOffsetMinutes: '0' },
  },
  SimSubscriptionStatusRule: {
    properties: { targetOtaStatus: 'failed', inactiveTimeoutDateConst: 'IMMEDIATELY' },
  },
  SubscriberSessionStatusRule: {
    properties: { sessionStatus: 'Created', hasImei: 'true', inactiveTimeoutDateConst: 'IMMEDIATELY' },
  },
  MonthlyChargeRule: {
    properties: { limitTotalAmount: '1000', inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_MONTH' },
    target: { targetOperatorId: 'OPERATOR' },
  },
  SimAntiTheftRule: {
    properties: { targetEvent: 'ANTITHEFT_IMEI_BLOCKED', inactiveTimeoutDateConst: 'IMMEDIATELY' },
  },
};

/** Invalid configurations of every rule type: [properties, field the message must name]. */
const INVALID_RULES: Record<string, Array<[Record<string, string>, string]>> = {
  SubscriberFirstTrafficRule: [
    [{ inactiveTimeoutDateConst: 'IMMEDIATELY' }, 'inactiveTimeoutDateConst'],
    [{ inactiveTimeoutDateConst: 'NEVER', limitTotalTrafficMegaByte: '1' }, 'limitTotalTrafficMegaByte'],
  ],
  SubscriberDailyTrafficRule: [
    [{ inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY' }, 'limitTotalTrafficMegaByte'],
    [
      { limitTotalTrafficMegaByte: '10', inactiveTimeoutDateConst: 'IMMEDIATELY' },
      'inactiveTimeoutDateConst',
    ],
    [{ limitTotalTrafficMegaByte: '0', inactiveTimeoutDateConst: 'NEVER' }, 'limitTotalTrafficMegaByte'],
  ],
  SubscriberMonthlyTrafficRule: [
    [{ limitTotalTrafficMegaByte: '1e3', inactiveTimeoutDateConst: 'NEVER' }, 'limitTotalTrafficMegaByte'],
    [
      {
        limitTotalTrafficMegaByte: '1',
        inactiveTimeoutDateConst: 'NEVER',
        inactiveTimeoutOffsetMinutes: '5',
      },
      'inactiveTimeoutOffsetMinutes',
    ],
  ],
  SubscriberCumulativeTrafficRule: [
    [
      { limitTotalTrafficMegaByte: '2147483648', inactiveTimeoutDateConst: 'NEVER' },
      'limitTotalTrafficMegaByte',
    ],
    [{ limitTotalTrafficMegaByte: '1' }, 'inactiveTimeoutDateConst'],
  ],
  SimDailyTotalTrafficRule: [
    [
      { limitTotalTrafficMegaByte: '1', inactiveTimeoutDateConst: 'NEVER', runOnceAmongTarget: 'yes' },
      'runOnceAmongTarget',
    ],
  ],
  SimMonthlyTotalTrafficRule: [
    [
      {
        limitTotalTrafficMegaByte: '1',
        inactiveTimeoutDateConst: 'AFTER_ONE_DAY',
        inactiveTimeoutOffsetMinutes: '525601',
      },
      'inactiveTimeoutOffsetMinutes',
    ],
  ],
  SimCumulativeTotalTrafficRule: [
    [{ limitTotalTrafficMegaByte: '-1', inactiveTimeoutDateConst: 'NEVER' }, 'limitTotalTrafficMegaByte'],
  ],
  DailyTotalTrafficRule: [[{ limitTotalTrafficMegaByte: '1', inactiveTimeoutDateConst: 'NEVER' }, 'targets']],
  MonthlyTotalTrafficRule: [
    [{ limitTotalTrafficMegaByte: '1', inactiveTimeoutDateConst: 'NEVER' }, 'targets'],
  ],
  SubscriberStatusAttributeRule: [
    [{ inactiveTimeoutDateConst: 'IMMEDIATELY' }, 'targetStatus'],
    [{ targetStatus: 'deleted', inactiveTimeoutDateConst: 'IMMEDIATELY' }, 'targetStatus'],
  ],
  SimStatusAttributeRule: [
    [
      { sourceStatus: 'gone', targetStatus: 'active', inactiveTimeoutDateConst: 'IMMEDIATELY' },
      'sourceStatus',
    ],
  ],
  SubscriberSpeedClassAttributeRule: [
    [{ targetSpeedClass: 's9.warp', inactiveTimeoutDateConst: 'IMMEDIATELY' }, 'targetSpeedClass'],
  ],
  SimSpeedClassAttributeRule: [[{ inactiveTimeoutDateConst: 'IMMEDIATELY' }, 'targetSpeedClass']],
  SubscriberExpiredRule: [[{ inactiveTimeoutDateConst: 'SOMETIMES' }, 'inactiveTimeoutDateConst']],
  SimExpiredRule: [[{ inactiveTimeoutDateConst: 'NEVER', speed: 'x' }, 'speed']],
  SubscriberImeiMismatchedRule: [[{}, 'inactiveTimeoutDateConst']],
  SimImeiMismatchedRule: [
    [{ inactiveTimeoutDateConst: 'NEVER', runOnceAmongTarget: 'TRUE' }, 'runOnceAmongTarget'],
  ],
  SimSubscriptionStatusRule: [
    [{ targetOtaStatus: 'done', inactiveTimeoutDateConst: 'NEVER' }, 'targetOtaStatus'],
  ],
  SubscriberSessionStatusRule: [
    [{ sessionStatus: 'created', inactiveTimeoutDateConst: 'NEVER' }, 'sessionStatus'],
    [{ sessionStatus: 'Deleted', hasImei: '1', inactiveTimeoutDateConst: 'NEVER' }, 'hasImei'],
  ],
  MonthlyChargeRule: [[{ inactiveTimeoutDateConst: 'NEVER' }, 'limitTotalAmount']],
  SimAntiTheftRule: [
    [{ inactiveTimeoutDateConst: 'NEVER' }, 'targetEvent'],
    [{ targetEvent: 'ANTITHEFT_LOCAL_INFO', inactiveTimeoutDateConst: 'NEVER' }, 'targetEvent'],
  ],
};

const at = (extra: Record<string, string> = {}) => ({ executionDateTimeConst: 'IMMEDIATELY', ...extra });

/** One valid configuration of every action type. */
const VALID_ACTIONS: Record<string, Record<string, string>> = {
  ChangeSpeedClassAction: { speedClass: 's1.minimum', ...at({ executionOffsetMinutes: '10' }) },
  SendMailAction: {
    to: 'ops@example.com',
    title: 'SIM ${simId}',
    message: 'IMSI ${imsi} over limit',
    ...at(),
  },
  SendMailToOperatorAction: {
    title: 'Alert',
    message: 'SIM ${simId}',
    executionDateTimeConst: 'BEGINNING_OF_NEXT_DAY',
  },
  ActivationAction: { executionDateTimeConst: 'BEGINNING_OF_NEXT_MONTH' },
  DeactivationAction: { executionDateTimeConst: 'AFTER_ONE_DAY' },
  StandbyAction: at(),
  SuspendAction: at(),
  ExecuteWebRequestAction: {
    url: 'https://hooks.example.com/sim/${simId}',
    httpMethod: 'POST',
    contentType: 'application/json',
    headers: '{"X-Source":"simtrust"}',
    body: '{"imsi":"${imsi}"}',
    ...at(),
  },
  InvokeAWSLambdaAction: {
    endpoint: 'https://lambda.ap-northeast-1.amazonaws.com',
    functionName: 'f',
    credentialsId: 'c',
    ...at(),
  },
  ImeiLockAction: at(),
};

const INVALID_ACTIONS: Record<string, Array<[Record<string, string>, string]>> = {
  ChangeSpeedClassAction: [
    [at(), 'speedClass'],
    [{ speedClass: 's1.minimum' }, 'executionDateTimeConst'],
    [{ speedClass: 'fastest', ...at() }, 'speedClass'],
    [{ speedClass: 's1.slow', ...at({ executionOffsetMinutes: '-1' }) }, 'executionOffsetMinutes'],
  ],
  SendMailAction: [
    [{ to: 'a@example.com,b@example.com', title: 't', message: 'm', ...at() }, 'to'],
    [{ to: 'ops@example.com', title: '', message: 'm', ...at() }, 'title'],
    [{ to: 'ops@example.com', title: 't', ...at() }, 'message'],
  ],
  SendMailToOperatorAction: [[{ title: 't', message: 'm', to: 'x@example.com', ...at() }, 'to']],
  ActivationAction: [[{ executionDateTimeConst: 'LATER' }, 'executionDateTimeConst']],
  DeactivationAction: [[{ ...at(), speedClass: 's1.minimum' }, 'speedClass']],
  StandbyAction: [[{}, 'executionDateTimeConst']],
  SuspendAction: [[{ ...at(), executionOffsetMinutes: '1.5' }, 'executionOffsetMinutes']],
  ExecuteWebRequestAction: [
    [{ url: 'ftp://example.com/', httpMethod: 'POST', contentType: 'a/b', headers: '{}', ...at() }, 'url'],
    [
      { url: 'https://u:p@example.com/', httpMethod: 'GET', contentType: 'a/b', headers: '{}', ...at() },
      'url',
    ],
    [
      { url: 'https://example.com/', httpMethod: 'PATCH', contentType: 'a/b', headers: '{}', ...at() },
      'httpMethod',
    ],
    [
      { url: 'https://example.com/', httpMethod: 'GET', contentType: 'a/b', headers: '[1]', ...at() },
      'headers',
    ],
    [
      {
        url: 'https://example.com/',
        httpMethod: 'GET',
        contentType: 'a/b',
        headers: '{"X":"a\\r\\nInjected: 1"}',
        ...at(),
      },
      'headers',
    ],
    [
      {
        url: 'https://example.com/',
        httpMethod: 'GET',
        contentType: 'a/b',
        headers: '{}',
        body: 'x',
        ...at(),
      },
      'body',
    ],
    [
      {
        url: 'https://example.com/',
        httpMethod: 'PUT',
        contentType: 'a/b',
        headers: '{}',
        body: 'x'.repeat(16_385),
        ...at(),
      },
      'body',
    ],
    [{ url: 'https://example.com/', httpMethod: 'GET', contentType: 'a/b', ...at() }, 'headers'],
  ],
  InvokeAWSLambdaAction: [
    [{ endpoint: 'https://lambda.example.com', functionName: 'f', ...at() }, 'credentialsId'],
  ],
  ImeiLockAction: [[{ ...at(), imei: '1' }, 'imei']],
};

function targetFor(t: Record<string, string> | undefined, i: number): Record<string, string> {
  if (t === undefined) return { targetSimId: simOf(i) };
  if (t.targetGroupId) return { targetGroupId: groupId };
  return { targetOperatorId: op };
}

describe('rule types', () => {
  it("covers SORACOM's 20 rule types, simtrust's own and all 10 action types in these tables", () => {
    expect(Object.keys(VALID_RULES).sort()).toEqual([...RULE_TYPE_NAMES].sort());
    expect(Object.keys(INVALID_RULES).sort()).toEqual([...RULE_TYPE_NAMES].sort());
    expect(RULE_TYPE_NAMES.filter((t) => !SIMTRUST_RULE_TYPES.includes(t))).toHaveLength(20);
    expect(Object.keys(VALID_ACTIONS).sort()).toEqual([...ACTION_TYPE_NAMES].sort());
    expect(Object.keys(INVALID_ACTIONS).sort()).toEqual([...ACTION_TYPE_NAMES].sort());
    expect(ACTION_TYPE_NAMES).toHaveLength(10);
    // docs/event-handlers.md documents every one of them.
    const doc = readFileSync('docs/event-handlers.md', 'utf8');
    for (const type of [...RULE_TYPE_NAMES, ...ACTION_TYPE_NAMES]) expect(doc).toContain(`\`${type}\``);
  });

  it.each(Object.entries(VALID_RULES).map(([type, c], i) => [type, c, i] as const))(
    'a valid %s is stored and read back as sent',
    async (type, config, i) => {
      const payload = body({
        targetSimId: undefined,
        ...targetFor(config.target, 1 + (i % 5)),
        name: `rule ${type}`,
        description: `d ${type}`,
        ruleConfig: { type, properties: config.properties },
      });
      const res = await create(payload);
      if (type === 'MonthlyChargeRule') {
        expect(res.statusCode, res.body).toBe(400);
        expect(res.json()).toMatchObject({ code: 'ERR_EVENT_HANDLER_UNSUPPORTED' });
        expect(res.json().message).toMatch(/billing/);
        return;
      }
      expect(res.statusCode, res.body).toBe(201);
      const h = res.json() as Handler;
      expect(h.ruleConfig).toEqual({ type, properties: config.properties });
      const got = await api.call({ method: 'GET', url: `/v1/event_handlers/${h.handlerId}` });
      expect(got.statusCode).toBe(200);
      expect(got.json()).toEqual(h);
      expect(h).toMatchObject({ name: `rule ${type}`, description: `d ${type}`, status: 'active' });
      expect((await del(h.handlerId)).statusCode).toBe(204);
    },
  );

  it.each(
    Object.entries(INVALID_RULES).flatMap(([type, cases]) =>
      cases.map(([properties, field]) => [type, field, properties] as const),
    ),
  )('an invalid %s is refused naming %s', async (type, field, properties) => {
    const res = await create(body({ ruleConfig: { type, properties } }));
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().code).toBe('ERR_VALIDATION');
    expect(res.json().message).toContain(field);
  });

  it('refuses an unknown rule type, listing the known ones', async () => {
    const res = await create(body({ ruleConfig: { type: 'DailyTrafficRule', properties: {} } }));
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('ERR_VALIDATION');
    const msg = await create(body({ ruleConfig: { type: 'SubscriberStatusChanged', properties: {} } }));
    expect(msg.statusCode).toBe(400);
  });

  it('stores a number or boolean property value as the string SORACOM sends ("100", "true")', async () => {
    const res = await create(
      body({
        ruleConfig: {
          type: 'SimDailyTotalTrafficRule',
          properties: {
            limitTotalTrafficMegaByte: 100,
            inactiveTimeoutDateConst: 'NEVER',
            runOnceAmongTarget: true,
          },
        },
      }),
    );
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().ruleConfig.properties).toEqual({
      limitTotalTrafficMegaByte: '100',
      inactiveTimeoutDateConst: 'NEVER',
      runOnceAmongTarget: 'true',
    });
    await del(res.json().handlerId);
    const object = await create(
      body({
        ruleConfig: {
          type: 'SimDailyTotalTrafficRule',
          properties: { limitTotalTrafficMegaByte: { n: 1 }, inactiveTimeoutDateConst: 'NEVER' },
        },
      }),
    );
    expect(object.statusCode).toBe(400);
    expect(object.json().code).toBe('ERR_VALIDATION');
  });
});

describe('action types', () => {
  it.each(Object.entries(VALID_ACTIONS))(
    'a valid %s is stored and read back as sent',
    async (type, properties) => {
      const rule =
        type === 'ImeiLockAction'
          ? {
              type: 'SubscriberSessionStatusRule',
              properties: { sessionStatus: 'Created', hasImei: 'true', inactiveTimeoutDateConst: 'NEVER' },
            }
          : undefined;
      const res = await create(
        body({
          targetSimId: simOf(7),
          actionConfigList: [{ type, properties }],
          ...(rule ? { ruleConfig: rule } : {}),
        }),
      );
      if (type === 'InvokeAWSLambdaAction') {
        expect(res.statusCode, res.body).toBe(400);
        expect(res.json()).toMatchObject({ code: 'ERR_EVENT_HANDLER_UNSUPPORTED' });
        expect(res.json().message).toMatch(/ExecuteWebRequestAction/);
        return;
      }
      expect(res.statusCode, res.body).toBe(201);
      const h = res.json() as Handler;
      // Header values are secrets: answers show the names only (event-handlers-web-request.test.ts).
      const shown =
        type === 'ExecuteWebRequestAction'
          ? { ...properties, headers: '{"X-Source":"********"}' }
          : properties;
      expect(h.actionConfigList).toEqual([{ type, properties: shown }]);
      expect((await api.call({ method: 'GET', url: `/v1/event_handlers/${h.handlerId}` })).json()).toEqual(h);
      expect((await del(h.handlerId)).statusCode).toBe(204);
    },
  );

  it.each(
    Object.entries(INVALID_ACTIONS).flatMap(([type, cases]) =>
      cases.map(([properties, field]) => [type, field, properties] as const),
    ),
  )('an invalid %s is refused naming %s', async (type, field, properties) => {
    const rule =
      type === 'ImeiLockAction'
        ? {
            type: 'SubscriberSessionStatusRule',
            properties: { sessionStatus: 'Created', hasImei: 'true', inactiveTimeoutDateConst: 'NEVER' },
          }
        : undefined;
    const res = await create(
      body({ actionConfigList: [{ type, properties }], ...(rule ? { ruleConfig: rule } : {}) }),
    );
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().code).toBe('ERR_VALIDATION');
    expect(res.json().message).toContain(field);
  });

  it('refuses an action the rule does not allow', async () => {
    // ImeiLockAction needs a session rule with hasImei "true".
    const lock = await create(body({ actionConfigList: [{ type: 'ImeiLockAction', properties: at() }] }));
    expect(lock.statusCode).toBe(400);
    expect(lock.json().message).toMatch(/ImeiLockAction is allowed only with SubscriberSessionStatusRule/);
    const noImei = await create(
      body({
        ruleConfig: {
          type: 'SubscriberSessionStatusRule',
          properties: { sessionStatus: 'Created', hasImei: 'false', inactiveTimeoutDateConst: 'NEVER' },
        },
        actionConfigList: [{ type: 'ImeiLockAction', properties: at() }],
      }),
    );
    expect(noImei.statusCode).toBe(400);
    // A rule on the total of a group has no single SIM to slow down or suspend.
    for (const type of ['ChangeSpeedClassAction', 'SuspendAction']) {
      const res = await create(
        body({
          targetSimId: undefined,
          targetGroupId: groupId,
          ruleConfig: {
            type: 'DailyTotalTrafficRule',
            properties: { limitTotalTrafficMegaByte: '1', inactiveTimeoutDateConst: 'NEVER' },
          },
          actionConfigList: [{ type, properties: VALID_ACTIONS[type] }],
        }),
      );
      expect(res.statusCode, type).toBe(400);
      expect(res.json().message).toMatch(/acts on one SIM/);
    }
  });

  it('refuses an unknown action type and more than 5 actions', async () => {
    const unknown = await create(
      body({ actionConfigList: [{ type: 'InvokeWebhookAction', properties: at() }] }),
    );
    expect(unknown.statusCode).toBe(400);
    const six = await create(body({ actionConfigList: Array.from({ length: 6 }, () => mail) }));
    expect(six.statusCode).toBe(400);
    expect(six.json().code).toBe('ERR_VALIDATION');
    const none = await create(body({ actionConfigList: [] }));
    expect(none.statusCode).toBe(400);
    const five = await created(
      body({ targetSimId: simOf(8), actionConfigList: Array.from({ length: 5 }, () => mail) }),
    );
    expect(five.actionConfigList).toHaveLength(5);
    await del(five.handlerId);
  });
});

describe('targets', () => {
  it('needs exactly one target', async () => {
    const none = await create(body({ targetSimId: undefined }));
    expect(none.statusCode).toBe(400);
    expect(none.json().message).toMatch(/exactly one target/);
    const two = await create(body({ targetGroupId: groupId }));
    expect(two.statusCode).toBe(400);
    expect(two.json().message).toMatch(/targetSimId, targetGroupId/);
  });

  it("refuses another operator's SIM, IMSI, group and operator id as if they did not exist", async () => {
    for (const [target, code] of [
      [{ targetSimId: otherSim }, 'ERR_SIM_NOT_FOUND'],
      [{ targetImsi: otherImsi }, 'ERR_SIM_NOT_FOUND'],
      [{ targetGroupId: otherGroup }, 'ERR_GROUP_NOT_FOUND'],
      [{ targetOperatorId: other.operatorId }, 'ERR_NOT_FOUND'],
    ] as const) {
      const res = await create(body({ targetSimId: undefined, ...target }));
      expect(res.statusCode, JSON.stringify(target)).toBe(404);
      expect(res.json().code).toBe(code);
    }
    const count = await api.db.store.db
      .selectFrom('event_handlers')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('operator_id', '=', op)
      .where('target_id', 'in', [otherSim, otherImsi, otherGroup, other.operatorId])
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(0);
  });

  it("answers 404 for another operator's handler on every handler route", async () => {
    const h = await created(body({ targetSimId: simOf(9) }));
    const paths: Array<['GET' | 'PUT' | 'DELETE' | 'POST', string]> = [
      ['GET', `/v1/event_handlers/${h.handlerId}`],
      ['PUT', `/v1/event_handlers/${h.handlerId}`],
      ['DELETE', `/v1/event_handlers/${h.handlerId}`],
      ['POST', `/v1/event_handlers/${h.handlerId}/subscribers/${otherImsi}/ignore`],
      ['POST', `/v1/event_handlers/${h.handlerId}/sims/${otherSim}/ignore`],
    ];
    for (const [method, url] of paths) {
      const res = await api.call({
        method,
        url,
        token: other.token,
        ...(method === 'PUT'
          ? { payload: body({ targetSimId: undefined, targetOperatorId: other.operatorId }) }
          : {}),
      });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json().code).toBe('ERR_EVENT_HANDLER_NOT_FOUND');
    }
    const list = await api.call({ method: 'GET', url: '/v1/event_handlers', token: other.token });
    expect(list.json()).toEqual([]);
    expect((await api.call({ method: 'GET', url: `/v1/event_handlers/${h.handlerId}` })).statusCode).toBe(
      200,
    );
    await del(h.handlerId);
  });

  it('allows 10 handlers per target and refuses the 11th, on create and on update', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++)
      ids.push((await created(body({ targetSimId: simOf(10), name: `n${i}` }))).handlerId);
    const eleventh = await create(body({ targetSimId: simOf(10) }));
    expect(eleventh.statusCode).toBe(400);
    expect(eleventh.json().code).toBe('ERR_EVENT_HANDLER_LIMIT');
    expect(eleventh.json().message).toMatch(/already has 10 event handlers/);
    // Another target is not affected; moving a handler onto the full target is refused.
    const elsewhere = await created(body({ targetSimId: simOf(11) }));
    const move = await api.call({
      method: 'PUT',
      url: `/v1/event_handlers/${elsewhere.handlerId}`,
      payload: body({ targetSimId: simOf(10) }),
    });
    expect(move.statusCode).toBe(400);
    expect(move.json().code).toBe('ERR_EVENT_HANDLER_LIMIT');
    // Replacing one of the ten on its own target is fine.
    const same = await api.call({
      method: 'PUT',
      url: `/v1/event_handlers/${ids[0]}`,
      payload: body({ targetSimId: simOf(10), name: 'renamed' }),
    });
    expect(same.statusCode, same.body).toBe(200);
    for (const id of [...ids, elsewhere.handlerId]) expect((await del(id)).statusCode).toBe(204);
  });

  it('counts 10 concurrent creations on one target exactly (no race past the limit)', async () => {
    const results = await Promise.all(
      Array.from({ length: 14 }, (_, i) => create(body({ targetSimId: simOf(12), name: `race${i}` }))),
    );
    const codes = results.map((r) => r.statusCode).sort();
    expect(codes.filter((c) => c === 201)).toHaveLength(10);
    expect(codes.filter((c) => c === 400)).toHaveLength(4);
    const list = (
      await api.call({ method: 'GET', url: `/v1/event_handlers/sims/${simOf(12)}` })
    ).json() as Handler[];
    expect(list.filter((h) => h.targetSimId === simOf(12))).toHaveLength(10);
    for (const h of list.filter((h) => h.targetSimId === simOf(12))) await del(h.handlerId);
  });
});

describe('listing, replacing, ignoring, deleting', () => {
  it('lists by target kind with keyset pages, and per subscriber and per SIM', async () => {
    const onSim = await created(body({ targetSimId: simOf(20), name: 'on-sim' }));
    const onImsi = await created(body({ targetSimId: undefined, targetImsi: imsiOf(20), name: 'on-imsi' }));
    const onGroup = await created(body({ targetSimId: undefined, targetGroupId: groupId, name: 'on-group' }));
    const onOperator = await created(
      body({ targetSimId: undefined, targetOperatorId: op, name: 'on-operator' }),
    );
    const onOtherSim = await created(body({ targetSimId: simOf(21), name: 'other-sim' }));
    expect(onImsi.targetImsi).toBe(imsiOf(20));
    expect(onImsi).not.toHaveProperty('targetSimId');
    expect(onOperator.targetOperatorId).toBe(op);

    const ofKind = async (kind: string) =>
      ((await api.call({ method: 'GET', url: `/v1/event_handlers?target=${kind}` })).json() as Handler[]).map(
        (h) => h.handlerId,
      );
    expect(await ofKind('sim')).toEqual([onSim.handlerId, onOtherSim.handlerId].sort());
    expect(await ofKind('imsi')).toEqual([onImsi.handlerId]);
    expect(await ofKind('group')).toEqual([onGroup.handlerId]);
    expect(await ofKind('operator')).toEqual([onOperator.handlerId]);
    expect((await api.call({ method: 'GET', url: '/v1/event_handlers?target=tag' })).statusCode).toBe(400);

    const seen: string[] = [];
    let next: string | undefined;
    do {
      const res = await api.call({
        method: 'GET',
        url: `/v1/event_handlers?limit=2${next ? `&last_evaluated_key=${next}` : ''}`,
      });
      expect(res.statusCode).toBe(200);
      seen.push(...(res.json() as Handler[]).map((h) => h.handlerId));
      next = res.headers['x-soracom-next-key'] as string | undefined;
    } while (next);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);

    const bySubscriber = (
      await api.call({ method: 'GET', url: `/v1/event_handlers/subscribers/${imsiOf(20)}` })
    ).json() as Handler[];
    const expected = [onSim, onImsi, onGroup, onOperator].map((h) => h.handlerId).sort();
    expect(bySubscriber.map((h) => h.handlerId)).toEqual(expected);
    const bySim = (
      await api.call({ method: 'GET', url: `/v1/event_handlers/sims/${simOf(20)}` })
    ).json() as Handler[];
    expect(bySim.map((h) => h.handlerId)).toEqual(expected);
    const unknown = await api.call({ method: 'GET', url: `/v1/event_handlers/subscribers/${otherImsi}` });
    expect(unknown.statusCode).toBe(404);
    expect((await api.call({ method: 'GET', url: `/v1/event_handlers/sims/${otherSim}` })).statusCode).toBe(
      404,
    );

    for (const h of [onSim, onImsi, onGroup, onOperator, onOtherSim]) await del(h.handlerId);
    expect((await api.call({ method: 'GET', url: '/v1/event_handlers' })).json()).toEqual([]);
  });

  it('replaces a handler with PUT (rule, actions, target, status)', async () => {
    const h = await created(body({ targetSimId: simOf(22) }));
    const replacement = body({
      targetSimId: undefined,
      targetGroupId: groupId,
      name: 'slow on suspend',
      status: 'inactive',
      ruleConfig: {
        type: 'SimStatusAttributeRule',
        properties: { targetStatus: 'suspended', inactiveTimeoutDateConst: 'IMMEDIATELY' },
      },
      actionConfigList: [
        { type: 'ChangeSpeedClassAction', properties: VALID_ACTIONS.ChangeSpeedClassAction },
      ],
    });
    const res = await api.call({
      method: 'PUT',
      url: `/v1/event_handlers/${h.handlerId}`,
      payload: replacement,
    });
    expect(res.statusCode, res.body).toBe(200);
    const { targetSimId: _, ...expected } = { ...replacement, handlerId: h.handlerId, description: '' };
    expect(res.json()).toEqual(expected);
    const bad = await api.call({
      method: 'PUT',
      url: `/v1/event_handlers/${h.handlerId}`,
      payload: { ...replacement, status: 'paused' },
    });
    expect(bad.statusCode).toBe(400);
    const missing = await api.call({ method: 'PUT', url: '/v1/event_handlers/nope', payload: replacement });
    expect(missing.statusCode).toBe(404);
    await del(h.handlerId);
    expect((await del(h.handlerId)).statusCode).toBe(404);
  });

  it('ignores and unignores a subscriber or a SIM', async () => {
    const h = await created(body({ targetSimId: undefined, targetGroupId: groupId }));
    const url = (kind: string, id: string) => `/v1/event_handlers/${h.handlerId}/${kind}/${id}/ignore`;
    const ignored = async () =>
      (
        await api.db.store.db
          .selectFrom('event_handler_ignores')
          .select('sim_id')
          .where('handler_id', '=', h.handlerId)
          .orderBy('sim_id')
          .execute()
      ).map((r) => r.sim_id);
    expect((await api.call({ method: 'POST', url: url('subscribers', imsiOf(23)) })).statusCode).toBe(200);
    expect((await api.call({ method: 'POST', url: url('subscribers', imsiOf(23)) })).statusCode).toBe(200);
    expect((await api.call({ method: 'POST', url: url('sims', simOf(24)) })).statusCode).toBe(200);
    expect(await ignored()).toEqual([simOf(23), simOf(24)].sort());
    expect((await api.call({ method: 'DELETE', url: url('sims', simOf(23)) })).statusCode).toBe(204);
    const again = await api.call({ method: 'DELETE', url: url('subscribers', imsiOf(23)) });
    expect(again.statusCode).toBe(404);
    expect(again.json().code).toBe('ERR_EVENT_HANDLER_NOT_IGNORED');
    expect((await api.call({ method: 'DELETE', url: url('subscribers', imsiOf(24)) })).statusCode).toBe(204);
    expect(await ignored()).toEqual([]);
    // Another operator's subscriber cannot be ignored through my handler.
    const foreign = await api.call({ method: 'POST', url: url('subscribers', otherImsi) });
    expect(foreign.statusCode).toBe(404);
    expect((await api.call({ method: 'POST', url: url('sims', otherSim) })).statusCode).toBe(404);
    await api.call({ method: 'POST', url: url('sims', simOf(25)) });
    await del(h.handlerId);
    expect(await ignored()).toEqual([]);
  });
});

describe('permissions and audit', () => {
  it('a sub-user needs EventHandler:* permissions, and changes are audited', async () => {
    const name = 'eh-reader';
    await api.call({ method: 'POST', url: `/v1/operators/${op}/users/${name}`, payload: {} });
    const permission = JSON.stringify({
      statements: [{ effect: 'allow', api: ['EventHandler:list*', 'EventHandler:get*'] }],
    });
    await api.call({
      method: 'PUT',
      url: `/v1/operators/${op}/users/${name}/permission`,
      payload: { permission },
    });
    const key = (
      await api.call({ method: 'POST', url: `/v1/operators/${op}/users/${name}/auth_keys` })
    ).json();
    const token = (await api.call({ method: 'POST', url: '/v1/auth', token: null, payload: key })).json()
      .token as string;

    const h = await created(body({ targetSimId: simOf(26) }));
    expect((await api.call({ method: 'GET', url: '/v1/event_handlers', token })).statusCode).toBe(200);
    expect(
      (await api.call({ method: 'GET', url: `/v1/event_handlers/${h.handlerId}`, token })).statusCode,
    ).toBe(200);
    const denied = await create(body({ targetSimId: simOf(26) }), token);
    expect(denied.statusCode).toBe(403);
    expect(denied.json().message).toMatch(/EventHandler:createEventHandler/);
    expect(
      (await api.call({ method: 'DELETE', url: `/v1/event_handlers/${h.handlerId}`, token })).statusCode,
    ).toBe(403);
    expect((await api.call({ method: 'GET', url: `/v1/event_handlers/${h.handlerId}` })).statusCode).toBe(
      200,
    );

    await api.call({ method: 'POST', url: `/v1/event_handlers/${h.handlerId}/sims/${simOf(26)}/ignore` });
    await del(h.handlerId);
    const audit = await api.db.store.db
      .selectFrom('audit_logs')
      .select(['operation_id', 'result', 'detail'])
      .where('operator_id', '=', op)
      .where('operation_id', 'like', 'EventHandler:%')
      .orderBy('id')
      .execute();
    const mine = audit.filter((a) => a.detail.includes(h.handlerId));
    expect(mine.map((a) => `${a.operation_id} ${a.result}`)).toEqual([
      'EventHandler:createEventHandler success',
      'EventHandler:setIgnoreEventHandlerForSim success',
      'EventHandler:deleteEventHandler success',
    ]);
    expect(
      audit.some((a) => a.operation_id === 'EventHandler:createEventHandler' && a.result === 'denied'),
    ).toBe(true);
  });
});
