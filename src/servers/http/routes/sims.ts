// The Sim API (shapes after SORACOM's): list/get/create, lifecycle verbs, speed class, tags,
// groups, IMEI lock, expiry, status history and the streaming CSV import.

import { PassThrough, type Readable } from 'node:stream';
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { SimtrustError } from '../../../lib/errors.js';
import { currentSessionImei } from '../../../platform/aaa/sessions.js';
import type { Platform } from '../../../platform/platform.js';
import { LIFECYCLE, LIFECYCLE_ACTIONS } from '../../../platform/sims/lifecycle.js';
import { pageSize, setNextPage, splitFilter } from '../pagination.js';
import { auditContext } from '../plugins/auth.js';
import { responses, TagUpdate } from '../schemas/common.js';
import {
  CreateSimBody,
  ExpiryTimeBody,
  ImportRejected,
  ImportSummary,
  ListSimsQuery,
  SimIdParams,
  SpeedClass,
  StatusHistory,
} from '../schemas/sims.js';

const SimRef = Type.Ref('Sim');

export const simRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { sims } = platform;

    // The import body is streamed straight into the parser, never buffered.
    app.addContentTypeParser(['text/csv', 'application/csv'], (_request, payload, done) =>
      done(null, payload),
    );

    app.get(
      '/sims',
      {
        schema: {
          tags: ['Sim'],
          operationId: 'listSims',
          summary: 'List SIMs, filtered, in pages (keyset: pass x-soracom-next-key as last_evaluated_key).',
          querystring: ListSimsQuery,
          response: responses({ 200: Type.Array(SimRef) }),
        },
      },
      async (request, reply) => {
        const q = request.query;
        const page = await sims.list(
          request.principal!.operatorId,
          {
            status: splitFilter(q.status_filter),
            speedClass: splitFilter(q.speed_class_filter),
            groupId: q.group_id,
            tagName: q.tag_name,
            tagValue: q.tag_value,
            tagValueMatchMode: q.tag_value_match_mode,
            imsiPrefix: q.imsi_prefix,
            iccidPrefix: q.iccid_prefix,
            msisdnPrefix: q.msisdn_prefix?.replace(/^\+/, ''),
          },
          { limit: pageSize(q.limit), after: q.last_evaluated_key },
        );
        setNextPage(request, reply, page.nextKey);
        return page.items;
      },
    );

    app.post(
      '/sims',
      {
        schema: {
          tags: ['Sim'],
          operationId: 'createSim',
          summary:
            'Register one SIM with its profile (Ki and OPc or OP are stored encrypted, never returned).',
          body: CreateSimBody,
          response: responses({ 201: SimRef }, 404, 409),
        },
      },
      async (request, reply) =>
        reply.status(201).send(await sims.create(auditContext(request), request.body)),
    );

    app.post(
      '/sims/import',
      {
        bodyLimit: platform.config.importMaxBytes,
        schema: {
          tags: ['Sim'],
          operationId: 'importSims',
          summary:
            'Import a card vendor CSV (text/csv; header iccid,imsi,msisdn,ki,opc; optional op, amf, serial_number, type, group, tags; OTA keys kic, kid, kvn, quarantine_imsi). Idempotent. With Accept: application/x-ndjson the answer streams progress lines.',
          consumes: ['text/csv'],
          response: responses({ 200: ImportSummary, 422: ImportRejected }, 413, 415),
        },
      },
      async (request, reply) => {
        const input = request.body as Readable | undefined;
        if (input === undefined || typeof input.pipe !== 'function') {
          throw new SimtrustError('ERR_UNSUPPORTED_MEDIA_TYPE', 'send the CSV as text/csv');
        }
        const ctx = auditContext(request);
        const maxBytes = platform.config.importMaxBytes;
        const rejectedMessage = (rejected: number, rows: number) =>
          `${rejected} of ${rows} rows were rejected; the other rows were imported (see errors)`;

        if (!String(request.headers.accept ?? '').includes('application/x-ndjson')) {
          const summary = await platform.importer.importCsv(ctx, input, { maxBytes });
          if (summary.rejected === 0) return summary;
          return reply.status(422).send({
            code: 'ERR_IMPORT_ROW',
            message: rejectedMessage(summary.rejected, summary.rows),
            ...summary,
          });
        }

        // Streaming progress: one JSON object per line, the last one the summary (or an error).
        const out = new PassThrough();
        reply.type('application/x-ndjson').send(out);
        const line = (o: unknown) => out.write(`${JSON.stringify(o)}\n`);
        try {
          const summary = await platform.importer.importCsv(ctx, input, {
            maxBytes,
            onProgress: (p) => line({ type: 'progress', ...p }),
          });
          line({
            type: 'summary',
            ...summary,
            ...(summary.rejected > 0
              ? { code: 'ERR_IMPORT_ROW', message: rejectedMessage(summary.rejected, summary.rows) }
              : {}),
          });
        } catch (e) {
          const error = e instanceof SimtrustError ? e : new SimtrustError('ERR_INTERNAL', 'import failed');
          if (!(e instanceof SimtrustError)) request.log.error({ err: e }, 'import failed');
          line({ type: 'error', ...error.toBody() });
        }
        out.end();
        return reply;
      },
    );

    app.get(
      '/sims/:sim_id',
      {
        schema: {
          tags: ['Sim'],
          operationId: 'getSim',
          summary: 'Get one SIM.',
          params: SimIdParams,
          response: responses({ 200: SimRef }, 404),
        },
      },
      async (request) => sims.get(request.principal!.operatorId, request.params.sim_id),
    );

    for (const action of LIFECYCLE_ACTIONS) {
      const rule = LIFECYCLE[action];
      app.post(
        `/sims/:sim_id/${action}`,
        {
          schema: {
            tags: ['Sim'],
            operationId: rule.operationId,
            summary: rule.summary,
            params: SimIdParams,
            response: responses({ 200: SimRef }, 404, 409),
          },
        },
        async (request) => sims.transition(auditContext(request), request.params.sim_id, action),
      );
    }

    for (const [verb, enabled] of [
      ['enable_termination', true],
      ['disable_termination', false],
    ] as const) {
      app.post(
        `/sims/:sim_id/${verb}`,
        {
          schema: {
            tags: ['Sim'],
            operationId: enabled ? 'enableSimTermination' : 'disableSimTermination',
            summary: enabled ? 'Remove termination protection.' : 'Restore termination protection.',
            params: SimIdParams,
            response: responses({ 200: SimRef }, 404, 409),
          },
        },
        async (request) => sims.setTermination(auditContext(request), request.params.sim_id, enabled),
      );
    }

    app.post(
      '/sims/:sim_id/update_speed_class',
      {
        schema: {
          tags: ['Sim'],
          operationId: 'updateSimSpeedClass',
          summary: 'Change the speed class.',
          params: SimIdParams,
          body: Type.Object({ speedClass: SpeedClass }, { additionalProperties: false }),
          response: responses({ 200: SimRef }, 404, 409),
        },
      },
      async (request) =>
        sims.updateSpeedClass(auditContext(request), request.params.sim_id, request.body.speedClass),
    );

    app.put(
      '/sims/:sim_id/tags',
      {
        schema: {
          tags: ['Sim'],
          operationId: 'putSimTags',
          summary: 'Add or update tags.',
          params: SimIdParams,
          body: TagUpdate,
          response: responses({ 200: SimRef }, 404),
        },
      },
      async (request) => sims.putTags(auditContext(request), request.params.sim_id, request.body),
    );

    app.delete(
      '/sims/:sim_id/tags/:tag_name',
      {
        schema: {
          tags: ['Sim'],
          operationId: 'deleteSimTag',
          summary: 'Delete a tag.',
          params: Type.Object({
            sim_id: SimIdParams.properties.sim_id,
            tag_name: Type.String({ minLength: 1, maxLength: 100 }),
          }),
          response: responses({ 200: SimRef }, 404),
        },
      },
      async (request) =>
        sims.deleteTag(auditContext(request), request.params.sim_id, request.params.tag_name),
    );

    app.post(
      '/sims/:sim_id/set_group',
      {
        schema: {
          tags: ['Sim'],
          operationId: 'setSimGroup',
          summary: 'Put the SIM in a group.',
          params: SimIdParams,
          body: Type.Object(
            { groupId: Type.String({ minLength: 1, maxLength: 64 }) },
            { additionalProperties: false },
          ),
          response: responses({ 200: SimRef }, 404, 409),
        },
      },
      async (request) => sims.setGroup(auditContext(request), request.params.sim_id, request.body.groupId),
    );

    app.post(
      '/sims/:sim_id/unset_group',
      {
        schema: {
          tags: ['Sim'],
          operationId: 'unsetSimGroup',
          summary: 'Take the SIM out of its group.',
          params: SimIdParams,
          response: responses({ 200: SimRef }, 404, 409),
        },
      },
      async (request) => sims.setGroup(auditContext(request), request.params.sim_id, null),
    );

    app.post(
      '/sims/:sim_id/set_imei_lock',
      {
        schema: {
          tags: ['Sim'],
          operationId: 'setSimImeiLock',
          summary:
            'Lock the SIM to an IMEI ("<imei>" or "<imei>|ANONYMOUS" to also admit sessions without an IMEI; empty = the IMEI of the current session).',
          params: SimIdParams,
          body: Type.Object({ imei: Type.String({ maxLength: 32 }) }, { additionalProperties: false }),
          response: responses({ 200: SimRef }, 404, 409),
        },
      },
      async (request) =>
        sims.setImeiLock(auditContext(request), request.params.sim_id, request.body.imei, currentSessionImei),
    );

    app.post(
      '/sims/:sim_id/unset_imei_lock',
      {
        schema: {
          tags: ['Sim'],
          operationId: 'unsetSimImeiLock',
          summary: 'Remove the IMEI lock.',
          params: SimIdParams,
          response: responses({ 200: SimRef }, 404, 409),
        },
      },
      async (request) => sims.unsetImeiLock(auditContext(request), request.params.sim_id),
    );

    app.post(
      '/sims/:sim_id/set_expiry_time',
      {
        schema: {
          tags: ['Sim'],
          operationId: 'setSimExpiryTime',
          summary:
            'Set when the SIM expires and what then happens to it (expiryAction); the expiry job carries it out once, and raises SimExpiredRule/SubscriberExpiredRule.',
          params: SimIdParams,
          body: ExpiryTimeBody,
          response: responses({ 200: SimRef }, 400, 404, 409),
        },
      },
      async (request) => sims.setExpiry(auditContext(request), request.params.sim_id, request.body),
    );

    app.post(
      '/sims/:sim_id/unset_expiry_time',
      {
        schema: {
          tags: ['Sim'],
          operationId: 'unsetSimExpiryTime',
          summary: 'Remove the SIM’s expiry (nothing happens at the time that was set).',
          params: SimIdParams,
          response: responses({ 200: SimRef }, 404, 409),
        },
      },
      async (request) => sims.unsetExpiry(auditContext(request), request.params.sim_id),
    );

    app.get(
      '/sims/:sim_id/statuses/history',
      {
        schema: {
          tags: ['Sim'],
          operationId: 'listSimStatusHistory',
          summary: 'Status changes of the SIM, newest first.',
          params: SimIdParams,
          response: responses({ 200: StatusHistory }, 404),
        },
      },
      async (request) => sims.statusHistory(request.principal!.operatorId, request.params.sim_id),
    );
  };
