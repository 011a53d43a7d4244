export { PushClient } from "./client.js";
export { TypedEmitter } from "./emitter.js";
export { backoffDelay } from "./backoff.js";
export { SUBPROTOCOL, isResumableClose, resumeToken } from "./protocol.js";
export type {
  CloseEvent, GapEvent, MessageEvent, NotResumedEvent, OpenEvent, PushClientEvents, PushClientOptions,
  PushClientState, PushWebSocket, PushWebSocketConstructor, ReconnectOptions, ReconnectingEvent, ResumeFailedReason,
  ResumeLostEvent, ResumeState, TokenSource,
} from "./types.js";
