/** Types for `on-exit-leak-free` (pino's exit hook), which ships none. */
declare module 'on-exit-leak-free' {
  /** Calls `shutdown(object, event)` on process exit while `object` is still alive; holds it only weakly. */
  export function register<T extends object>(object: T, shutdown: (object: T, event: 'exit' | 'beforeExit') => void): void;
  export function unregister(object: object): void;
}
