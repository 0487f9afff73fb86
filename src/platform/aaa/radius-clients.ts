// NAS clients of the RADIUS server (RFC 2865 §3: a server only talks to clients it shares a secret
// with): an address or network, the shared secret (sealed at rest with the key ring, context
// `radius-client:<id>`, never returned by the API), the port the NAS takes RFC 5176 requests on, and
// whether Access-Requests must carry Message-Authenticator (default yes: the BlastRADIUS defence).

import { randomUUID } from 'node:crypto';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { writeAudit } from '../audit/audit-log.js';
import type { AuditContext } from '../iam/principal.js';
import type { KeyRing } from '../secrets/key-ring.js';
import type { Store } from '../store/database.js';
import type { RadiusClientsTable } from '../store/schema.js';
import { parseIpv4Cidr } from './address-pool.js';

/** RFC 5176 §3.1: the Dynamic Authorization Server port of the NAS. */
export const DEFAULT_COA_PORT = 3799;
/** RFC 2865 §3 asks for secrets "at least as large and unguessable as a well-chosen password". */
export const MIN_SECRET_LENGTH = 8;

export interface RadiusClientView {
  readonly clientId: string;
  readonly operatorId: string;
  readonly name: string;
  /** CIDR, e.g. "127.0.0.1/32". */
  readonly address: string;
  readonly coaPort: number;
  readonly requireMessageAuthenticator: boolean;
  readonly createdTime: number;
  readonly lastModifiedTime: number;
}

/** A client with its opened secret, for the RADIUS server only. */
export interface RadiusClientSecret extends RadiusClientView {
  readonly secret: Buffer;
}

export interface RadiusClientInput {
  readonly address: string;
  readonly secret: string;
  readonly name?: string | undefined;
  readonly coaPort?: number | undefined;
  readonly requireMessageAuthenticator?: boolean | undefined;
}

export interface RadiusClientUpdate {
  readonly secret?: string | undefined;
  readonly name?: string | undefined;
  readonly coaPort?: number | undefined;
  readonly requireMessageAuthenticator?: boolean | undefined;
}

const secretContext = (clientId: string) => `radius-client:${clientId}`;

function toView(r: RadiusClientsTable): RadiusClientView {
  return {
    clientId: r.client_id,
    operatorId: r.operator_id,
    name: r.name,
    address: r.address,
    coaPort: r.coa_port,
    requireMessageAuthenticator: r.require_message_authenticator === 1,
    createdTime: r.created_at,
    lastModifiedTime: r.updated_at,
  };
}

function checkSecret(secret: string): void {
  if (Buffer.byteLength(secret) < MIN_SECRET_LENGTH || Buffer.byteLength(secret) > 128) {
    throw new SimtrustError(
      'ERR_VALIDATION',
      `secret must be ${MIN_SECRET_LENGTH} to 128 bytes (RFC 2865 §3: as unguessable as a good password)`,
    );
  }
}

function checkCoaPort(port: number | undefined): void {
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new SimtrustError('ERR_VALIDATION', 'coaPort must be 1–65535');
  }
}

export class RadiusClientService {
  private readonly listeners: Array<() => void> = [];

  constructor(
    private readonly store: Store,
    private readonly keyRing: KeyRing,
    private readonly clock: Clock,
  ) {}

