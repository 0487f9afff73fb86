// Public entry point `simtrust/verify`: the verifier SDK, which lives in its own small package
// `@simtrust/verify` (packages/verify) so a server that only verifies tokens need not install the
// platform. Re-exported here so both names are one module (one SimTokenError class).
export * from '@simtrust/verify';
