// A platform process for ota-batching.test.ts's crash test: it opens the store at the URL it is
// given (by IPC, with the key ring's master key), secures commands for its SIMs as fast as it can,
// and reports each counter to the parent as soon as its send resolved — until the parent kills it.

import { OtaService } from '../../../src/platform/ota/ota-service.js';
import { KeyRing } from '../../../src/platform/secrets/key-ring.js';
import { openStore } from '../../../src/platform/store/database.js';

interface Start {
  readonly url: string;
  readonly masterKey: string;
  readonly operatorId: string;
  readonly simIds: readonly string[];
}

process.once('message', (m: Start) => {
  void (async () => {
    const store = await openStore(m.url);
    const ota = new OtaService(store, await KeyRing.open(store, Buffer.from(m.masterKey, 'hex')), {
      now: () => Date.now(),
    });
    const lane = async (simId: string) => {
      for (;;) {
        const sent = await ota.secureAntiTheftCommands(m.operatorId, simId, [{ op: 'readState' }]);
        process.send?.({ simId, counter: sent.counter });
      }
    };
    // Several lanes per SIM, so batches hold several reservations of one SIM.
    await Promise.all(m.simIds.flatMap((simId) => [lane(simId), lane(simId), lane(simId)]));
  })();
});
