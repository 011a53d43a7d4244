import { backoffDelay } from "./backoff.js";
import { TypedEmitter } from "./emitter.js";
import { UrlSource, resolveOptions } from "./options.js";
import type { ResolvedOptions } from "./options.js";
import {
  DEFAULT_ACK_INTERVAL_MS, DEFAULT_HEARTBEAT_MS, SUBPROTOCOL, decodeFrame, encodeBinary, encodeControl,
  isResumableClose, parseWelcome, resumeToken,
} from "./protocol.js";
import { OPEN, errorEventText, errorMessage, tryClose, trySend } from "./sockets.js";
import { AckBatcher, Heartbeat } from "./timers.js";
import type { Welcome } from "./protocol.js";
import type {
  OpenEvent, PushClientEvents, PushClientOptions, PushClientState, PushWebSocket, ResumeState,
} from "./types.js";

/** Close codes the client sends when it drops a connection itself; the gateway keeps the connection resumable. */
const CLOSE_HEARTBEAT_TIMEOUT = 4000;
const CLOSE_PROTOCOL_ERROR = 4002;
const CLOSE_CONNECT_TIMEOUT = 4004;
const CLIENT_CLOSE_REASONS: { readonly [code: number]: string } = {
  [CLOSE_HEARTBEAT_TIMEOUT]: "heartbeat timeout",
  [CLOSE_PROTOCOL_ERROR]: "protocol error",
  [CLOSE_CONNECT_TIMEOUT]: "no welcome in time",
};

const PING_FRAME = encodeControl({ type: "ping" });
const CLOSE_FRAME = encodeControl({ type: "close" });

interface Waiter {
  resolve(open: OpenEvent): void;
  reject(error: Error): void;
}

/**
 * A client of a Push.Grpc gateway over the resumable `push.v1` WebSocket subprotocol (docs/protocol-push-v1.md):
 * reconnects with full-jitter exponential backoff through one URL or a list, resumes the connection (same client id,
 * uid, groups, session; what was pushed meanwhile arrives exactly once and in order), acknowledges, pings, and says
 * so with `notResumed` whenever the application must re-sync.
 */
export class PushClient extends TypedEmitter<PushClientEvents> {
  readonly #o: ResolvedOptions;
  readonly #urls: UrlSource;

  #state: PushClientState = "idle";
  #generation = 0;
  #socket: PushWebSocket | null = null;
  #socketUrl = "";
  #welcomed = false;
  #offered: ResumeState | null = null;
  #clientId: string | null = null;
  #resumeSecret: string | null = null;
  #lastSeq = 0;
  #resumable = false;
  #attempt = 0;
  #lastError: string | undefined;
  #lastOpen: OpenEvent | null = null;
  #waiters: Waiter[] = [];
  readonly #heartbeat = new Heartbeat();
  readonly #acks = new AckBatcher((seq) => this.#sendFrame(encodeControl({ type: "ack", seq })));
  #connectTimer: TimerHandle | undefined;
  #retryTimer: TimerHandle | undefined;

  constructor(options: PushClientOptions) {
    super();
    this.#o = resolveOptions(options);
    this.#urls = new UrlSource(options);
    if (options.resume !== undefined) {
      this.#clientId = options.resume.clientId;
      this.#resumeSecret = options.resume.resumeSecret;
      this.#lastSeq = options.resume.lastSeq;
    }
  }

  /** The connection's id (from the last welcome); null before the first. */
  get clientId(): string | null {
    return this.#clientId;
  }

  /** The sequence of the last application message received. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  get state(): PushClientState {
    return this.#state;
  }

  /** False after a `resumeLost` (until the next welcome): a drop now means a new identity. */
  get resumable(): boolean {
    return this.#resumable;
  }

