import type { PushWebSocket } from "./types.js";

export const OPEN = 1;

export function positiveOr<T extends number | undefined>(value: number | undefined, fallback: T): number | T {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : fallback;
}

export function trySend(socket: PushWebSocket, frame: string | Uint8Array<ArrayBuffer>): boolean {
  try {
    socket.send(frame);
    return true;
  } catch {
    return false; // the socket is closing: its close event follows
  }
}

export function tryClose(socket: PushWebSocket, code: number, reason: string): void {
  try {
    socket.close(code, reason);
  } catch {
    // already closing, or an implementation that refuses the code: the socket is forgotten either way
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The text of a WebSocket error event: `ws` gives a message, browsers nothing. */
export function errorEventText(event: unknown): string {
  const e = event as { message?: unknown; error?: unknown } | null;
  if (e !== null && typeof e === "object") {
    if (typeof e.message === "string" && e.message !== "") {
      return e.message;
    }
    if (e.error instanceof Error) {
      return e.error.message;
    }
  }
  return "WebSocket error";
}
