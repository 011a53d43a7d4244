// Compile-time checks only (tsc -p test): the WebSocket constructors users pass fit PushClientOptions.WebSocket.
import { WebSocket as NodeWs } from "ws";
import { PushClient } from "../dist/index.js";
import type { PushWebSocketConstructor } from "../dist/index.js";

const browsers: PushWebSocketConstructor = globalThis.WebSocket;
const ws: PushWebSocketConstructor = NodeWs;
export const clients = [new PushClient({ url: "ws://x", WebSocket: browsers }), new PushClient({ url: ["ws://a", "ws://b"], WebSocket: ws })];
