// Hex <-> bytes. `fromHex` is total: it returns undefined for odd length or non-hex characters.

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

export function isHex(text: string, byteLength?: number): boolean {
  return HEX_RE.test(text) && (byteLength === undefined || text.length === byteLength * 2);
}

export function fromHex(text: string): Uint8Array | undefined {
  if (!HEX_RE.test(text)) return undefined;
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** For literals and already-validated input; throws on bad hex. */
export function hex(text: string): Uint8Array {
  const bytes = fromHex(text.replace(/\s+/g, ''));
  if (bytes === undefined) throw new TypeError(`not a hex string: ${JSON.stringify(text.slice(0, 16))}`);
  return bytes;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
