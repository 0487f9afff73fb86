// Decoders in this project are total: they return a Result instead of throwing, so no input bytes can
// escape a server loop as an exception.

export type Result<T, E = DecodeError> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: E };

export interface DecodeError {
  /** Stable code such as `TLV_TRUNCATED`; never a free-form sentence. */
  readonly code: string;
  readonly message: string;
  /** Byte offset (or character position) where decoding failed, when known. */
  readonly offset?: number;
}

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });

export const err = <E = DecodeError>(error: E): Result<never, E> => ({ ok: false, error });

export const decodeError = (code: string, message: string, offset?: number): Result<never, DecodeError> =>
  err(offset === undefined ? { code, message } : { code, message, offset });
