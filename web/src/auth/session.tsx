// The console session: the platform holds it in an httpOnly cookie (plugins/console.ts); this page
// keeps only the CSRF token and who is signed in, in memory. A reload asks GET /console/api/session
// again; the session ends at the token's expiry, on sign-out, or at the first 401.

import { useQueryClient } from '@tanstack/react-query';
import { createContext, type ReactNode, useCallback, useContext, useEffect, useState } from 'react';
import { ApiError, apiError, csrfHeaders, setCsrfToken, whenUnauthenticated } from '../api/client';

export interface Session {
  readonly operatorId: string;
  readonly kind: string;
  readonly userName?: string;
  readonly expiresAt: number;
  readonly csrfToken: string;
}

export type SignInRequest =
  | { email: string; password: string }
  | { operatorId: string; userName: string; password: string };

export type SignInOutcome =
  | { kind: 'signed-in' }
  | { kind: 'totp' }
  | { kind: 'sms'; transactionId: string; message: string };

type State =
  | { status: 'loading' }
  | { status: 'signed-out'; reason?: 'expired' | 'signed-out' }
  | { status: 'signed-in'; session: Session };

interface SessionContextValue {
  readonly state: State;
  signIn(
    request: SignInRequest,
    second?: { mfaOTPCode: string; mfaTransactionId?: string },
  ): Promise<SignInOutcome>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionContextValue | undefined>(undefined);
const SESSION_URL = '/console/api/session';

async function readSession(response: Response): Promise<Session> {
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) throw apiError(response, body);
  return body as Session;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<State>({ status: 'loading' });
  const queryClient = useQueryClient();

  const end = useCallback(
    (reason: 'expired' | 'signed-out') => {
      setCsrfToken(undefined);
      queryClient.clear();
      setState((s) => (s.status === 'signed-in' ? { status: 'signed-out', reason } : s));
    },
    [queryClient],
  );

  const begin = useCallback((session: Session) => {
    setCsrfToken(session.csrfToken);
    setState({ status: 'signed-in', session });
  }, []);

  useEffect(() => {
    whenUnauthenticated(() => end('expired'));
    fetch(SESSION_URL, { credentials: 'same-origin' }).then(
      async (response) => {
        if (response.status === 401) return setState({ status: 'signed-out' });
        begin(await readSession(response));
      },
      () => setState({ status: 'signed-out' }),
    );
  }, [begin, end]);

  // The session ends with its token: sign-in again at the expiry, without a failed request first.
  const expiresAt = state.status === 'signed-in' ? state.session.expiresAt : undefined;
  useEffect(() => {
    if (expiresAt === undefined) return;
    const timer = setTimeout(
      () => end('expired'),
      Math.max(0, Math.min(expiresAt - Date.now(), 2 ** 31 - 1)),
    );
    return () => clearTimeout(timer);
  }, [expiresAt, end]);

  const signIn = useCallback<SessionContextValue['signIn']>(
    async (request, second) => {
      const response = await fetch(SESSION_URL, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...request, ...second }),
      });
      try {
        begin(await readSession(response));
        return { kind: 'signed-in' };
      } catch (e) {
        if (e instanceof ApiError && e.code === 'ERR_MFA_REQUIRED') return { kind: 'totp' };
        const transactionId = response.headers.get('x-simtrust-mfa-transaction');
        if (e instanceof ApiError && e.code === 'ERR_MFA_SMS_REQUIRED' && transactionId)
          return { kind: 'sms', transactionId, message: e.message };
        throw e;
      }
    },
    [begin],
  );

  const signOut = useCallback(async () => {
    await fetch(SESSION_URL, { method: 'DELETE', credentials: 'same-origin', headers: csrfHeaders() });
    end('signed-out');
  }, [end]);

  return <SessionContext.Provider value={{ state, signIn, signOut }}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (value === undefined) throw new Error('useSession outside SessionProvider');
  return value;
}

/** The signed-in session (only inside pages rendered for a signed-in user). */
export function useSignedIn(): Session {
  const { state } = useSession();
  if (state.status !== 'signed-in') throw new Error('not signed in');
  return state.session;
}
