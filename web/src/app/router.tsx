// A small history router for the console: paths under /console/, a route table each domain folder
// contributes to (app/domains.ts), and links that keep the browser's back button working.

import { type AnchorHTMLAttributes, type ReactNode, useSyncExternalStore } from 'react';

export const BASE = '/console';

const listeners = new Set<() => void>();
const notify = () => {
  for (const l of listeners) l();
};
window.addEventListener('popstate', notify);

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The current location as `/sims/…?…` (without the /console base). */
export function useLocation(): { path: string; search: URLSearchParams } {
  const href = useSyncExternalStore(subscribe, () => window.location.pathname + window.location.search);
  const url = new URL(href, window.location.origin);
  const path = url.pathname.startsWith(`${BASE}/`) ? url.pathname.slice(BASE.length) : '/';
  return { path, search: url.searchParams };
}

/** Goes to a console path (`/sims/123`); `replace` keeps the history entry. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const target = to.startsWith(`${BASE}/`) ? to : `${BASE}${to}`;
  if (options.replace) window.history.replaceState(null, '', target);
  else window.history.pushState(null, '', target);
  notify();
}

export function Link({
  to,
  children,
  ...rest
}: { to: string; children: ReactNode } & Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'>) {
  return (
    <a
      {...rest}
      href={`${BASE}${to}`}
      onClick={(e) => {
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

export interface RouteDef {
  /** A path with `:name` segments, e.g. `/sims/:simId`. */
  readonly path: string;
  readonly render: (params: Record<string, string>) => ReactNode;
}

/** The route matching `path`, with its decoded parameters. */
export function match(
  routes: readonly RouteDef[],
  path: string,
): { route: RouteDef; params: Record<string, string> } | undefined {
  const parts = path.split('/').filter(Boolean);
  for (const route of routes) {
    const pattern = route.path.split('/').filter(Boolean);
    if (pattern.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const ok = pattern.every((p, i) => {
      const part = parts[i] ?? '';
      if (!p.startsWith(':')) return p === part;
      try {
        params[p.slice(1)] = decodeURIComponent(part);
        return true;
      } catch {
        return false;
      }
    });
    if (ok) return { route, params };
  }
  return undefined;
}
