import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimtrustError } from '../../../src/lib/errors.js';
import { validateBeamParameter } from '../../../src/platform/beam/beam-config.js';
import {
  beamMqttConfigOf,
  isBeamMqttKey,
  parseBeamMqttConfig,
  parseBeamMqttDestination,
  validateBeamMqttParameter,
} from '../../../src/platform/beam/beam-mqtt-config.js';

const KEY = 'mqtt://beam.soracom.io:1883';

const code = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return e instanceof SimtrustError ? e.code : 'THREW_OTHER';
  }
};

describe('SoracomBeam mqtt:// entry (the MQTT entry point configuration)', () => {
  it("reads SORACOM's BeamMQTTConfig fields; IMSI appended unless addSubscriberHeader is false", () => {
    const c = parseBeamMqttConfig(KEY, {
      name: 'to broker',
      enabled: true,
      destination: 'mqtts://broker.example.com:8883',
      username: 'device-fleet',
      password: { $credentialsId: 'broker-pw' },
      useClientCert: true,
      clientCerts: { default: { $credentialsId: 'broker-cert-#{imsi}' } },
    });
    expect(c).toEqual({
      key: KEY,
      name: 'to broker',
      enabled: true,
      destination: { tls: true, host: 'broker.example.com', port: 8883 },
      addSubscriberHeader: true,
      username: 'device-fleet',
      password: { credentialsId: 'broker-pw' },
      clientCert: { credentialsId: 'broker-cert-#{imsi}' },
    });
    const plain = parseBeamMqttConfig(KEY, { destination: 'mqtt://10.1.2.3', addSubscriberHeader: false });
    expect(plain.destination).toEqual({ tls: false, host: '10.1.2.3', port: 1883 });
    expect(plain.addSubscriberHeader).toBe(false);
    expect(parseBeamMqttDestination(KEY, 'mqtts://[2001:db8::1]').port).toBe(8883);
    expect(parseBeamMqttDestination(KEY, 'mqtts://[2001:db8::1]').host).toBe('2001:db8::1');
  });

  it('refuses what it cannot relay safely, naming the key and the field (ERR_BEAM_CONFIG)', () => {
    const bad: unknown[] = [
      null,
      [],
      'mqtts://x',
      {},
      { destination: 'https://broker.example.com' },
      { destination: 'mqtts://user:pw@broker.example.com' },
      { destination: 'mqtts://broker.example.com/topic' },
      { destination: 'mqtts://broker.example.com?x=1' },
      { destination: 'mqtts://broker.example.com:0' },
      { destination: 'mqtts://bro ker' },
      { destination: 'mqtts://b:8883', enabled: 'yes' },
      { destination: 'mqtts://b:8883', addSubscriberHeader: 1 },
      { destination: 'mqtts://b:8883', password: { $credentialsId: '../other' } },
      { destination: 'mqtts://b:8883', password: { $credentialsId: 'a', extra: 1 } },
      { destination: 'mqtts://b:8883', password: 42 },
      { destination: 'mqtts://b:8883', useClientCert: true },
      // A client key written into the group configuration would be readable by every group reader.
      {
        destination: 'mqtts://b:8883',
        useClientCert: true,
        clientCerts: { default: { cert: 'PEM', key: 'PEM' } },
      },
      { destination: 'mqtts://b:8883', unknownField: true },
    ];
    for (const value of bad) {
      expect(
        code(() => validateBeamMqttParameter(KEY, value)),
        JSON.stringify(value),
      ).toBe('ERR_BEAM_CONFIG');
    }
    expect(() => validateBeamMqttParameter(KEY, { destination: 'ftp://b' })).toThrow(
      /mqtt:\/\/beam\.soracom\.io:1883/,
    );
  });

  it('is what the SoracomBeam group validator applies to mqtt:// keys', () => {
    expect(code(() => validateBeamParameter(KEY, { destination: 'mqtts://b:8883' }))).toBeUndefined();
    expect(code(() => validateBeamParameter(KEY, { destination: 'http://b' }))).toBe('ERR_BEAM_CONFIG');
  });

  it('finds the enabled mqtt:// entry among the group parameters, on any host and port', () => {
    expect(isBeamMqttKey('mqtt://beam.soracom.io:1883')).toBe(true);
    expect(isBeamMqttKey('MQTT://10.0.0.1')).toBe(true);
    expect(isBeamMqttKey('http://beam.soracom.io:8888/')).toBe(false);
    const configuration = {
      'http://beam.soracom.io:8888/': { destination: 'https://example.com' },
      'mqtt://a.example:1883': { destination: 'mqtts://off.example', enabled: false },
      'mqtt://beam.soracom.io:1883': { destination: 'mqtts://on.example' },
    };
    expect(beamMqttConfigOf(configuration)?.destination.host).toBe('on.example');
    expect(beamMqttConfigOf({ 'mqtt://x': { destination: 'mqtts://b', enabled: false } })).toBeUndefined();
    expect(beamMqttConfigOf({})).toBeUndefined();
  });

  it('property: a destination either parses to an mqtt(s) host without path or is refused with ERR_BEAM_CONFIG', () => {
    const piece = fc.constantFrom(
      'mqtts://',
      'mqtt://',
      'http://',
      'broker.example.com',
      '127.0.0.1',
      '[::1]',
      ':8883',
      ':99999',
      '@',
      'user:pw',
      '/',
      '/..',
      '%2f',
      '?',
      '#',
      '\\',
      '\r\n',
      ' ',
      '\u0000',
      'é',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), fc.string({ maxLength: 12 }), (parts, noise) => {
        const text = parts.join('') + noise;
        let parsed: ReturnType<typeof parseBeamMqttDestination> | undefined;
        const c = code(() => {
          parsed = parseBeamMqttDestination(KEY, text);
        });
        if (c !== undefined) {
          expect(c).toBe('ERR_BEAM_CONFIG');
          return;
        }
        expect(text.toLowerCase().startsWith('mqtt')).toBe(true);
        expect(parsed?.host).not.toMatch(/[/@\\?#\s]/);
        expect(parsed?.port).toBeGreaterThan(0);
        expect(parsed?.port).toBeLessThanOrEqual(65535);
      }),
      { numRuns: 2000 },
    );
  });
});
