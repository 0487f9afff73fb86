// Exported files (SORACOM's Files:getExportedFile): the state of an export started with
// export_mode=async and, once written, a short-lived download URL; and that URL itself, which needs
// no credentials (as SORACOM's pre-signed URLs) but a random token bound to the file, compared in
// constant time, valid exportUrlTtlSeconds, replaced whenever a new URL is asked for.

import { createReadStream } from 'node:fs';
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { Platform } from '../../../platform/platform.js';
import { responses } from '../schemas/common.js';
import { downloadUrl } from './beam-stats.js';

const FileIdParams = Type.Object({
  exported_file_id: Type.String({ pattern: '^ef-[0-9a-f]{24}$', description: 'exportedFileId of an export' }),
});

const ExportedFileState = Type.Object({
  exportedFileId: Type.String(),
  status: Type.Union([Type.Literal('processing'), Type.Literal('exported'), Type.Literal('failed')]),
  url: Type.Optional(Type.String({ description: 'When exported: the download URL (short-lived)' })),
  exportedFilePath: Type.String(),
  fileName: Type.String(),
  rows: Type.Optional(Type.Integer({ description: 'When exported: CSV rows without the header' })),
  bytes: Type.Optional(Type.Integer()),
  message: Type.Optional(Type.String({ description: 'When failed: why' })),
  expiryTime: Type.Integer({ description: 'Unix milliseconds: the file and this record are deleted then' }),
});

export const exportedFileRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/files/exported/:exported_file_id',
      {
        schema: {
          tags: ['Files'],
          operationId: 'getExportedFile',
          summary: 'The state of an export and, once it is written, its download URL.',
          params: FileIdParams,
          response: responses({ 200: ExportedFileState }, 404),
        },
      },
      async (request) => {
        const file = await platform.exports.get(
          request.principal!.operatorId,
          request.params.exported_file_id,
        );
        return {
          exportedFileId: file.fileId,
          status: file.status,
          exportedFilePath: file.filePath,
          fileName: file.fileName,
          expiryTime: file.expiresAt,
          ...(file.status === 'exported'
            ? {
                url: await downloadUrl(platform, request, file),
                rows: file.rows ?? 0,
                bytes: file.bytes ?? 0,
              }
            : {}),
          ...(file.status === 'failed' && file.error !== null ? { message: file.error } : {}),
        };
      },
    );

    app.get(
      '/files/exported/:exported_file_id/download',
      {
        config: { public: true },
        schema: {
          tags: ['Files'],
          operationId: 'downloadExportedFile',
          summary: 'The exported file (CSV), by the URL an export or getExportedFile gave; no credentials.',
          security: [],
          params: FileIdParams,
          querystring: Type.Object(
            { token: Type.String({ minLength: 1, maxLength: 128 }) },
            { additionalProperties: false },
          ),
          response: responses({ 200: Type.String({ description: 'text/csv' }) }, 404),
        },
      },
      async (request, reply) => {
        const file = await platform.exports.openDownload(
          request.params.exported_file_id,
          request.query.token,
        );
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${file.fileName}"`)
          .header('content-length', file.bytes)
          .header('cache-control', 'no-store')
          .header('referrer-policy', 'no-referrer')
          .send(createReadStream(file.path));
      },
    );
  };
