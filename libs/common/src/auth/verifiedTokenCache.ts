/**
 * Remembers tokens whose signature and claims were already checked, until they expire.
 * Callers send the same token many times, and a signature check costs far more than a
 * lookup; a cached token still stops working at its `exp` (plus the clock tolerance).
 */
export class VerifiedTokenCache<T> {
  private readonly entries = new Map<string, { value: T; expiresAtMs: number }>();

  constructor(
    private readonly clockToleranceS: number,
    private readonly maxEntries = 10_000,
  ) {}

  get(token: string): T | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (Date.now() < entry.expiresAtMs) return entry.value;
    this.entries.delete(token);
    return undefined;
  }

  /** `exp` in seconds since the epoch, as in the token. */
  set(token: string, value: T, exp: number): void {
    // Crude but bounded: a full cache starts over rather than tracking recency.
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(token, { value, expiresAtMs: (exp + this.clockToleranceS) * 1000 });
  }
}
