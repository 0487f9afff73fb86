// The SoracomFunnel namespace: SORACOM's FunnelConfiguration keys with this platform's providers.
// Threats: a group configuration that smuggles a secret into a readable place (a password in the
// resourceUrl), or a route that leaves the configured one (wildcards, other placeholders, control
// characters) — refused at PUT time, and again when the entry point reads the stored value.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimtrustError } from '../../../src/lib/errors.js';
import {
  FUNNEL_KEYS,
  funnelConfig,
  parseFunnelDestination,
  routeFor,
  validateFunnelParameter,
} from '../../../src/platform/beam/funnel-config.js';

const code = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return e instanceof SimtrustError ? e.code : 'THREW_OTHER';
  }
};

const amqp = {
  provider: 'amqp',
  resourceUrl: 'amqps://broker.example.com/iot',
  exchange: 'telemetry',
  routingKey: 'sim.#{imsi}',
};
const nats = {
  provider: 'nats',
  resourceUrl: 'tls://nats.example.com:4222',
  subject: 'devices.#{imsi}.data',
  stream: 'DEVICES',
};
const mqtt = { provider: 'mqtt', resourceUrl: 'mqtts://mqtt.example.com', topic: 'fleet/#{imsi}/up' };

describe('SoracomFunnel destination', () => {
  it('reads the three providers, with the service each offers and the AMQP virtual host', () => {
    expect(parseFunnelDestination(amqp)).toMatchObject({
      provider: 'amqp',
      service: 'rabbitmq',
      exchange: 'telemetry',
      routingKey: 'sim.#{imsi}',
      vhost: 'iot',
      payloadsOnly: false,
    });
    expect(
      parseFunnelDestination({ provider: 'amqp', resourceUrl: 'amqp://127.0.0.1:5672', queue: 'q1' }),
    ).toMatchObject({
      exchange: '',
      routingKey: 'q1',
      vhost: '/',
    });
    expect(parseFunnelDestination({ ...amqp, resourceUrl: 'amqp://h/%2F' })).toMatchObject({ vhost: '/' });
    expect(parseFunnelDestination(nats)).toMatchObject({
      provider: 'nats',
      service: 'jetstream',
      stream: 'DEVICES',
    });
    expect(parseFunnelDestination({ ...mqtt, payloadsOnly: true, service: 'mqtt' })).toMatchObject({
      provider: 'mqtt',
      topic: 'fleet/#{imsi}/up',
      payloadsOnly: true,
    });
  });

  it('replaces #{imsi} in the route of each SIM', () => {
    expect(routeFor(parseFunnelDestination(amqp), '001010000000042')).toBe('sim.001010000000042');
    expect(routeFor(parseFunnelDestination(nats), '001010000000042')).toBe('devices.001010000000042.data');
    expect(routeFor(parseFunnelDestination(mqtt), '001010000000042')).toBe('fleet/001010000000042/up');
  });

  it('refuses a user or password in resourceUrl: secrets live in credential sets', () => {
    for (const url of ['amqp://guest:guest@h/', 'amqp://user@h/', 'mqtts://u:p@h', 'nats://token@h:4222']) {
      const provider = url.split(':')[0] === 'nats' ? 'nats' : url.startsWith('amqp') ? 'amqp' : 'mqtt';
      const d = { ...{ amqp, nats, mqtt }[provider], resourceUrl: url };
      const e = (() => {
        try {
          parseFunnelDestination(d);
        } catch (err) {
          return err as SimtrustError;
        }
      })();
      expect(e?.code).toBe('ERR_FUNNEL_CONFIG');
      expect(e?.message).toContain('credential set');
      // The refusal never repeats the secret it refused.
      expect(e?.message).not.toMatch(/guest|u:p|token@/);
    }
  });

  it('refuses what is not one of its providers, schemes, services or fields', () => {
    const bad: unknown[] = [
      null,
      'amqp://h',
      [],
      { ...amqp, provider: 'kafka' },
      { ...amqp, provider: 'constructor' },
      { ...amqp, resourceUrl: 'http://h/' },
      { ...amqp, resourceUrl: 'amqp://h/a/b' },
      { ...amqp, resourceUrl: 'amqp://h/?heartbeat=1' },
      { ...amqp, resourceUrl: 'amqp://h/#x' },
      { ...amqp, resourceUrl: 'amqp:///vhost' },
      { ...amqp, resourceUrl: 'amqp://h/%ZZ' },
      { ...amqp, service: 'kinesis' },
      { ...amqp, queue: 'q' },
      { ...amqp, exchange: 'bad name' },
      { ...amqp, exchange: '', routingKey: undefined },
      { ...amqp, routingKey: 'a\nb' },
      { ...amqp, routingKey: 'x'.repeat(256) },
      { ...amqp, subject: 'x' },
      { ...nats, resourceUrl: 'nats://h:4222/path' },
      { ...nats, subject: 'a.*.b' },
      { ...nats, subject: 'a.>' },
      { ...nats, subject: 'a..b' },
      { ...nats, subject: 'a b' },
      { ...nats, subject: 'a.#{simId}' },
      { ...nats, stream: 'a.b' },
      { ...mqtt, topic: 'a/+/b' },
      { ...mqtt, topic: 'a/#' },
      { ...mqtt, topic: '$SYS/x' },
      { ...mqtt, topic: '' },
      { ...mqtt, topic: 'a\u0000b' },
      { ...mqtt, topic: 'a/#{iccid}' },
      { ...mqtt, payloadsOnly: 'yes' },
      { ...mqtt, extra: 1 },
    ];
    for (const d of bad) expect([d, code(() => parseFunnelDestination(d))]).toEqual([d, 'ERR_FUNNEL_CONFIG']);
  });
});

