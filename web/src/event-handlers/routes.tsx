import type { Domain } from '../app/domains';
import { lazyPage } from '../app/lazy';

const EventHandlerListPage = lazyPage(() => import('./HandlerListPage').then((m) => m.EventHandlerListPage));
const EventHandlerPage = lazyPage(() => import('./HandlerPage').then((m) => m.EventHandlerPage));
const EventHandlerEditPage = lazyPage(() => import('./HandlerPage').then((m) => m.EventHandlerEditPage));

export const eventHandlerRoutes: Domain = {
  nav: { to: '/event-handlers', label: 'nav.eventHandlers' },
  routes: [
    { path: '/event-handlers', render: () => <EventHandlerListPage /> },
    { path: '/event-handlers/new', render: () => <EventHandlerEditPage /> },
    { path: '/event-handlers/:handlerId', render: (p) => <EventHandlerPage handlerId={p.handlerId ?? ''} /> },
    {
      path: '/event-handlers/:handlerId/edit',
      render: (p) => <EventHandlerEditPage key={p.handlerId} handlerId={p.handlerId ?? ''} />,
    },
  ],
};
