import { describe, expect, it } from 'vitest';
import {
  beamConfig,
  httpEntryFor,
  parseBeamEntry,
  parseEntryPointKey,
  validateBeamParameter,
} from '../../../src/platform/beam/beam-config.js';

const psk = { $credentialsId: 'beam-psk' };

describe('SoracomBeam entry point keys', () => {
  it('reads the keys SORACOM documents, on any host', () => {
    expect(parseEntryPointKey('http://beam.soracom.io:8888/')).toEqual({
      scheme: 'http',
      port: 8888,
      path: '/',
    });
    expect(parseEntryPointKey('http://beam.soracom.io:8888/sensors/v1')).toEqual({
      scheme: 'http',
      port: 8888,
      path: '/sensors/v1',
    });
    expect(parseEntryPointKey('http://beam.soracom.io:18080')).toEqual({
      scheme: 'http',
      port: 18080,
      path: '/',
    });
    expect(parseEntryPointKey('http://beam.soracom.io')).toEqual({
      scheme: 'http',
      port: undefined,
      path: '/',
    });
    expect(parseEntryPointKey('mqtt://beam.soracom.io:1883')).toEqual({
      scheme: 'mqtt',
      port: 1883,
      path: '/',
    });
    expect(parseEntryPointKey('tcp://beam.soracom.io:8023')).toEqual({
      scheme: 'tcp',
      port: 8023,
      path: '/',
    });
    expect(parseEntryPointKey('udp://beam.soracom.io:23080')).toEqual({
      scheme: 'udp',
      port: 23080,
      path: '/',
    });
    expect(parseEntryPointKey('http://10.0.0.1:8888/x')?.path).toBe('/x');
  });

  it('refuses other schemes, credentials, queries and unplain paths', () => {
    for (const key of [
      'https://beam.soracom.io/',
      'ftp://beam.soracom.io/',
      'http://user:pw@beam.soracom.io/',
      'http://beam.soracom.io/?a=1',
      'http://beam.soracom.io/#x',
      'http://beam.soracom.io/a/%2e%2e/b',
      'http://beam.soracom.io/a%2fb',
      'http://beam.soracom.io/a\\b',
      'tcp://beam.soracom.io:8023/path',
      'useCustomDns',
      '',
    ]) {
      expect(parseEntryPointKey(key), key).toBeUndefined();
    }
  });
});

describe('SoracomBeam values', () => {
  it('accepts SORACOM’s documented HTTP sample', () => {
    const e = parseBeamEntry('http://beam.soracom.io:8888/', {
      name: 'My Beam config',
      destination: 'https://myserver.example.com/',
      enabled: true,
      addSubscriberHeader: true,
      addSimIdHeader: true,
      addMsisdnHeader: true,
      customHeaders: {
        'X-Group-Name': { action: 'replace', headerKey: 'X-Group-Name', headerValue: 'sensors' },
      },
      addSignature: true,
      psk,
      skipStatusCode: false,
    });
    expect(e.destination.href).toBe('https://myserver.example.com/');
    expect(e.psk).toEqual({ credentialsId: 'beam-psk' });
    expect(e.customHeaders).toEqual([{ action: 'replace', name: 'x-group-name', value: 'sensors' }]);
  });

  it('refuses with a message naming the setting', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['http://beam.soracom.io:8888/', { destination: 'ftp://x/' }, /destination/],
      ['http://beam.soracom.io:8888/', { destination: 'https://u:p@x/' }, /destination/],
      ['http://beam.soracom.io:8888/', { destination: 'https://x/a/%2e%2e/b' }, /destination/],
      ['http://beam.soracom.io:8888/', { destination: 'mqtts://x:8883' }, /destination/],
      [
        'http://beam.soracom.io:8888/',
        { destination: 'https://x/', psk: 'inline secret' },
        /psk.*credentialsId/,
      ],
      ['http://beam.soracom.io:8888/', { destination: 'https://x/', addSignature: true }, /psk/],
      [
        'http://beam.soracom.io:8888/',
        { destination: 'https://x/', addSignature: true, psk },
        /addSignature.*addSubscriberHeader/,
      ],
      ['http://beam.soracom.io:8888/', { destination: 'https://x/', useClientCert: true }, /clientCerts/],
      [
        'http://beam.soracom.io:8888/',
        { destination: 'https://x/', clientCerts: { default: { ca: 'x', cert: 'y', key: 'z' } } },
        /clientCerts/,
      ],
      [
        'http://beam.soracom.io:8888/',
        {
          destination: 'https://x/',
          customHeaders: { a: { action: 'append', headerKey: 'X-Soracom-IMSI', headerValue: '1' } },
        },
        /X-Soracom/,
      ],
      [
        'http://beam.soracom.io:8888/',
        {
          destination: 'https://x/',
          customHeaders: { a: { action: 'append', headerKey: 'Host', headerValue: 'evil' } },
        },
        /headerKey/,
      ],
      [
        'http://beam.soracom.io:8888/',
        {
          destination: 'https://x/',
          customHeaders: { a: { action: 'append', headerKey: 'X-A', headerValue: 'a\r\nb: c' } },
        },
        /headerValue/,
      ],
      ['http://beam.soracom.io:8888/', { destination: 'https://x/', bogus: 1 }, /no setting "bogus"/],
      ['http://beam.soracom.io:8888/', 'https://x/', /an object/],
      ['beam', { destination: 'https://x/' }, /no entry point/],
    ];
    for (const [key, value, message] of cases) {
      expect(() => validateBeamParameter(key, value), JSON.stringify(value)).toThrow(message);
      try {
        validateBeamParameter(key, value);
      } catch (e) {
        expect((e as { code: string }).code).toBe('ERR_BEAM_CONFIG');
      }
    }
  });

  it('never echoes a credential-looking value it refuses', () => {
    try {
      validateBeamParameter('http://beam.soracom.io:8888/', {
        destination: 'https://x/',
        psk: 'topsecret-psk',
      });
    } catch (e) {
      expect((e as Error).message).not.toContain('topsecret-psk');
    }
  });
});

