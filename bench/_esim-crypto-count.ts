// Counting node:crypto operations (bench/esim.ts's reference): what the SM-DP, the SM-SR and the card
// really call, per process — the server's count in the bench's process, the devices' in theirs
// (bench/_esim-devices.ts). The CommonJS exports of node:crypto are wrapped and
// syncBuiltinESMExports() makes the modules' named imports see the wrappers; stop() restores them.

import {
  createCipheriv,
  createECDH,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { createRequire, syncBuiltinESMExports } from 'node:module';

export type CryptoKind =
  | 'ecdsaSign'
  | 'ecdsaVerify'
  | 'ecdh'
  | 'ecKeygen'
  | 'aesCalls'
  | 'aesBytes'
  | 'gcmCalls';
export type CryptoCounts = Record<CryptoKind, number>;

export const noCrypto = (): CryptoCounts => ({
  ecdsaSign: 0,
  ecdsaVerify: 0,
  ecdh: 0,
  ecKeygen: 0,
  aesCalls: 0,
  aesBytes: 0,
  gcmCalls: 0,
});

export const addCrypto = (a: CryptoCounts, b: CryptoCounts): CryptoCounts => {
  const sum = noCrypto();
  for (const k of Object.keys(sum) as CryptoKind[]) sum[k] = a[k] + b[k];
  return sum;
};

// biome-ignore lint/suspicious/noExplicitAny: patching node:crypto's exports for counting
type AnyFn = (...a: any[]) => any;

/** Starts counting; the returned function stops, restores node:crypto and gives the counts. */
export function countCrypto(): () => CryptoCounts {
  const require = createRequire(import.meta.url);
  const c = require('node:crypto') as Record<string, AnyFn> & {
    X509Certificate: { prototype: Record<string, AnyFn> };
  };
  const counts = noCrypto();
  const saved: [Record<string, AnyFn>, string, AnyFn][] = [];
  // ESIM_BENCH_TRACE=1 prints where each counted operation comes from.
  const trace = process.env.ESIM_BENCH_TRACE === '1';
  const wrap = (o: Record<string, AnyFn>, name: string, f: (orig: AnyFn) => AnyFn) => {
    const orig = o[name] as AnyFn;
    saved.push([o, name, orig]);
    const wrapped = f(orig);
    o[name] = trace
      ? function (this: unknown, ...a: unknown[]) {
          console.log(name, new Error().stack?.split('\n').slice(2, 5).join(' <'));
          return wrapped.apply(this, a);
        }
      : wrapped;
  };
  const counted =
    (kind: CryptoKind) =>
    (orig: AnyFn) =>
    (...a: unknown[]) => {
      counts[kind]++;
      return orig(...a);
    };
  wrap(c, 'sign', counted('ecdsaSign'));
  wrap(c, 'verify', counted('ecdsaVerify'));
  wrap(c, 'createSign', counted('ecdsaSign'));
  wrap(c, 'createVerify', counted('ecdsaVerify'));
  wrap(
    c.X509Certificate.prototype,
    'verify',
    (orig) =>
      function (this: unknown, ...a: unknown[]) {
        counts.ecdsaVerify++;
        return orig.apply(this, a);
      },
  );
  wrap(c, 'diffieHellman', counted('ecdh'));
  wrap(c, 'createECDH', (orig) => (...a) => {
    const ecdh = orig(...a);
    const generate = ecdh.generateKeys.bind(ecdh);
    ecdh.generateKeys = (...b: unknown[]) => {
      counts.ecKeygen++;
      return generate(...b);
    };
    const compute = ecdh.computeSecret.bind(ecdh);
    ecdh.computeSecret = (...b: unknown[]) => {
      counts.ecdh++;
      return compute(...b);
    };
    return ecdh;
  });
  wrap(c, 'generateKeyPairSync', counted('ecKeygen'));
  for (const name of ['createCipheriv', 'createDecipheriv'])
    wrap(c, name, (orig) => (...a) => {
      const cipher = orig(...a);
      const algorithm = String(a[0]).toLowerCase();
      if (algorithm.includes('gcm')) {
        counts.gcmCalls++;
        return cipher;
      }
      counts.aesCalls++;
      const update = cipher.update.bind(cipher);
      cipher.update = (data: Uint8Array, ...rest: unknown[]) => {
        counts.aesBytes += data.length;
        return update(data, ...rest);
      };
      return cipher;
    });
  syncBuiltinESMExports();
  return () => {
    for (const [o, name, orig] of saved.reverse()) o[name] = orig;
    syncBuiltinESMExports();
    return counts;
  };
}

/**
 * Process CPU microseconds (user + system) per call of `f`, over at least `ms` of CPU after a warm-up:
 * the same clock as the measured path's CPU per procedure, so load from other processes on the shared
 * machine does not inflate the reference.
 */
export function microsPerCall(f: () => void, ms = 300): number {
  for (let i = 0; i < 50; i++) f();
  let n = 0;
  const start = process.cpuUsage();
  let used = 0;
  while (used < ms * 1000) {
    for (let i = 0; i < 20; i++) f();
    n += 20;
    const d = process.cpuUsage(start);
    used = d.user + d.system;
  }
  return used / n;
}

/** The raw cost of each crypto operation an eSIM procedure does, measured in this run. */
export interface UnitCosts {
  ecdsaSign: number;
  ecdsaVerify: number;
  ecdh: number;
  ecKeygen: number;
  /** One createCipheriv + update of `bytes` + final. */
  aesCall: number;
}

export function unitCosts(aesBytesPerCall: number): UnitCosts {
  const a = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const b = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const data = randomBytes(200);
  const signature = sign('sha256', data, { key: a.privateKey, dsaEncoding: 'ieee-p1363' });
  const pub: KeyObject = a.publicKey;
  const key = randomBytes(16);
  const iv = Buffer.alloc(16);
  const block = randomBytes(Math.max(16, Math.ceil(aesBytesPerCall / 16) * 16));
  return {
    ecdsaSign: microsPerCall(() => sign('sha256', data, { key: a.privateKey, dsaEncoding: 'ieee-p1363' })),
    ecdsaVerify: microsPerCall(() =>
      verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, signature),
    ),
    ecdh: microsPerCall(() => diffieHellman({ privateKey: a.privateKey, publicKey: b.publicKey })),
    ecKeygen: microsPerCall(() => createECDH('prime256v1').generateKeys()),
    aesCall: microsPerCall(() => {
      const c = createCipheriv('aes-128-cbc', key, iv);
      c.setAutoPadding(false);
      c.update(block);
      c.final();
    }),
  };
}
