// Step "resolve identity". Enforces: the identity the peer presents names one subscriber — a
// permanent identity carries a 6–15 digit IMSI (TS 23.003 §2.2); a pseudonym or fast
// re-authentication identity must be one we issued, still live, for the method in use. Anything
// else is "unknown" and leads to a further identity request (RFC 4187 §4.1.4–4.1.6), never a guess.

import { parseEapIdentity } from '../../../../lib/eap/ts-23-003-nai.js';
import type { Step } from '../turn.js';

export const resolveIdentity: Step = async (t) => {
  const { presented, conversation } = t;
  if (presented === undefined || presented.length === 0) {
    t.identity =
      conversation.imsi === undefined
        ? { kind: 'unusable', why: 'no identity presented' }
        : { kind: 'known', imsi: conversation.imsi };
    return undefined;
  }
  const parsed = parseEapIdentity(presented);
  if (!parsed.ok) {
    t.identity = { kind: 'unusable', why: parsed.error.message };
    return undefined;
  }
  const p = parsed.value;
  const { settings, identities } = t.deps;
  switch (p.kind) {
    case 'permanent':
      t.identity = { kind: 'permanent', imsi: p.imsi ?? p.username };
      return undefined;
    case 'pseudonym': {
      const record =
        settings.pseudonymMs > 0 && p.method === conversation.method
          ? await identities.byPseudonym(p.username, t.now)
          : undefined;
      t.identity =
        record === undefined
          ? { kind: 'unknown-pseudonym' }
          : { kind: 'pseudonym', imsi: record.imsi, record };
      return undefined;
    }
    case 'reauth': {
      const record =
        settings.reauthMs > 0 && p.method === conversation.method
          ? await identities.byReauthId(p.username, t.now)
          : undefined;
      t.identity =
        record === undefined || record.method !== conversation.method
          ? { kind: 'unknown-reauth' }
          : { kind: 'reauth', imsi: record.imsi, record, id: p.username };
      return undefined;
    }
  }
};