  /** Called after each committed change (the server reloads its client table). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  async create(ctx: AuditContext, input: RadiusClientInput): Promise<RadiusClientView> {
    const network = parseIpv4Cidr(input.address);
    if (!network) {
      throw new SimtrustError(
        'ERR_VALIDATION',
        'address must be an IPv4 address or network such as 10.0.0.0/24',
      );
    }
    checkSecret(input.secret);
    checkCoaPort(input.coaPort);
    const now = this.clock.now();
    const clientId = randomUUID();
    const view = await this.store.transaction(async (trx) => {
      const clash = await trx
        .selectFrom('radius_clients')
        .select('client_id')
        .where('address', '=', network.text)
        .executeTakeFirst();
      if (clash)
        throw new SimtrustError('ERR_CONFLICT', `a RADIUS client for ${network.text} already exists`);
      const row: RadiusClientsTable = {
        client_id: clientId,
        operator_id: ctx.principal.operatorId,
        name: input.name ?? network.text,
        address: network.text,
        secret: this.keyRing.seal(Buffer.from(input.secret), secretContext(clientId)),
        coa_port: input.coaPort ?? DEFAULT_COA_PORT,
        require_message_authenticator: input.requireMessageAuthenticator === false ? 0 : 1,
        created_at: now,
        updated_at: now,
      };
      await trx.insertInto('radius_clients').values(row).execute();
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { clientId, address: network.text },
        at: now,
      });
      return toView(row);
    });
    this.changed();
    return view;
  }

  async list(operatorId: string): Promise<RadiusClientView[]> {
    const rows = await this.store.db
      .selectFrom('radius_clients')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .orderBy('address')
      .execute();
    return rows.map(toView);
  }

  async get(operatorId: string, clientId: string): Promise<RadiusClientView> {
    const row = await this.store.db
      .selectFrom('radius_clients')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    if (!row) throw new SimtrustError('ERR_NOT_FOUND', `no RADIUS client ${clientId}`);
    return toView(row);
  }

  async update(ctx: AuditContext, clientId: string, input: RadiusClientUpdate): Promise<RadiusClientView> {
    if (input.secret !== undefined) checkSecret(input.secret);
    checkCoaPort(input.coaPort);
    const now = this.clock.now();
    const operatorId = ctx.principal.operatorId;
    const view = await this.store.transaction(async (trx) => {
      const row = await trx
        .selectFrom('radius_clients')
        .selectAll()
        .where('operator_id', '=', operatorId)
        .where('client_id', '=', clientId)
        .executeTakeFirst();
      if (!row) throw new SimtrustError('ERR_NOT_FOUND', `no RADIUS client ${clientId}`);
      const next: RadiusClientsTable = {
        ...row,
        name: input.name ?? row.name,
        coa_port: input.coaPort ?? row.coa_port,
        require_message_authenticator:
          input.requireMessageAuthenticator === undefined
            ? row.require_message_authenticator
            : input.requireMessageAuthenticator
              ? 1
              : 0,
        secret:
          input.secret === undefined
            ? row.secret
            : this.keyRing.seal(Buffer.from(input.secret), secretContext(clientId)),
        updated_at: now,
      };
      await trx.updateTable('radius_clients').set(next).where('client_id', '=', clientId).execute();
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        // Which fields changed, never the secret itself.
        detail: {
          clientId,
          changed: Object.keys(input).filter((k) => input[k as keyof RadiusClientUpdate] !== undefined),
        },
        at: now,
      });
      return toView(next);
    });
    this.changed();
    return view;
  }

  async delete(ctx: AuditContext, clientId: string): Promise<void> {
    const now = this.clock.now();
    await this.store.transaction(async (trx) => {
      const deleted = await trx
        .deleteFrom('radius_clients')
        .where('operator_id', '=', ctx.principal.operatorId)
        .where('client_id', '=', clientId)
        .executeTakeFirst();
      if (Number(deleted.numDeletedRows) === 0)
        throw new SimtrustError('ERR_NOT_FOUND', `no RADIUS client ${clientId}`);
      await writeAudit(trx, { context: ctx, result: 'success', detail: { clientId }, at: now });
    });
    this.changed();
  }

  /** Every client with its secret opened: the RADIUS server's table. A row that does not open is skipped. */
  async loadAll(): Promise<{ clients: RadiusClientSecret[]; unreadable: string[] }> {
    const rows = await this.store.db.selectFrom('radius_clients').selectAll().execute();
    const clients: RadiusClientSecret[] = [];
    const unreadable: string[] = [];
    for (const row of rows) {
      const secret = this.keyRing.tryOpen(row.secret, secretContext(row.client_id));
      if (secret === undefined) unreadable.push(row.client_id);
      else clients.push({ ...toView(row), secret });
    }
    return { clients, unreadable };
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
