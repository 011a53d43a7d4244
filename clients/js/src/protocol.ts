// The push.v1 wire format (docs/protocol-push-v1.md): framing, control messages, the resume token, close codes.

export const SUBPROTOCOL = "push.v1";

/** First byte of a binary frame: an application message. */
export const KIND_APPLICATION = 0x00;
/** First byte of a binary frame: a control message (UTF-8 JSON follows). */
export const KIND_CONTROL = 0x01;

/** Acknowledge at the latest after this many messages, whatever the interval. */
export const ACK_EVERY_MESSAGES = 256;

export const DEFAULT_HEARTBEAT_MS = 25_000;
export const DEFAULT_ACK_INTERVAL_MS = 250;

/** Closes after which the connection's state is kept on the gateway: reconnect and resume. */
const RESUMABLE_CLOSE_CODES: ReadonlySet<number> = new Set([
  1001, // going away: the gateway drains or stops
  1005, // no status in the close frame
  1006, // abnormal: the socket was lost, or the handshake failed
  1011, // internal error
  1012, // service restart
  1013, // try again later
  1014, // bad gateway (a proxy)
  4000, // heartbeat timeout
  4001, // slow consumer: the send queue overflowed, the tail stays resumable
]);

/**
 * True when the client should reconnect after a close with this code. Every other code ends the connection for good:
 * 1000 (the backend closed it: CloseClient), 1002/1003/1007/1008/1009/1010 (protocol, payload, policy such as the
 * rate limit, size) and every other 4xxx code.
 */
export function isResumableClose(code: number): boolean {
  return RESUMABLE_CLOSE_CODES.has(code);
}

/** The subprotocol token that asks to resume: `push.resume.<client_id>.<resume_secret>.<last_seq>`. */
export function resumeToken(state: { readonly clientId: string; readonly resumeSecret: string; readonly lastSeq: number }): string {
  return `push.resume.${state.clientId}.${state.resumeSecret}.${state.lastSeq}`;
}

export interface Welcome {
  readonly clientId: string;
  readonly resumeSecret: string;
  readonly seq: number;
  readonly resumed: boolean;
  readonly resumeFailed?: string;
  readonly resumeWindowMs?: number;
  readonly ackIntervalMs?: number;
  readonly heartbeatMs?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A control message as a binary frame: 0x01 then UTF-8 JSON. */
export function encodeControl(message: { readonly type: string; readonly [key: string]: unknown }): Uint8Array<ArrayBuffer> {
  const json = encoder.encode(JSON.stringify(message));
  const frame = new Uint8Array(json.length + 1);
  frame[0] = KIND_CONTROL;
  frame.set(json, 1);
  return frame;
}

/** An application message as a binary frame: 0x00 then the bytes. */
export function encodeBinary(data: ArrayBuffer | ArrayBufferView): Uint8Array<ArrayBuffer> {
  const bytes = isArrayBuffer(data)
    ? new Uint8Array(data)
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const frame = new Uint8Array(bytes.length + 1);
  frame[0] = KIND_APPLICATION;
  frame.set(bytes, 1);
  return frame;
}

/** A frame from the gateway, decoded. */
export type Frame =
  | { readonly kind: "message"; readonly data: string | Uint8Array }
  | { readonly kind: "control"; readonly message: { readonly type: string; readonly [key: string]: unknown } }
  | { readonly kind: "invalid"; readonly reason: string };

/** Decodes a frame: `data` is a string (text frame), an ArrayBuffer or a view (binary frame). */
export function decodeFrame(data: unknown): Frame {
  if (typeof data === "string") {
    return { kind: "message", data };
  }
  let bytes: Uint8Array;
  if (isArrayBuffer(data)) {
    bytes = new Uint8Array(data);
  } else if (ArrayBuffer.isView(data)) {
    bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } else {
    return { kind: "invalid", reason: "binary frame of an unsupported type (set binaryType to 'arraybuffer')" };
  }
  if (bytes.length === 0) {
    return { kind: "invalid", reason: "empty binary frame" };
  }
  if (bytes[0] === KIND_APPLICATION) {
    return { kind: "message", data: bytes.subarray(1) };
  }
  if (bytes[0] !== KIND_CONTROL) {
    return { kind: "invalid", reason: `binary frame with first byte 0x${bytes[0]!.toString(16).padStart(2, "0")}` };
  }
  let message: unknown;
  try {
    message = JSON.parse(decoder.decode(bytes.subarray(1)));
  } catch {
    return { kind: "invalid", reason: "control message is not UTF-8 JSON" };
  }
  if (typeof message !== "object" || message === null || typeof (message as { type?: unknown }).type !== "string") {
    return { kind: "invalid", reason: "control message without a type" };
  }
  return { kind: "control", message: message as { readonly type: string } };
}

/** Reads a welcome; null when a required field is missing or of the wrong type. */
export function parseWelcome(m: { readonly [key: string]: unknown }): Welcome | null {
  const { client_id: clientId, resume_secret: resumeSecret, seq, resumed } = m;
  if (typeof clientId !== "string" || clientId === "" || typeof resumeSecret !== "string" || resumeSecret === ""
    || !isSequence(seq) || typeof resumed !== "boolean") {
    return null;
  }
  const welcome: { -readonly [K in keyof Welcome]: Welcome[K] } = { clientId, resumeSecret, seq, resumed };
  if (typeof m.resume_failed === "string") {
    welcome.resumeFailed = m.resume_failed;
  }
  const windowMs = positive(m.resume_window_ms);
  if (windowMs !== undefined) {
    welcome.resumeWindowMs = windowMs;
  }
  const ackMs = positive(m.ack_interval_ms);
  if (ackMs !== undefined) {
    welcome.ackIntervalMs = ackMs;
  }
  const heartbeatMs = positive(m.heartbeat_ms);
  if (heartbeatMs !== undefined) {
    welcome.heartbeatMs = heartbeatMs;
  }
  return welcome;
}

/** instanceof, or the tag for an ArrayBuffer of another realm (an iframe, a test environment). */
function isArrayBuffer(value: unknown): value is ArrayBuffer {
  return value instanceof ArrayBuffer || Object.prototype.toString.call(value) === "[object ArrayBuffer]";
}

function isSequence(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function positive(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : undefined;
}

/** Appends `name=value` to a URL's query (before any fragment). */
export function withQueryParameter(url: string, name: string, value: string): string {
  const hash = url.indexOf("#");
  const base = hash < 0 ? url : url.slice(0, hash);
  const fragment = hash < 0 ? "" : url.slice(hash);
  const separator = base.includes("?") ? (base.endsWith("?") || base.endsWith("&") ? "" : "&") : "?";
  return `${base}${separator}${encodeURIComponent(name)}=${encodeURIComponent(value)}${fragment}`;
}
