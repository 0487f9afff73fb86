// Public entry point `simtrust/verify/fastify`: the Fastify preHandler of `@simtrust/verify` (its
// module augmentation adds `request.simToken`).
export * from '@simtrust/verify/fastify';
