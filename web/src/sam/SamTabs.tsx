import { Link, useLocation } from '../app/router';
import { useI18n } from '../i18n/i18n';

/** Users | Roles, under the SAM pages' heading. */
export function SamTabs() {
  const { t } = useI18n();
  const { path } = useLocation();
  return (
    <nav className="row tabs" aria-label={t('nav.sam')}>
      <Link to="/sam/users" aria-current={path.startsWith('/sam/users') ? 'page' : undefined}>
        {t('sam.users')}
      </Link>
      <Link to="/sam/roles" aria-current={path.startsWith('/sam/roles') ? 'page' : undefined}>
        {t('sam.roles')}
      </Link>
    </nav>
  );
}
