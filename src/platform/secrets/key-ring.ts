// Envelope encryption. Secrets (Ki, OPc, and every later secret) are sealed with AES-256-GCM under a
// data key; data keys are stored wrapped (AES-256-GCM) under the master key from configuration.
// Rotating the master key re-wraps the few data keys, never the millions of secrets.
//
// A sealed secret is the text `s1.<base64url(dataKeyId(4) ‖ iv ‖ tag ‖ ciphertext)>`, bound to a
// context string (for example `sim-profile:<iccid>`) as associated data, so a sealed value copied
// to another row does not open.

import { createHash, randomBytes } from 'node:crypto';
import { openAesGcm, sealAesGcm } from '../../crypto/aes-gcm.js';
import { SimtrustError } from '../../lib/errors.js';
import type { Store } from '../store/database.js';

const PREFIX = 's1.';
const WRAP_AAD = Buffer.from('simtrust data key');

/** Stable id of a master key: lets us say which key wrapped which data key without storing it. */
export function masterKeyId(masterKey: Uint8Array): string {
  return createHash('sha256').update('simtrust master key id\0').update(masterKey).digest('hex').slice(0, 16);
}

export function generateMasterKey(): string {
  return randomBytes(32).toString('base64');
}

export class KeyRing {
  private constructor(
    private readonly keys: ReadonlyMap<number, Buffer>,
    private readonly activeId: number,
  ) {}

  /** Unwraps every data key with `masterKey`, creating the first data key on a new database. */
  static async open(store: Store, masterKey: Uint8Array): Promise<KeyRing> {
    const kekId = masterKeyId(masterKey);
    let rows = await store.db.selectFrom('data_keys').selectAll().orderBy('key_id').execute();
    if (rows.length === 0) {
      await store.transaction(async (trx) => {
        const existing = await trx.selectFrom('data_keys').select('key_id').executeTakeFirst();
        if (existing) return;
        const dataKey = randomBytes(32);
        await trx
          .insertInto('data_keys')
          .values({
            kek_id: kekId,
            wrapped_key: sealAesGcm(masterKey, dataKey, WRAP_AAD).toString('base64'),
            active: 1,
            created_at: Date.now(),
          })
          .execute();
      });
      rows = await store.db.selectFrom('data_keys').selectAll().orderBy('key_id').execute();
    }
    const keys = new Map<number, Buffer>();
    for (const row of rows) {
      const dataKey =
        row.kek_id === kekId
          ? openAesGcm(masterKey, Buffer.from(row.wrapped_key, 'base64'), WRAP_AAD)
          : undefined;
      if (dataKey === undefined) {
        throw new SimtrustError(
          'ERR_MASTER_KEY',
          `the configured master key (id ${kekId}) does not unwrap data key ${row.key_id}, which was wrapped by master key id ${row.kek_id}. Set SIMTRUST_MASTER_KEY to that key, or finish a rotation with \`simtrust admin rotate-master-key\`.`,
        );
      }
      keys.set(Number(row.key_id), dataKey);
    }
    const active = rows.filter((r) => r.active === 1).at(-1) ?? rows.at(-1);
    return new KeyRing(keys, Number(active?.key_id));
  }

  seal(plaintext: Uint8Array, context: string): string {
    const key = this.keys.get(this.activeId);
    if (key === undefined) throw new SimtrustError('ERR_MASTER_KEY', 'no active data key');
    const box = sealAesGcm(key, plaintext, Buffer.from(context));
    const head = Buffer.alloc(4);
    head.writeUInt32BE(this.activeId);
    return PREFIX + Buffer.concat([head, box]).toString('base64url');
  }

  /** Opens a sealed secret; throws ERR_DECRYPT (message never includes the value) on any failure. */
  open(sealed: string, context: string): Buffer {
    const opened = this.tryOpen(sealed, context);
    if (opened === undefined)
      throw new SimtrustError('ERR_DECRYPT', `stored secret for ${context} does not open`);
    return opened;
  }

  tryOpen(sealed: string, context: string): Buffer | undefined {
    if (!sealed.startsWith(PREFIX)) return undefined;
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64url');
    if (raw.length < 4) return undefined;
    const key = this.keys.get(raw.readUInt32BE(0));
    return key === undefined ? undefined : openAesGcm(key, raw.subarray(4), Buffer.from(context));
  }
}

/**
 * Re-wraps every data key from `oldKey` to `newKey` in one transaction. Secrets stay as they are.
 * Returns the number of data keys re-wrapped.
 */
export async function rotateMasterKey(store: Store, oldKey: Uint8Array, newKey: Uint8Array): Promise<number> {
  const oldId = masterKeyId(oldKey);
  const newId = masterKeyId(newKey);
  return store.transaction(async (trx) => {
    const rows = await trx.selectFrom('data_keys').selectAll().execute();
    let rewrapped = 0;
    for (const row of rows) {
      if (row.kek_id === newId) continue;
      const dataKey =
        row.kek_id === oldId
          ? openAesGcm(oldKey, Buffer.from(row.wrapped_key, 'base64'), WRAP_AAD)
          : undefined;
      if (dataKey === undefined) {
        throw new SimtrustError(
          'ERR_MASTER_KEY',
          `data key ${row.key_id} is wrapped by master key id ${row.kek_id}, not by the current key (id ${oldId})`,
        );
      }
      await trx
        .updateTable('data_keys')
        .set({ kek_id: newId, wrapped_key: sealAesGcm(newKey, dataKey, WRAP_AAD).toString('base64') })
        .where('key_id', '=', row.key_id)
        .execute();
      rewrapped++;
    }
    return rewrapped;
  });
}
