import { Type } from '@fastify/type-provider-typebox';
import { TagMap } from './common.js';

export const GroupIdParams = Type.Object({ group_id: Type.String({ minLength: 1, maxLength: 64 }) });

export const Namespace = Type.String({
  pattern: '^[A-Za-z][A-Za-z0-9]{0,63}$',
  description: 'Configuration namespace, e.g. SoracomAir or Endorse (SoracomEndorse is an alias).',
});

export const Group = Type.Object(
  {
    groupId: Type.String(),
    operatorId: Type.String(),
    tags: TagMap,
    configuration: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown())),
    createdTime: Type.Integer(),
    lastModifiedTime: Type.Integer(),
  },
  { $id: 'Group' },
);

export const CreateGroupBody = Type.Object(
  {
    tags: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 100 }), Type.String({ maxLength: 1000 })),
    ),
    configuration: Type.Optional(
      Type.Record(Namespace, Type.Record(Type.String({ maxLength: 100 }), Type.Unknown())),
    ),
  },
  { additionalProperties: false },
);

export const ConfigurationParameters = Type.Array(
  Type.Object(
    { key: Type.String({ minLength: 1, maxLength: 100 }), value: Type.Unknown() },
    { additionalProperties: false },
  ),
  { minItems: 1, maxItems: 100 },
);
