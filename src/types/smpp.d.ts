// Types for the parts of the `smpp` npm package (node-smpp 0.5, no published types) that simtrust
// uses: client and server sessions and PDUs. PDU fields are the SMPP parameter names.

declare module 'smpp' {
  import type { EventEmitter } from 'node:events';
  import type { Server as NetServer, Socket } from 'node:net';

  export interface Pdu {
    readonly command: string;
    readonly command_id: number;
    command_status: number;
    sequence_number: number;
    readonly [field: string]: unknown;
    response(options?: Record<string, unknown>): Pdu;
    isResponse(): boolean;
  }

  type ResponseCallback = (pdu: Pdu) => void;
  type Operation = (options?: Record<string, unknown>, onResponse?: ResponseCallback) => boolean;

  export interface Session extends EventEmitter {
    readonly socket: Socket;
    send(pdu: Pdu, onResponse?: ResponseCallback, onSent?: ResponseCallback): boolean;
    pause(): void;
    resume(): void;
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
    bind_transceiver: Operation;
    submit_sm: Operation;
    deliver_sm: Operation;
    enquire_link: Operation;
    unbind: Operation;
  }

  export interface Server extends NetServer {
    readonly sessions: Session[];
  }

  export interface ConnectOptions {
    readonly url?: string;
    readonly host?: string;
    readonly port?: number;
    /** Sends enquire_link every this many milliseconds. */
    readonly auto_enquire_link_period?: number;
    readonly connectTimeout?: number;
  }

  interface Smpp {
    connect(options: ConnectOptions, onConnect?: () => void): Session;
    createServer(options: Record<string, unknown>, onSession?: (session: Session) => void): Server;
    PDU: new (command: string, options?: Record<string, unknown>) => Pdu;
  }

  const smpp: Smpp;
  export default smpp;
}
