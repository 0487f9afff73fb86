// The MQTT entry point's part of a group's `SoracomBeam` configuration (soracom.md §5.3; SORACOM's
// Go SDK `BeamMQTTConfig`): the key is the entry point's URL, `mqtt://beam.soracom.io:1883` on
// SORACOM — any key whose scheme is `mqtt:` is the MQTT entry point here, whatever its host and
// port, so a configuration written for SORACOM works unchanged. The value:
//
//   { name, enabled, destination: "mqtts://host:8883" | "mqtt://host:1883",
//     addSubscriberHeader,                      // append "/{IMSI}" to published topics (default on)
//     username, password,                       // a string, or {"$credentialsId": "…"}
//     useClientCert, clientCerts: { default: {"$credentialsId": "…"} } }   // an x509 credential set
//
// A `$credentialsId` may contain `#{imsi}` (one credential set per SIM). Secrets are never taken
// inline where SORACOM's console would put them in a credential set: a client certificate's key in
// the group configuration would be readable by anyone who may read the group, so `clientCerts`
// must reference an x509 set. A plain `password` is accepted (SORACOM accepts it) and documented
// as readable by group readers; a credential set keeps it encrypted and out of every answer.

import { isIP } from 'node:net';
import { SimtrustError } from '../../lib/errors.js';
import { isCredentialsReference } from '../credentials/credential-sets.js';

/** A reference to a credential set (`{"$credentialsId": "…"}`), resolved per SIM. */
export interface CredentialReference {
  readonly credentialsId: string;
}

export interface BeamMqttDestination {
  /** mqtts: TLS to the broker (the point of Beam); mqtt: plain TCP, as SORACOM also allows. */
  readonly tls: boolean;
  readonly host: string;
  readonly port: number;
}

export interface BeamMqttConfig {
  /** The configuration key it came from (e.g. `mqtt://beam.soracom.io:1883`). */
  readonly key: string;
  readonly name: string | undefined;
  readonly enabled: boolean;
  readonly destination: BeamMqttDestination;
  /** Append `/{IMSI}` to the topic of every PUBLISH (and will) the device sends. */
  readonly addSubscriberHeader: boolean;
  readonly username: string | CredentialReference | undefined;
  readonly password: string | CredentialReference | undefined;
  /** The x509 credential set whose certificate and key are presented to the broker. */
  readonly clientCert: CredentialReference | undefined;
}

/** Longest plain username or password (MQTT strings are at most 65535 bytes; brokers use far less). */
const MAX_SECRET_TEXT = 4096;

const KNOWN_FIELDS = new Set([
  'name',
  'enabled',
  'destination',
  'addSubscriberHeader',
  'username',
  'password',
  'useClientCert',
  'clientCerts',
]);

/** Whether a `SoracomBeam` key names the MQTT entry point (scheme `mqtt:`, any host and port). */
export function isBeamMqttKey(key: string): boolean {
  return /^mqtt:\/\//i.test(key);
}

const invalid = (key: string, message: string) =>
  new SimtrustError('ERR_BEAM_CONFIG', `SoracomBeam "${key.slice(0, 100)}": ${message}`);

function parseReference(key: string, field: string, value: unknown): CredentialReference {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(key, `${field} must be a string or {"$credentialsId": "<credential set id>"}`);
  }
  const entries = Object.entries(value);
  const id = (value as Record<string, unknown>).$credentialsId;
  if (entries.length !== 1 || typeof id !== 'string' || !isCredentialsReference(id)) {
    throw invalid(
      key,
      `${field} must be {"$credentialsId": "<credential set id>"} (letters, digits, . _ -; #{imsi} allowed)`,
    );
  }
  return { credentialsId: id };
}

function parseSecretText(
  key: string,
  field: string,
  value: unknown,
): string | CredentialReference | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string') {
    if (value.length > MAX_SECRET_TEXT)
      throw invalid(key, `${field} is longer than ${MAX_SECRET_TEXT} characters`);
    return value;
  }
  return parseReference(key, field, value);
}

