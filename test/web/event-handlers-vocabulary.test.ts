// The console's event handler form is driven by web/src/event-handlers/vocabulary.ts, a generated copy
// of the platform's one declaration of rule and action types (src/platform/events/rules.ts): the page
// cannot import that module (Node's Buffer, the SIM model's crypto). The threat is a stale copy — a
// rule type, property, bound or enum value the form offers that the API no longer takes, or misses.

import { describe, expect, it } from 'vitest';
import { HANDLER_STATUSES } from '../../src/platform/events/event-handlers.js';
import * as platform from '../../src/platform/events/rules.js';
import * as web from '../../web/src/event-handlers/vocabulary.js';

describe('event handler vocabulary in the console', () => {
  it('equals the platform declaration (run `npm run docs` when it does not)', () => {
    expect(web.RULE_TYPES).toEqual(platform.RULE_TYPES);
    expect(web.ACTION_TYPES).toEqual(platform.ACTION_TYPES);
    expect(web.INACTIVE_TIMEOUTS).toEqual(platform.INACTIVE_TIMEOUTS);
    expect(web.EXECUTION_TIMES).toEqual(platform.EXECUTION_TIMES);
    expect(web.TARGET_KINDS).toEqual(platform.TARGET_KINDS);
    expect(web.MAX_ACTIONS).toBe(platform.MAX_ACTIONS);
    expect(web.MAX_HANDLERS_PER_TARGET).toBe(platform.MAX_HANDLERS_PER_TARGET);
    expect(web.MAX_OFFSET_MINUTES).toBe(platform.MAX_OFFSET_MINUTES);
    expect(web.HANDLER_STATUSES).toEqual(HANDLER_STATUSES);
  });
});
