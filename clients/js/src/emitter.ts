/** A tiny typed event emitter (no dependencies; listeners run in the order they were added). */
export class TypedEmitter<M> {
  readonly #listeners = new Map<keyof M, Set<(event: never) => void>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof M>(type: K, listener: (event: M[K]) => void): () => void {
    let set = this.#listeners.get(type);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(type, set);
    }
    set.add(listener as (event: never) => void);
    return () => this.off(type, listener);
  }

  /** Adds a listener that runs once. */
  once<K extends keyof M>(type: K, listener: (event: M[K]) => void): () => void {
    let fired = false;
    const off = this.on(type, (event) => {
      off();
      if (!fired) {
        fired = true;
        listener(event);
      }
    });
    return off;
  }

  off<K extends keyof M>(type: K, listener: (event: M[K]) => void): void {
    this.#listeners.get(type)?.delete(listener as (event: never) => void);
  }

  /**
   * Calls the listeners of `type`. A listener that throws does not stop the others nor the client: the exception is
   * rethrown from a microtask, where it surfaces as an uncaught error (as with EventTarget).
   */
  protected emit<K extends keyof M>(type: K, event: M[K]): void {
    const set = this.#listeners.get(type);
    if (set === undefined || set.size === 0) {
      return;
    }
    for (const listener of [...set]) {
      if (!set.has(listener)) {
        continue; // removed by an earlier listener of this emit (as with EventTarget)
      }
      try {
        (listener as (event: M[K]) => void)(event);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
