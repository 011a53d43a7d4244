/** A handler property such as `onmessage`, checked bivariantly so both the DOM's and `ws`'s WebSocket fit. */
type Handler<E> = { bivarianceHack(event: E): void }["bivarianceHack"];

/**
 * The part of a WebSocket the client uses. The browsers' `WebSocket`, Node's global `WebSocket` (Node >= 22) and the
 * `ws` package's `WebSocket` all fit.
 */
export interface PushWebSocket {
  binaryType: string;
  readonly readyState: number;
  readonly protocol: string;
  readonly bufferedAmount: number;
  send(data: string | ArrayBuffer | Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ readonly data: unknown }> | null;
  onclose: Handler<{ readonly code: number; readonly reason: string }> | null;
  onerror: Handler<unknown> | null;
}

/** A WebSocket constructor: `globalThis.WebSocket`, or `WebSocket` from the `ws` package. */
export type PushWebSocketConstructor = new (url: string, protocols?: string | string[]) => PushWebSocket;

/** What a reconnect needs to resume a connection; keep it (e.g. in sessionStorage) to resume after a page reload. */
export interface ResumeState {
  /** 40 lower-case hex characters. */
  readonly clientId: string;
  /** 32 lower-case hex characters. */
  readonly resumeSecret: string;
  /** The sequence of the last application message received (0 when none). */
  readonly lastSeq: number;
}

export interface ReconnectOptions {
  /** Base of the exponential backoff (default 250 ms). */
  readonly minDelayMs?: number;
  /** Cap of the exponential backoff (default 30,000 ms). */
  readonly maxDelayMs?: number;
}

export type TokenSource = string | (() => string | null | undefined | Promise<string | null | undefined>);

export interface PushClientOptions {
  /**
   * The gateway's WebSocket URL, or several: every reconnect tries the next one in the list (round robin), so after
   * a drop the client goes to another gateway first. A function is called before every attempt instead.
   */
  readonly url: string | readonly string[] | (() => string | Promise<string>);
  /** The WebSocket implementation (default `globalThis.WebSocket`; in Node 20 pass `WebSocket` from `ws`). */
  readonly WebSocket?: PushWebSocketConstructor;
  /** A JWT for the handshake, or a function called before every attempt; sent as `?token=...`. */
  readonly token?: TokenSource;
  /** The query parameter of the token (the gateway's `Gateway:Token:QueryParameter`, default `token`). */
  readonly tokenParam?: string;
  /** Backoff of reconnects (full-jitter exponential), or `false` to never reconnect. */
  readonly reconnect?: ReconnectOptions | false;
  /** Ping interval; overrides the welcome's `heartbeat_ms`. The client reconnects when nothing arrives for twice this. */
  readonly heartbeatMs?: number;
  /** Longest wait before acknowledging received messages; overrides the welcome's `ack_interval_ms`. */
  readonly ackIntervalMs?: number;
  /** How long an attempt may take from the socket's creation to the welcome (default 10,000 ms). */
  readonly connectTimeoutMs?: number;
  /** More subprotocols to offer after `push.v1` (and the resume token). */
  readonly protocols?: readonly string[];
  /** Resume this connection on the first connect (e.g. one saved from {@link PushClient.resumeState} before a reload). */
  readonly resume?: ResumeState;
}

/** Why a resume failed: the welcome's `resume_failed`, or `gap` when the SDK found the sequence did not match. */
export type ResumeFailedReason =
  | "expired"
  | "secret"
  | "overflow"
  | "ahead"
  | "owner_unreachable"
  | "closed"
  | "invalid"
  | "gap"
  | (string & {});

export interface OpenEvent {
  readonly clientId: string;
  /** True when this is the same connection as before the drop: what was pushed meanwhile follows, exactly once. */
  readonly resumed: boolean;
  /** Set when a resume was asked for and did not happen (then a `notResumed` event came just before). */
  readonly resumeFailed?: ResumeFailedReason;
  /** The sequence of the last message before the ones that follow (the welcome's `seq`). */
  readonly seq: number;
  readonly url: string;
  readonly resumeWindowMs?: number;
  readonly heartbeatMs: number;
  readonly ackIntervalMs: number;
}

export interface MessageEvent {
  /** Text messages are strings; binary ones are the bytes the backend pushed (without the protocol's prefix byte). */
  readonly data: string | Uint8Array;
  /** 1, 2, 3, ... on a connection; continues across resumes; starts again after a `notResumed`. */
  readonly seq: number;
}

export interface NotResumedEvent {
  readonly reason: ResumeFailedReason;
  /** The connection that could not be resumed. */
  readonly previousClientId: string;
  /** The last sequence received on it. */
  readonly previousLastSeq: number;
  /** The new connection's id. */
  readonly clientId: string;
}

export interface GapEvent {
  /** The client's last sequence (what the welcome should have said). */
  readonly expectedSeq: number;
  /** The welcome's `seq`. */
  readonly welcomeSeq: number;
  readonly expectedClientId: string;
  readonly welcomeClientId: string;
}

export interface ResumeLostEvent {
  readonly reason: string;
}

export interface CloseEvent {
  readonly code: number;
  readonly reason: string;
  /** True when the client reconnects (and tries to resume) by itself. */
  readonly willReconnect: boolean;
}

export interface ReconnectingEvent {
  /** 1 for the first retry after a drop or a failed attempt, then 2, 3, ... until a connection opens. */
  readonly attempt: number;
  readonly delayMs: number;
}

export interface PushClientEvents {
  open: OpenEvent;
  message: MessageEvent;
  notResumed: NotResumedEvent;
  gap: GapEvent;
  resumeLost: ResumeLostEvent;
  close: CloseEvent;
  reconnecting: ReconnectingEvent;
  error: Error;
}

export type PushClientState = "idle" | "connecting" | "open" | "waiting" | "closed";
