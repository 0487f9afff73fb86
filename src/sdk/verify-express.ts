// Public entry point `simtrust/verify/express`: the Express middleware of `@simtrust/verify`.
export * from '@simtrust/verify/express';
