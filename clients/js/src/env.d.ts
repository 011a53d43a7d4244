// The few globals the SDK uses, declared here instead of pulling in the DOM or Node typings: every one of them exists
// in browsers and in Node >= 20, so the compiled code runs in both and dist/*.d.ts depends on neither.
// (Not emitted: dist/ has no trace of this file.)

type TimerHandle = { readonly __timer: unique symbol };

declare function setTimeout(callback: () => void, ms?: number): TimerHandle;
declare function clearTimeout(handle: TimerHandle | undefined): void;
declare function setInterval(callback: () => void, ms?: number): TimerHandle;
declare function clearInterval(handle: TimerHandle | undefined): void;
declare function queueMicrotask(callback: () => void): void;

declare class TextEncoder {
  encode(input?: string): Uint8Array;
}

declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}
