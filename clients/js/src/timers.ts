import { ACK_EVERY_MESSAGES } from "./protocol.js";

/**
 * Pings every `intervalMs` and calls `onTimeout` when nothing was received for twice that (one timer re-armed for
 * the remaining time, not one per message).
 */
export class Heartbeat {
  #intervalMs = 0;
  #lastReceived = 0;
  #pingTimer: TimerHandle | undefined;
  #watchdogTimer: TimerHandle | undefined;

  /** Starts (or restarts) the pings and the watchdog; counts as activity. */
  start(intervalMs: number, ping: () => void, onTimeout: (idleMs: number) => void): void {
    this.stop();
    this.#intervalMs = intervalMs;
    this.#lastReceived = Date.now();
    this.#pingTimer = setInterval(ping, intervalMs);
    this.#arm(2 * intervalMs, onTimeout);
  }

  /** Something arrived. */
  touch(): void {
    this.#lastReceived = Date.now();
  }

  stop(): void {
    clearInterval(this.#pingTimer);
    clearTimeout(this.#watchdogTimer);
    this.#pingTimer = this.#watchdogTimer = undefined;
  }

  #arm(ms: number, onTimeout: (idleMs: number) => void): void {
    this.#watchdogTimer = setTimeout(() => {
      const idle = Date.now() - this.#lastReceived;
      const limit = 2 * this.#intervalMs;
      if (idle >= limit) {
        this.stop();
        onTimeout(idle);
      } else {
        this.#arm(limit - idle, onTimeout);
      }
    }, ms);
  }
}

/**
 * Cumulative acknowledgements: at most one per `intervalMs` while messages arrive, and at once when 256 messages are
 * unacknowledged. `send(seq)` returns false when the ack could not be sent (it is tried again with the next one).
 */
export class AckBatcher {
  #acked = 0;
  #received = 0;
  #intervalMs = 0;
  #timer: TimerHandle | undefined;
  readonly #send: (seq: number) => boolean;

  constructor(send: (seq: number) => boolean) {
    this.#send = send;
  }

  /** A connection (re)starts at `seq`, which the gateway already counts as acknowledged. */
  reset(seq: number, intervalMs: number): void {
    this.stop();
    this.#acked = this.#received = seq;
    this.#intervalMs = intervalMs;
  }

  /** Message `seq` was delivered to the application. */
  received(seq: number): void {
    this.#received = seq;
    if (seq - this.#acked >= ACK_EVERY_MESSAGES) {
      this.#flush();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#flush();
      }, this.#intervalMs);
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #flush(): void {
    if (this.#received > this.#acked && this.#send(this.#received)) {
      this.#acked = this.#received;
    }
  }
}
