// Every declared TLV object in one place, for the generic registry test and for tools that want to
// name an unknown tag. Add a module's list here when it declares new objects.

import { GP_AMD_B_TLVS } from './gp-amd-b-ram-over-http.js';
import type { BerTlvDefinition, ComprehensionTlvDefinition } from './tlv-registry.js';
import { TS_102_221_TLVS } from './ts-102-221-tlv.js';
import { CAT_DATA_OBJECTS, CAT_TEMPLATES } from './ts-102-223-tlv.js';

export const BER_TLV_DEFINITIONS: readonly BerTlvDefinition<unknown>[] = [
  ...TS_102_221_TLVS,
  ...CAT_TEMPLATES,
  ...(GP_AMD_B_TLVS as readonly BerTlvDefinition<unknown>[]),
];

export const COMPREHENSION_TLV_DEFINITIONS: readonly ComprehensionTlvDefinition<unknown>[] = CAT_DATA_OBJECTS;
