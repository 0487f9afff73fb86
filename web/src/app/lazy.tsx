// Domain pages load on first visit (their own chunk), so the console's first load carries the shell,
// sign-in and the SIM list only; each new domain folder's routes.tsx wraps its pages with lazyPage.

import { type ComponentType, lazy, Suspense } from 'react';
import { useI18n } from '../i18n/i18n';

function Loading() {
  const { t } = useI18n();
  return <p className="loading">{t('app.loading')}</p>;
}

export function lazyPage<P extends object>(load: () => Promise<ComponentType<P>>): ComponentType<P> {
  const Page = lazy(async () => ({ default: await load() }));
  return function LazyPage(props: P) {
    return (
      <Suspense fallback={<Loading />}>
        <Page {...props} />
      </Suspense>
    );
  };
}
