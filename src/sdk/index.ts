// Public entry point `simtrust/sdk`.
export {
  type AuthResult,
  type ClientOptions,
  createClient,
  SimtrustApiError,
  SimtrustClient,
} from './client.js';