  /** What resuming this connection takes (null when there is nothing to resume); see the `resume` option. */
  get resumeState(): ResumeState | null {
    return this.#clientId !== null && this.#resumeSecret !== null
      ? { clientId: this.#clientId, resumeSecret: this.#resumeSecret, lastSeq: this.#lastSeq }
      : null;
  }

  /** Bytes queued in the current socket, not sent yet. */
  get bufferedAmount(): number {
    return this.#socket?.bufferedAmount ?? 0;
  }

  /**
   * Starts connecting (and reconnecting from then on). The promise resolves at the next `open`, and rejects when the
   * client ends for good before (close(), a close code that does not reconnect, or `reconnect: false`).
   */
  connect(): Promise<OpenEvent> {
    if (this.#state === "open" && this.#lastOpen !== null) {
      return Promise.resolve(this.#lastOpen);
    }
    const opened = new Promise<OpenEvent>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    opened.catch(() => {}); // an unawaited connect() followed by close() is no unhandled rejection
    if (this.#state === "idle" || this.#state === "closed") {
      this.#attempt = 0;
      void this.#open();
    }
    return opened;
  }

  /**
   * Sends an application message: a string as a text frame, bytes as a binary frame (the protocol's 0x00 prefix is
   * added). Returns false, sending nothing, when no connection is open: the client does not queue messages while
   * disconnected (only server-to-client messages are resumed).
   */
  send(data: string | ArrayBuffer | ArrayBufferView): boolean {
    if (this.#state !== "open") {
      return false;
    }
    return this.#sendFrame(typeof data === "string" ? data : encodeBinary(data));
  }

  /**
   * Ends the connection for good: sends `{"type":"close"}` and closes with 1000, so the gateway releases it at once
   * (the worker gets OnClose). No reconnect follows. Resolves once the socket has closed.
   */
  close(): Promise<void> {
    const socket = this.#socket;
    const wasOpen = this.#welcomed;
    const active = this.#state !== "idle" && this.#state !== "closed";
    this.#generation += 1;
    this.#detach();
    this.#resumeSecret = null;
    this.#state = "closed";
    let closed = Promise.resolve();
    if (socket !== null) {
      closed = new Promise<void>((resolve) => {
        const fallback = setTimeout(resolve, this.#o.connectTimeoutMs);
        socket.onclose = () => {
          clearTimeout(fallback);
          resolve();
        };
      });
      if (wasOpen) {
        trySend(socket, CLOSE_FRAME);
      }
      tryClose(socket, 1000, "client closed");
    }
    this.#rejectWaiters(new Error("the client was closed"));
    if (active) {
      this.emit("close", { code: 1000, reason: "closed by the application", willReconnect: false });
    }
    return closed;
  }

  async #open(): Promise<void> {
    const generation = ++this.#generation;
    this.#state = "connecting";
    let url: string;
    try {
      url = await this.#urls.next();
    } catch (err) {
      if (generation === this.#generation) {
        this.#socketUrl = "";
        this.#ended(1006, `could not get the URL or the token: ${errorMessage(err)}`, true);
      }
      return;
    }
    if (generation !== this.#generation) {
      return; // closed meanwhile
    }
    const offered = this.resumeState;
    const protocols = [SUBPROTOCOL, ...(offered !== null ? [resumeToken(offered)] : []), ...this.#o.protocols];
    let socket: PushWebSocket;
    this.#socketUrl = url;
    this.#lastError = undefined;
    try {
      socket = new this.#o.WebSocket(url, protocols);
    } catch (err) {
      // A bad URL or protocol token (SyntaxError): a configuration error no retry mends.
      this.#ended(1006, `could not create the WebSocket for ${url}: ${errorMessage(err)}`, false);
      return;
    }
    this.#socket = socket;
    this.#offered = offered;
    socket.binaryType = "arraybuffer";
    this.#connectTimer = setTimeout(
      () => this.#drop(CLOSE_CONNECT_TIMEOUT, `no welcome within ${this.#o.connectTimeoutMs} ms`),
      this.#o.connectTimeoutMs);
    socket.onopen = () => {
      if (this.#socket === socket && socket.protocol !== SUBPROTOCOL) {
        this.#protocolError(`the server did not accept the ${SUBPROTOCOL} subprotocol (it chose '${socket.protocol}')`);
      }
    };
    socket.onmessage = (event) => {
      if (this.#socket === socket) {
        this.#onFrame(event.data);
      }
    };
    socket.onerror = (event) => {
      if (this.#socket === socket) {
        this.#lastError = errorEventText(event);
      }
    };
    socket.onclose = (event) => {
      if (this.#socket === socket) {
        this.#onSocketClose(event.code, event.reason);
      }
    };
  }

  #onFrame(data: unknown): void {
    this.#heartbeat.touch();
    const frame = decodeFrame(data);
    if (frame.kind === "invalid") {
      this.#protocolError(frame.reason);
    } else if (frame.kind === "control") {
      this.#onControl(frame.message);
    } else if (!this.#welcomed) {
      this.#protocolError("an application message came before the welcome");
    } else {
      this.#lastSeq += 1;
      const seq = this.#lastSeq;
      this.emit("message", { data: frame.data, seq });
      if (this.#state === "open") {
        this.#acks.received(seq); // after the listeners: delivered
      }
    }
  }

  #onControl(message: { readonly type: string; readonly [key: string]: unknown }): void {
    switch (message.type) {
      case "welcome": {
        const welcome = parseWelcome(message);
        if (this.#welcomed || welcome === null) {
          this.#protocolError(this.#welcomed ? "a second welcome" : "a malformed welcome");
        } else {
          this.#onWelcome(welcome);
        }
        return;
      }
      case "resume_lost":
        this.#resumable = false;
        this.emit("resumeLost", { reason: typeof message.reason === "string" ? message.reason : "unknown" });
        return;
      default:
        return; // pong, and control types this version does not know (forward compatibility)
    }
  }

  #onWelcome(w: Welcome): void {
    const socket = this.#socket;
    const offered = this.#offered;
    clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    let failed: string | undefined;
    if (offered !== null) {
      if (!w.resumed) {
        failed = w.resumeFailed ?? "unknown";
      } else if (w.clientId !== offered.clientId || w.seq !== offered.lastSeq) {
        failed = "gap"; // the gateway says resumed, but not where this client is: never a silent gap
      }
    }
    const resumed = offered !== null && failed === undefined;
    this.#welcomed = true;
    this.#state = "open";
    this.#attempt = 0;
    this.#resumable = true;
    this.#clientId = w.clientId;
    this.#resumeSecret = w.resumeSecret;
    if (!resumed) {
      this.#lastSeq = w.seq;
    }
    const heartbeatMs = this.#o.heartbeatMs ?? w.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    const ackIntervalMs = this.#o.ackIntervalMs ?? w.ackIntervalMs ?? DEFAULT_ACK_INTERVAL_MS;
    this.#acks.reset(this.#lastSeq, ackIntervalMs);
    this.#heartbeat.start(heartbeatMs, () => this.#sendFrame(PING_FRAME),
      (idle) => this.#drop(CLOSE_HEARTBEAT_TIMEOUT, `heartbeat timeout: nothing received for ${idle} ms`));
    const open: OpenEvent = {
      clientId: w.clientId, resumed, seq: w.seq, url: this.#socketUrl,
      heartbeatMs, ackIntervalMs,
      ...(failed !== undefined ? { resumeFailed: failed } : {}),
      ...(w.resumeWindowMs !== undefined ? { resumeWindowMs: w.resumeWindowMs } : {}),
    };
    this.#lastOpen = open;
    if (offered !== null && failed === "gap") {
      this.emit("gap", {
        expectedSeq: offered.lastSeq, welcomeSeq: w.seq, expectedClientId: offered.clientId, welcomeClientId: w.clientId,
      });
    }
    if (offered !== null && failed !== undefined && this.#socket === socket) {
      this.emit("notResumed", {
        reason: failed, previousClientId: offered.clientId, previousLastSeq: offered.lastSeq, clientId: w.clientId,
      });
    }
    if (this.#socket !== socket) {
      return; // a listener closed the client
    }
    this.emit("open", open);
    if (this.#socket === socket) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const waiter of waiters) {
        waiter.resolve(open);
      }
    }
  }

  #sendFrame(frame: string | Uint8Array<ArrayBuffer>): boolean {
    const socket = this.#socket;
    if (socket === null || socket.readyState !== OPEN) {
      return false;
    }
    if (!trySend(socket, frame)) {
      this.#lastError = "send failed";
      return false;
    }
    return true;
  }

  #protocolError(reason: string): void {
    if (this.#welcomed) {
      this.emit("error", new Error(`push.v1 protocol error from ${this.#socketUrl}: ${reason}`));
    }
    this.#drop(CLOSE_PROTOCOL_ERROR, `protocol error: ${reason}`);
  }

  /** The client drops the socket itself (heartbeat, timeout, protocol error): resumable, so it reconnects. */
  #drop(code: number, reason: string): void {
    const socket = this.#socket;
    if (socket === null) {
      return;
    }
    this.#socket = null;
    tryClose(socket, code, CLIENT_CLOSE_REASONS[code] ?? "client drop");
    this.#ended(code, reason, true);
  }

  #onSocketClose(code: number, reason: string): void {
    const resumable = isResumableClose(code);
    if (!resumable) {
      this.#resumeSecret = null; // the gateway released the connection: the next connect() starts afresh
    }
    this.#ended(code, reason || this.#lastError || "", resumable);
  }

  /** After the socket is gone: tell the application, then reconnect or end. */
  #ended(code: number, reason: string, resumable: boolean): void {
    const wasOpen = this.#welcomed;
    const url = this.#socketUrl;
    this.#detach();
    const willReconnect = resumable && this.#o.reconnect !== null;
    const what = `${code}${reason ? ": " + reason : ""}`;
    if (!willReconnect) {
      // Ended before the listeners run, so one that calls connect() starts afresh.
      this.#state = "closed";
      this.#rejectWaiters(new Error(`the connection ended for good (${what})`));
      this.emit("close", { code, reason, willReconnect });
      return;
    }
    this.#state = "waiting";
    if (wasOpen) {
      this.emit("close", { code, reason, willReconnect });
    } else {
      this.emit("error", new Error(`connecting to ${url || "the gateway"} failed (${what})`));
    }
    if (this.#state === "waiting") {
      this.#scheduleRetry();
    } // else a listener called close() (or close() and connect())
  }

  #scheduleRetry(): void {
    const { minDelayMs, maxDelayMs } = this.#o.reconnect!;
    const delayMs = backoffDelay(this.#attempt, minDelayMs, maxDelayMs);
    this.#attempt += 1;
    this.#state = "waiting";
    const generation = ++this.#generation;
    this.emit("reconnecting", { attempt: this.#attempt, delayMs });
    if (generation === this.#generation) {
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        void this.#open();
      }, delayMs);
    }
  }

  /** Forgets the socket (its late events are ignored) and stops every timer. */
  #detach(): void {
    this.#socket = null;
    this.#welcomed = false;
    this.#offered = null;
    this.#heartbeat.stop();
    this.#acks.stop();
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#retryTimer);
    this.#connectTimer = this.#retryTimer = undefined;
  }

  #rejectWaiters(error: Error): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      waiter.reject(error);
    }
  }
}
