import { Component, type ReactNode, useEffect } from 'react';
import { SignInPage } from '../auth/SignInPage';
import { useSession } from '../auth/session';
import { LANGUAGES, type Language, useI18n } from '../i18n/i18n';
import { DOMAINS } from './domains';
import { Link, match, navigate, useLocation } from './router';

const ROUTES = DOMAINS.flatMap((d) => d.routes);

function LanguageSwitch() {
  const { t, language, setLanguage } = useI18n();
  return (
    <label className="inline">
      {t('app.language')}
      <select value={language} onChange={(e) => setLanguage(e.target.value as Language)}>
        {LANGUAGES.map((l) => (
          <option key={l} value={l}>
            {l === 'en' ? 'English' : '日本語'}
          </option>
        ))}
      </select>
    </label>
  );
}

class ErrorBoundary extends Component<
  { children: ReactNode; message: (m: string) => string },
  { error?: Error }
> {
  override state: { error?: Error } = {};
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  override render() {
    if (this.state.error)
      return (
        <p role="alert" className="error">
          {this.props.message(this.state.error.message)}
        </p>
      );
    return this.props.children;
  }
}

export function App() {
  const { t, formatTime } = useI18n();
  const { state, signOut } = useSession();
  const { path } = useLocation();

  // Signed out on a console page: the sign-in page, coming back here afterwards.
  useEffect(() => {
    if (state.status === 'signed-out' && path !== '/sign-in') {
      const here = window.location.pathname + window.location.search;
      navigate(`/sign-in?next=${encodeURIComponent(here)}`, { replace: true });
    }
    if (state.status === 'signed-in' && (path === '/' || path === '/sign-in'))
      navigate('/sims', { replace: true });
  }, [state.status, path]);

  if (state.status === 'loading') return <p className="loading">{t('app.loading')}</p>;

  const header = (
    <header className="top">
      <a className="skip" href="#main">
        {t('app.skip')}
      </a>
      <span className="brand">{t('app.title')}</span>
      {state.status === 'signed-in' && (
        <nav aria-label={t('nav.main')}>
          {DOMAINS.flatMap((d) =>
            d.nav
              ? [
                  <Link
                    key={d.nav.to}
                    to={d.nav.to}
                    aria-current={path.startsWith(d.nav.to) ? 'page' : undefined}
                  >
                    {t(d.nav.label)}
                  </Link>,
                ]
              : [],
          )}
        </nav>
      )}
      <div className="spacer" />
      <LanguageSwitch />
      {state.status === 'signed-in' && (
        <>
          <span className="who" title={t('app.expires', { time: formatTime(state.session.expiresAt) })}>
            {t('app.signedInAs', {
              who: state.session.userName ?? `root (${state.session.operatorId})`,
            })}
          </span>
          <button type="button" className="secondary" onClick={() => void signOut()}>
            {t('app.signOut')}
          </button>
        </>
      )}
    </header>
  );

  if (state.status === 'signed-out') {
    return (
      <>
        {header}
        <SignInPage reason={state.reason} />
      </>
    );
  }
  const found = match(ROUTES, path);
  return (
    <>
      {header}
      <main id="main">
        <ErrorBoundary key={path} message={(m) => t('app.error', { message: m })}>
          {found ? found.route.render(found.params) : <p>{t('app.notFound')}</p>}
        </ErrorBoundary>
      </main>
    </>
  );
}
