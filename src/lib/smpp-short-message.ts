// The user data of an SMPP short_message as the `smpp` package decodes it (SMPP v3.4 §5.2.12 with
// esm_class UDHI, §5.2.23): the package splits the user data header into its information elements,
// or leaves the octets whole. Binary SMS (OTA packets, TS 31.115) need the octets exactly as on the
// air, so this puts them back together: UDHL ‖ elements ‖ body. Undefined for anything else.

export function smppUserData(shortMessage: unknown): Uint8Array | undefined {
  if (Buffer.isBuffer(shortMessage))
    return shortMessage.length > 0 ? new Uint8Array(shortMessage) : undefined;
  if (typeof shortMessage !== 'object' || shortMessage === null) return undefined;
  const { udh, message } = shortMessage as { udh?: unknown; message?: unknown };
  if (!Array.isArray(udh) || !udh.every((e) => Buffer.isBuffer(e)) || !Buffer.isBuffer(message))
    return undefined;
  const elements = Buffer.concat(udh as Buffer[]);
  if (elements.length > 0xff) return undefined;
  return new Uint8Array(Buffer.concat([Buffer.of(elements.length), elements, message]));
}