describe('SoracomFunnel keys (the group API validator)', () => {
  it('takes the FunnelConfiguration keys', () => {
    for (const [key, value] of [
      ['enabled', true],
      ['destination', amqp],
      ['credentialsId', 'broker-#{imsi}'],
      ['contentType', 'json'],
      ['contentType', 'unspecified'],
      ['addSimId', false],
    ] as const)
      expect(code(() => validateFunnelParameter(key, value))).toBeUndefined();
  });

  it('refuses unknown keys (also Object.prototype names) and bad values, naming the key', () => {
    for (const [key, value] of [
      ['constructor', 1],
      ['__proto__', {}],
      ['password', 'x'],
      ['enabled', 'true'],
      ['credentialsId', 'has space'],
      ['credentialsId', '#{imei}'],
      ['credentialsId', 'x'.repeat(201)],
      ['contentType', 'application/x-soracom-bf-v1'],
      ['addSimId', 1],
    ] as const) {
      let error: unknown;
      try {
        validateFunnelParameter(key, value);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SimtrustError);
      expect((error as SimtrustError).code).toBe('ERR_FUNNEL_CONFIG');
      expect((error as SimtrustError).message).toContain('SoracomFunnel');
    }
  });
});

describe('funnelConfig (what the entry points read back)', () => {
  it('says why a stored namespace gives nothing to do', () => {
    expect(funnelConfig({})).toMatchObject({ ok: false, error: { reason: 'disabled' } });
    expect(funnelConfig({ enabled: false, destination: amqp })).toMatchObject({
      ok: false,
      error: { reason: 'disabled' },
    });
    expect(funnelConfig({ enabled: true })).toMatchObject({ ok: false, error: { reason: 'no-destination' } });
    // Written before validation or by hand: not used, and the device is told to have it corrected.
    const invalid = funnelConfig({ enabled: true, destination: { ...mqtt, topic: 'a/#' } });
    expect(invalid).toMatchObject({ ok: false, error: { reason: 'invalid' } });
    expect(invalid.ok ? '' : invalid.error.message).toContain('PUT /v1/groups');
  });

  it('defaults contentType to unspecified and addSimId to false', () => {
    const c = funnelConfig({ enabled: true, destination: nats, credentialsId: 'n' });
    expect(c).toMatchObject({
      ok: true,
      value: { contentType: 'unspecified', addSimId: false, credentialsId: 'n' },
    });
  });

  it('answers the same object for the same stored text (parsed once)', () => {
    const a = funnelConfig({ enabled: true, destination: mqtt });
    const b = funnelConfig({ enabled: true, destination: JSON.parse(JSON.stringify(mqtt)) });
    expect(a).toBe(b);
  });
});

describe('hostile values (property)', () => {
  const hostile = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.constantFrom(
      '#{imsi}',
      '#{',
      '}',
      '+',
      '#',
      '>',
      '*',
      '.',
      '/',
      '$',
      '%2F',
      '\u0000',
      '\r\n',
      '..',
      '@',
      ':',
    ),
  );
  const piece = fc.array(hostile, { maxLength: 6 }).map((a) => a.join(''));

  it('a route is accepted only when, with any IMSI, it has no wildcard, control character or other placeholder', () => {
    fc.assert(
      fc.property(piece, fc.stringMatching(/^[0-9]{6,15}$/), (text, imsi) => {
        for (const d of [
          { ...amqp, routingKey: text },
          { ...nats, subject: text },
          { ...mqtt, topic: text },
        ]) {
          let parsed: ReturnType<typeof parseFunnelDestination>;
          try {
            parsed = parseFunnelDestination(d);
          } catch (e) {
            expect((e as SimtrustError).code).toBe('ERR_FUNNEL_CONFIG');
            continue;
          }
          const route = routeFor(parsed, imsi);
          // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
          expect(route).not.toMatch(/[\u0000-\u001f\u007f]|#\{/);
          if (parsed.provider === 'mqtt') expect(route).not.toMatch(/[+#]|^\$/);
          if (parsed.provider === 'nats') {
            expect(route.split('.').every((t) => t !== '' && t !== '*' && t !== '>' && !/\s/.test(t))).toBe(
              true,
            );
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a resourceUrl is accepted only without user, password, query or fragment, with a host and its scheme', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('amqp', 'amqps', 'nats', 'tls', 'mqtt', 'mqtts', 'http'),
        piece,
        piece,
        (scheme, a, b) => {
          const url = `${scheme}://${a}${b}`;
          for (const base of [amqp, nats, mqtt]) {
            let parsed: ReturnType<typeof parseFunnelDestination>;
            try {
              parsed = parseFunnelDestination({ ...base, resourceUrl: url });
            } catch (e) {
              expect((e as SimtrustError).code).toBe('ERR_FUNNEL_CONFIG');
              continue;
            }
            expect(parsed.url.username + parsed.url.password + parsed.url.search + parsed.url.hash).toBe('');
            expect(parsed.url.hostname).not.toBe('');
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('every key refuses garbage with ERR_FUNNEL_CONFIG and nothing else', () => {
    fc.assert(
      fc.property(fc.constantFrom(...FUNNEL_KEYS, 'x', 'toString'), fc.anything(), (key, value) => {
        const c = code(() => validateFunnelParameter(key, value));
        expect(c === undefined || c === 'ERR_FUNNEL_CONFIG').toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
