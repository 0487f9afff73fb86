// Composition root of the domain: opens the store and key ring and builds the services. Servers
// and the CLI receive a Platform; nothing here opens a socket.

import type { Config } from '../config/defaults.js';
import { type Clock, systemClock } from '../lib/clock.js';
import { KeyRing } from './secrets/key-ring.js';
import { SimImporter } from './sims/csv-import.js';
import { GroupService } from './sims/groups.js';
import { SimService } from './sims/sim-service.js';
import { openStore, type Store } from './store/database.js';

export interface Platform {
  readonly config: Config;
  readonly clock: Clock;
  readonly store: Store;
  readonly keyRing: KeyRing;
  readonly sims: SimService;
  readonly groups: GroupService;
  readonly importer: SimImporter;
  close(): Promise<void>;
}

export interface OpenPlatformOptions {
  readonly masterKey: Uint8Array;
  readonly clock?: Clock;
  /** Use an already-open store (tests); it is closed with the platform. */
  readonly store?: Store;
}

export async function openPlatform(config: Config, options: OpenPlatformOptions): Promise<Platform> {
  const clock = options.clock ?? systemClock;
  const store = options.store ?? (await openStore(config.databaseUrl, { poolSize: config.databasePoolSize }));
  try {
    const keyRing = await KeyRing.open(store, options.masterKey);
    return {
      config,
      clock,
      store,
      keyRing,
      sims: new SimService(store, keyRing, clock),
      groups: new GroupService(store, clock),
      importer: new SimImporter(store, keyRing, clock),
      close: () => store.close(),
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}
