// A second AuC instance in its own process (for the "several instances" test): opens the same
// database, asks for vectors concurrently, prints the SQNs it got as JSON.
// node --import tsx test/platform/aaa/auc-worker.ts <databaseUrl> <masterKeyBase64> <imsi> <requests>

import { systemClock } from '../../../src/lib/clock.js';
import { AuthenticationCentre } from '../../../src/platform/aaa/auc.js';
import { KeyRing } from '../../../src/platform/secrets/key-ring.js';
import { openStore } from '../../../src/platform/store/database.js';
import { GroupCommit } from '../../../src/platform/store/group-commit.js';

const [url = '', key = '', imsi = '', requests = '0'] = process.argv.slice(2);
const store = await openStore(url, { migrate: false, poolSize: 4 });
const keyRing = await KeyRing.open(store, Buffer.from(key, 'base64'));
const auc = new AuthenticationCentre(
  store,
  keyRing,
  systemClock,
  new GroupCommit(store, { maxBatch: 20, concurrency: 2 }),
  {
    resyncFailureLimit: 5,
    resyncFailureWindowMs: 3_600_000,
  },
);
const results = await Promise.all(
  Array.from({ length: Number(requests) }, (_, i) => auc.vectors(imsi, { count: 1 + (i % 3) })),
);
const sqns = results.flatMap((r) => (r.ok ? r.value.map((v) => v.sqn) : []));
await store.close();
process.stdout.write(JSON.stringify(sqns));