describe('beamConfig', () => {
  const stored = {
    'http://beam.soracom.io:8888/': { destination: 'https://root.example/' },
    'http://beam.soracom.io:8888/sensors': { destination: 'https://sensors.example/in' },
    'http://beam.soracom.io:8888/sensors/v2': { destination: 'https://v2.example/', enabled: false },
    'tcp://beam.soracom.io:8023': { destination: 'tcps://tcp.example:1234' },
    'udp://beam.soracom.io:23080': { destination: 'https://udp.example/' },
    'http://beam.soracom.io:8888/broken': { destination: 'not a url' },
  };

  it('routes by the longest enabled path prefix at a / boundary', () => {
    const c = beamConfig(stored);
    expect(httpEntryFor(c, '/sensors/v1/x')?.destination.host).toBe('sensors.example');
    expect(httpEntryFor(c, '/sensors')?.destination.host).toBe('sensors.example');
    expect(httpEntryFor(c, '/sensors2')?.destination.host).toBe('root.example');
    expect(httpEntryFor(c, '/sensors/v2/x')?.destination.host).toBe('sensors.example');
    expect(httpEntryFor(c, '/broken/x')?.destination.host).toBe('root.example');
    expect(c.tcp.map((e) => e.destination.host)).toEqual(['tcp.example:1234']);
    expect(c.udp).toHaveLength(1);
  });

  it('is cached by the stored text', () => {
    expect(beamConfig({ ...stored })).toBe(beamConfig(stored));
    expect(beamConfig({})).toEqual({ http: [], tcp: [], udp: [] });
  });
});

describe('SoracomBeam entry points of other listeners', () => {
  it('hands mqtt:// keys to the MQTT entry point’s parser (a plain password is its call)', () => {
    expect(() =>
      validateBeamParameter('mqtt://beam.soracom.io:1883', {
        destination: 'mqtts://broker.example:8883',
        username: 'u',
        password: 'p',
      }),
    ).not.toThrow();
    expect(() =>
      validateBeamParameter('mqtt://beam.soracom.io:1883', { destination: 'https://x/' }),
    ).toThrow();
  });

  it('wants host:port for TCP destinations', () => {
    expect(() =>
      validateBeamParameter('tcp://beam.soracom.io:8023', { destination: 'tcps://t.example' }),
    ).toThrow(/destination/);
    expect(() =>
      validateBeamParameter('tcp://beam.soracom.io:8023', { destination: 'tcps://t.example:1234/x' }),
    ).toThrow(/destination/);
    expect(() =>
      validateBeamParameter('tcp://beam.soracom.io:8023', { destination: 'tcps://t.example:1234' }),
    ).not.toThrow();
  });

  it('takes credential set references as the credential sets do (#{imsi} allowed)', () => {
    const ok = (id: string) => {
      try {
        parseBeamEntry('http://x/', {
          destination: 'https://x/',
          addSubscriberHeader: true,
          addSignature: true,
          psk: { $credentialsId: id },
        });
        return true;
      } catch {
        return false;
      }
    };
    expect(ok('psk-#{imsi}')).toBe(true);
    expect(ok('a.b_c-d')).toBe(true);
    expect(ok('../x')).toBe(false);
    expect(ok('')).toBe(false);
    expect(ok('x'.repeat(101))).toBe(false);
  });
});
