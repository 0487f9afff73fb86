// The applet classes a card file can install (`applets[].name`). A new applet is a new folder here
// and one line in this list; the card itself does not change.

import type { AppletClass } from '../toolkit/ts-102-241-applet-api.js';
import { ANTI_THEFT } from './anti-theft/applet.js';

export const APPLET_CLASSES: readonly AppletClass[] = [ANTI_THEFT];
