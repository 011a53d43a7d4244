/**
 * Full-jitter exponential backoff: a delay drawn uniformly from [0, min(maxDelayMs, minDelayMs * 2^attempt)).
 * `attempt` is 0 for the first retry.
 */
export function backoffDelay(attempt: number, minDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 30);
  const cap = Math.min(maxDelayMs, minDelayMs * 2 ** exponent);
  return Math.floor(random() * cap);
}