/** `mqtts://host:port` (port 8883 when omitted) or `mqtt://host:port` (1883); nothing else. */
export function parseBeamMqttDestination(key: string, value: unknown): BeamMqttDestination {
  if (typeof value !== 'string' || value.length === 0 || value.length > 300) {
    throw invalid(key, 'destination must be a URL such as "mqtts://broker.example.com:8883"');
  }
  // The URL parser would trim blanks and drop tabs and line breaks; a value holding any is refused
  // instead, so what is stored is what is used.
  if ([...value].some((c) => c.charCodeAt(0) <= 0x20 || c.charCodeAt(0) === 0x7f)) {
    throw invalid(key, 'destination must not contain spaces or control characters');
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(key, 'destination must be a URL such as "mqtts://broker.example.com:8883"');
  }
  const scheme = url.protocol.toLowerCase();
  if (scheme !== 'mqtts:' && scheme !== 'mqtt:') {
    throw invalid(key, `destination must use mqtts:// (or mqtt:// for a broker without TLS), not ${scheme}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw invalid(key, 'destination must not carry a user or password; use the username and password fields');
  }
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw invalid(
      key,
      'destination is a broker address (mqtts://host:port), without path, query or fragment',
    );
  }
  // WHATWG URL keeps IPv6 literals bracketed in hostname.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (
    host === '' ||
    (isIP(host) === 0 && !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i.test(host))
  ) {
    throw invalid(key, 'destination must name a host (a DNS name or an IP address)');
  }
  const tls = scheme === 'mqtts:';
  const port = url.port === '' ? (tls ? 8883 : 1883) : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw invalid(key, 'destination port must be 1 to 65535');
  return { tls, host, port };
}

/**
 * Parses the value of one `mqtt://…` key; throws ERR_BEAM_CONFIG naming the key and the field. Used
 * by the group validator (bad configuration is refused when it is written) and by the entry point.
 */
export function parseBeamMqttConfig(key: string, value: unknown): BeamMqttConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(
      key,
      'the value must be an object such as {"destination": "mqtts://host:8883", "enabled": true}',
    );
  }
  const v = value as Record<string, unknown>;
  for (const field of Object.keys(v)) {
    if (!KNOWN_FIELDS.has(field)) {
      throw invalid(
        key,
        `unknown field ${JSON.stringify(field.slice(0, 50))} (known: ${[...KNOWN_FIELDS].join(', ')})`,
      );
    }
  }
  const bool = (field: string, fallback: boolean): boolean => {
    const b = v[field];
    if (b === undefined || b === null) return fallback;
    if (typeof b !== 'boolean') throw invalid(key, `${field} must be true or false`);
    return b;
  };
  if (v.name !== undefined && (typeof v.name !== 'string' || v.name.length > 200)) {
    throw invalid(key, 'name must be a string of at most 200 characters');
  }
  const useClientCert = bool('useClientCert', false);
  let clientCert: CredentialReference | undefined;
  if (useClientCert) {
    const certs = v.clientCerts;
    const entry =
      typeof certs === 'object' && certs !== null && !Array.isArray(certs)
        ? (certs as Record<string, unknown>).default
        : undefined;
    if (entry === undefined) {
      throw invalid(
        key,
        'useClientCert needs clientCerts: {"default": {"$credentialsId": "<x509 credential set>"}}',
      );
    }
    if (typeof entry === 'object' && entry !== null && ('key' in entry || 'cert' in entry)) {
      throw invalid(
        key,
        'clientCerts must reference an x509 credential set ({"$credentialsId": …}); a certificate and key written into the group configuration would be readable by every group reader',
      );
    }
    clientCert = parseReference(key, 'clientCerts.default', entry);
  }
  return {
    key,
    name: typeof v.name === 'string' ? v.name : undefined,
    enabled: bool('enabled', true),
    destination: parseBeamMqttDestination(key, v.destination),
    addSubscriberHeader: bool('addSubscriberHeader', true),
    username: parseSecretText(key, 'username', v.username),
    password: parseSecretText(key, 'password', v.password),
    clientCert,
  };
}

/** The group validator's check of one `mqtt://…` key (throws ERR_BEAM_CONFIG). */
export function validateBeamMqttParameter(key: string, value: unknown): void {
  parseBeamMqttConfig(key, value);
}

/**
 * The MQTT entry point's configuration among a group's `SoracomBeam` parameters: the enabled
 * `mqtt://` key (the first in key order when, against the validator's advice, there are several).
 * Undefined when there is none; throws ERR_BEAM_CONFIG when the stored value does not parse (a row
 * written before this validator existed).
 */
export function beamMqttConfigOf(
  configuration: Readonly<Record<string, unknown>>,
): BeamMqttConfig | undefined {
  const keys = Object.keys(configuration).filter(isBeamMqttKey).sort();
  for (const key of keys) {
    const parsed = parseBeamMqttConfig(key, configuration[key]);
    if (parsed.enabled) return parsed;
  }
  return undefined;
}
