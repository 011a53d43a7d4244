import { withQueryParameter } from "./protocol.js";
import { positiveOr } from "./sockets.js";
import type { PushClientOptions, PushWebSocketConstructor, TokenSource } from "./types.js";

const DEFAULT_MIN_DELAY_MS = 250;
const DEFAULT_MAX_DELAY_MS = 30_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** PushClientOptions checked and with their defaults. */
export interface ResolvedOptions {
  readonly WebSocket: PushWebSocketConstructor;
  readonly reconnect: { readonly minDelayMs: number; readonly maxDelayMs: number } | null;
  readonly heartbeatMs: number | undefined;
  readonly ackIntervalMs: number | undefined;
  readonly connectTimeoutMs: number;
  readonly protocols: readonly string[];
}

export function resolveOptions(options: PushClientOptions): ResolvedOptions {
  const ctor = options.WebSocket ?? (globalThis as { WebSocket?: PushWebSocketConstructor }).WebSocket;
  if (typeof ctor !== "function") {
    throw new TypeError("no WebSocket implementation: pass { WebSocket } (in Node 20: import { WebSocket } from 'ws')");
  }
  if (typeof options.url !== "function" && (options.url === "" || options.url.length === 0)) {
    throw new TypeError("url: give a WebSocket URL or a non-empty list of them");
  }
  return {
    WebSocket: ctor,
    reconnect: options.reconnect === false ? null : {
      minDelayMs: positiveOr(options.reconnect?.minDelayMs, DEFAULT_MIN_DELAY_MS),
      maxDelayMs: positiveOr(options.reconnect?.maxDelayMs, DEFAULT_MAX_DELAY_MS),
    },
    heartbeatMs: positiveOr(options.heartbeatMs, undefined),
    ackIntervalMs: positiveOr(options.ackIntervalMs, undefined),
    connectTimeoutMs: positiveOr(options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS),
    protocols: options.protocols ?? [],
  };
}

/** The URL of each attempt: the next one of the list (round robin) or the function's, with the token in the query. */
export class UrlSource {
  readonly #url: PushClientOptions["url"];
  readonly #token: TokenSource | undefined;
  readonly #tokenParam: string;
  #index = -1;

  constructor(options: PushClientOptions) {
    this.#url = options.url;
    this.#token = options.token;
    this.#tokenParam = options.tokenParam ?? "token";
  }

  async next(): Promise<string> {
    let base: string;
    if (typeof this.#url === "function") {
      base = await this.#url();
    } else {
      const list = typeof this.#url === "string" ? [this.#url] : this.#url;
      this.#index = (this.#index + 1) % list.length;
      base = list[this.#index]!;
    }
    const token = typeof this.#token === "function" ? await this.#token() : this.#token;
    return token ? withQueryParameter(base, this.#tokenParam, token) : base;
  }
}
