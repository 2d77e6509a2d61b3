import { raceAbort } from "./abort.js";
import { evictOldest } from "./bounded-map.js";
import { AuthenticationError, abortError } from "./errors.js";
import { plural } from "./text.js";
import type { AccessToken } from "./token-credential.js";

/** What one cached token is for. */
export interface TokenKey {
  /** The tenant as it goes into the URL. */
  tenantId: string;
  /** The tenant in lower case: tenant ids are not case-sensitive, so both spellings share one entry. */
  tenantKey: string;
  enableCae: boolean;
  scopes: readonly string[];
  scopesKey: string;
}

/**
 * A token as the credential hands it to the cache, with its times on the monotonic clock
 * (`performance.now()`), so wall-clock jumps never extend it.
 */
export interface AcquiredToken {
  token: AccessToken;
  /** Monotonic ms after which the token is no longer served (its expiry less a safety margin). */
  serveUntil: number;
  /** Monotonic ms after which a background refresh starts. */
  refreshAt: number;
}

/** A cached token with its refresh bookkeeping. */
export interface CacheEntry {
  readonly key: TokenKey;
  readonly token: AccessToken;
  /** The same settled promise for every hit, so a hit allocates nothing. */
  readonly promise: Promise<AccessToken>;
  readonly serveUntil: number;
  readonly refreshAt: number;
  /** The order in which the request that produced it started: a later one always wins. */
  readonly generation: number;
  /** No background refresh starts before this monotonic time (a failed one waits 30 s). */
  nextRefreshAttemptAt: number;
  /** Monotonic time of the last hit, for least-recently-used eviction. */
  lastUsed: number;
}

/** How a request is made: its abort signal, and whether it runs in the background. */
export interface AcquireContext {
  /** Aborts when nobody waits any more or the cache closes. */
  signal: AbortSignal;
  /** A background refresh: its sockets and timers must not keep the process alive. */
  background: boolean;
}

/** Gets a token. */
export type AcquireToken = (key: TokenKey, context: AcquireContext) => Promise<AcquiredToken>;

interface Flight {
  readonly promise: Promise<AccessToken>;
  readonly controller: AbortController;
  waiters: number;
  /** A background refresh: no caller owns it, so no caller's abort stops it. */
  readonly detached: boolean;
  /** Its key in the single-flight map; undefined for claims requests, which fly alone. */
  readonly flightKey: string | undefined;
}

interface CoolDown {
  readonly until: number;
  readonly cause: AuthenticationError;
}

/** A failed background refresh is not tried again sooner than this. */
export const FAILED_REFRESH_BACKOFF_MS = 30_000;
/** How many tokens a credential caches by default; when full, the least recently used tenth goes. */
export const DEFAULT_MAX_CACHE_ENTRIES = 10_000;
const SWEEP_INTERVAL_MS = 60_000;

const now = (): number => performance.now();

/**
 * The in-memory token cache: entries keyed by tenant, CAE mode and sorted scopes; one shared
 * request per key at a time (single flight); refresh in the background while the cached token
 * is still valid; a cool-down per key after a request failed for good; expired entries swept
 * and the number of entries bounded (least recently used evicted first).
 */
export class TokenCache {
  readonly #plain = new Map<string, Map<string, CacheEntry>>();
  readonly #cae = new Map<string, Map<string, CacheEntry>>();
  // Several scopes live apart, so no single-scope string can ever name their joined key.
  readonly #multiScope = new Map<string, CacheEntry>();
  readonly #flights = new Map<string, Flight>();
  readonly #alone = new Set<Flight>();
  readonly #coolDowns = new Map<string, CoolDown>();
  readonly #acquire: AcquireToken;
  readonly #onRefreshError: (key: TokenKey, error: unknown) => void;
  readonly #maxEntries: number;
  #size = 0;
  #generation = 0;
  #lastSweep = 0;
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(
    acquire: AcquireToken,
    onRefreshError: (key: TokenKey, error: unknown) => void,
    maxEntries: number = DEFAULT_MAX_CACHE_ENTRIES,
  ) {
    this.#acquire = acquire;
    this.#onRefreshError = onRefreshError;
    this.#maxEntries = maxEntries;
  }

  /** How many tokens are cached. */
  get size(): number {
    return this.#size;
  }

  /** The entry for one scope, valid or not. The hot path: no allocation. */
  get(tenantKey: string, enableCae: boolean, scope: string): CacheEntry | undefined {
    return (enableCae ? this.#cae : this.#plain).get(tenantKey)?.get(scope);
  }

  /** The entry for a key of any number of scopes. */
  find(key: TokenKey): CacheEntry | undefined {
    if (key.scopes.length === 1) return this.get(key.tenantKey, key.enableCae, key.scopesKey);
    return this.#multiScope.get(keyOf(key));
  }

  /**
   * `entry` when its token may still be served (never past its expiry less the safety
   * margin), after starting a background refresh if one is due.
   */
  valid(entry: CacheEntry | undefined): CacheEntry | undefined {
    if (entry === undefined) return undefined;
    const time = now();
    if (time >= entry.serveUntil) return undefined;
    entry.lastUsed = time;
    if (time >= entry.refreshAt) this.#refreshInBackground(entry, time);
    return entry;
  }

  /** Starts a background refresh of `entry` unless one runs, the last one failed recently, or the key cools down. */
  #refreshInBackground(entry: CacheEntry, time: number): void {
    if (time < entry.nextRefreshAttemptAt || this.#closed) return;
    const flightKey = keyOf(entry.key);
    if (this.#flights.has(flightKey)) return;
    const coolDown = this.#coolDowns.get(flightKey);
    if (coolDown !== undefined && time < coolDown.until) {
      entry.nextRefreshAttemptAt = coolDown.until;
      return;
    }
    entry.nextRefreshAttemptAt = time + FAILED_REFRESH_BACKOFF_MS;
    const flight = this.#start(flightKey, entry.key, true, this.#acquire);
    flight.promise.catch((error: unknown) => {
      const coolingUntil = this.#coolDowns.get(flightKey)?.until ?? 0;
      entry.nextRefreshAttemptAt = Math.max(now() + FAILED_REFRESH_BACKOFF_MS, coolingUntil);
      if (!this.#closed) this.#onRefreshError(entry.key, error);
    });
  }

  /**
   * Joins the request in flight for `key`, or starts one with `acquire` (default: the cache's
   * own). Rejects at once with a `throttled` error while the key cools down.
   */
  acquire(
    key: TokenKey,
    signal: AbortSignal | undefined,
    acquire: AcquireToken = this.#acquire,
  ): Promise<AccessToken> {
    const flightKey = keyOf(key);
    const throttled = this.#throttled(flightKey, key);
    if (throttled !== undefined) return Promise.reject(throttled);
    let flight = this.#flights.get(flightKey);
    if (flight === undefined || flight.controller.signal.aborted) {
      flight = this.#start(flightKey, key, false, acquire);
    }
    return this.#wait(flight, signal);
  }

  /** Acquires a token outside single flight (a claims challenge) and caches the result. */
  acquireAlone(
    key: TokenKey,
    signal: AbortSignal | undefined,
    acquire: AcquireToken,
  ): Promise<AccessToken> {
    const throttled = this.#throttled(keyOf(key), key);
    if (throttled !== undefined) return Promise.reject(throttled);
    const flight = this.#launch(key, undefined, acquire, false, () => this.#alone.delete(flight));
    this.#alone.add(flight);
    return this.#wait(flight, signal);
  }

  /** Drops every token, ends cool-downs and aborts every request in flight. */
  clear(reason: unknown): void {
    this.#closed = true;
    this.#plain.clear();
    this.#cae.clear();
    this.#multiScope.clear();
    this.#coolDowns.clear();
    this.#size = 0;
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    for (const flight of [...this.#flights.values(), ...this.#alone]) {
      flight.controller.abort(reason);
    }
    this.#flights.clear();
    this.#alone.clear();
  }

  /** Drops expired entries and cool-downs that ended. */
  sweep(): void {
    const time = now();
    this.#lastSweep = time;
    for (const entry of this.#entries()) if (time >= entry.serveUntil) this.#delete(entry);
    for (const [flightKey, coolDown] of this.#coolDowns) {
      if (time >= coolDown.until) this.#coolDowns.delete(flightKey);
    }
    if (this.#size === 0 && this.#coolDowns.size === 0 && this.#sweepTimer !== undefined) {
      clearInterval(this.#sweepTimer);
      this.#sweepTimer = undefined;
    }
  }

  #throttled(flightKey: string, key: TokenKey): AuthenticationError | undefined {
    const coolDown = this.#coolDowns.get(flightKey);
    if (coolDown === undefined) return undefined;
    const remaining = coolDown.until - now();
    if (remaining <= 0) {
      this.#coolDowns.delete(flightKey);
      return undefined;
    }
    const retryAfterInMs = Math.ceil(remaining);
    return new AuthenticationError(
      `Token requests for tenant ${key.tenantId} and scopes ${key.scopesKey} are paused for ${plural(Math.ceil(retryAfterInMs / 1000), "second")} after the last one failed, so nothing was sent: ${coolDown.cause.message}`,
      "throttled",
      {
        statusCode: coolDown.cause.statusCode,
        clientRequestId: coolDown.cause.clientRequestId,
        retryAfterInMs,
        cause: coolDown.cause,
      },
    );
  }

  #start(flightKey: string, key: TokenKey, detached: boolean, acquire: AcquireToken): Flight {
    const flight = this.#launch(key, flightKey, acquire, detached, () => {
      if (this.#flights.get(flightKey) === flight) this.#flights.delete(flightKey);
    });
    this.#flights.set(flightKey, flight);
    return flight;
  }

  /** Runs `acquire`, caches its token, and calls `settled` when it ends either way. */
  #launch(
    key: TokenKey,
    flightKey: string | undefined,
    acquire: AcquireToken,
    detached: boolean,
    settled: () => void,
  ): Flight {
    const controller = new AbortController();
    const generation = ++this.#generation;
    const promise = acquire(key, { signal: controller.signal, background: detached }).then(
      (acquired) => {
        settled();
        return this.#store(key, acquired, generation);
      },
      (error: unknown) => {
        settled();
        this.#coolDownAfter(key, error);
        throw error;
      },
    );
    // Waiters handle the outcome; a flight whose waiters all left must not warn as unhandled.
    promise.catch(() => {});
    return { promise, controller, waiters: 0, detached, flightKey };
  }

  /** A request that failed for good with a transient failure pauses its key (see `retryAfterInMs`). */
  #coolDownAfter(key: TokenKey, error: unknown): void {
    if (this.#closed || !AuthenticationError.isInstance(error)) return;
    if (error.code !== "token_request_failed" || error.retryAfterInMs === undefined) return;
    const flightKey = keyOf(key);
    this.#coolDowns.delete(flightKey);
    // Bounded like the tokens: the oldest pause goes first.
    evictOldest(this.#coolDowns, this.#maxEntries);
    this.#coolDowns.set(flightKey, { until: now() + error.retryAfterInMs, cause: error });
    this.#startSweeping();
  }

  /** An unref'd timer sweeps expired tokens and ended cool-downs while there are any. */
  #startSweeping(): void {
    if (this.#sweepTimer !== undefined) return;
    this.#sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.#sweepTimer.unref();
  }

  #store(key: TokenKey, acquired: AcquiredToken, generation: number): AccessToken {
    if (this.#closed) return acquired.token;
    const existing = this.find(key);
    // A token from a request that started earlier never replaces one from a later request.
    if (existing !== undefined && existing.generation > generation) return acquired.token;
    this.#coolDowns.delete(keyOf(key));
    const time = now();
    const entry: CacheEntry = {
      key,
      token: acquired.token,
      promise: Promise.resolve(acquired.token),
      serveUntil: acquired.serveUntil,
      refreshAt: acquired.refreshAt,
      generation,
      nextRefreshAttemptAt: 0,
      lastUsed: time,
    };
    if (existing === undefined) {
      if (time - this.#lastSweep >= 1000 || this.#size >= this.#maxEntries) this.sweep();
      if (this.#size >= this.#maxEntries) this.#evictLeastRecentlyUsed();
      this.#size++;
    }
    this.#set(entry);
    this.#startSweeping();
    return acquired.token;
  }

  #set(entry: CacheEntry): void {
    const { key } = entry;
    if (key.scopes.length > 1) {
      this.#multiScope.set(keyOf(key), entry);
      return;
    }
    const maps = key.enableCae ? this.#cae : this.#plain;
    let byScope = maps.get(key.tenantKey);
    if (byScope === undefined) {
      byScope = new Map();
      maps.set(key.tenantKey, byScope);
    }
    byScope.set(key.scopesKey, entry);
  }

  #delete(entry: CacheEntry): void {
    const { key } = entry;
    if (key.scopes.length > 1) {
      if (this.#multiScope.get(keyOf(key)) === entry) {
        this.#multiScope.delete(keyOf(key));
        this.#size--;
      }
      return;
    }
    const maps = key.enableCae ? this.#cae : this.#plain;
    const byScope = maps.get(key.tenantKey);
    if (byScope?.get(key.scopesKey) !== entry) return;
    byScope.delete(key.scopesKey);
    if (byScope.size === 0) maps.delete(key.tenantKey);
    this.#size--;
  }

  *#entries(): Generator<CacheEntry> {
    for (const maps of [this.#plain, this.#cae]) {
      for (const byScope of maps.values()) yield* byScope.values();
    }
    yield* this.#multiScope.values();
  }

  /**
   * Evicts the least recently used tenth of the entries (at least one), so a full cache pays
   * for one sort per many inserts instead of a scan per insert.
   */
  #evictLeastRecentlyUsed(): void {
    const entries = [...this.#entries()].sort((a, b) => a.lastUsed - b.lastUsed);
    const count = Math.max(1, Math.floor(this.#maxEntries / 10));
    for (const entry of entries.slice(0, count)) this.#delete(entry);
  }

  #wait(flight: Flight, signal: AbortSignal | undefined): Promise<AccessToken> {
    flight.waiters++;
    const waited =
      signal === undefined
        ? flight.promise
        : raceAbort(
            flight.promise,
            signal,
            () => abortError(),
            () => this.#leave(flight),
          );
    if (!flight.detached) return waited;
    // A caller waiting on a background refresh (whose sockets are unref'd) keeps the process alive.
    const keepAlive = setInterval(noop, 1 << 30);
    return waited.finally(() => clearInterval(keepAlive));
  }

  /** A caller stopped waiting: the last one of a caller-owned flight aborts it. */
  #leave(flight: Flight): void {
    flight.waiters--;
    if (flight.waiters > 0 || flight.detached) return;
    flight.controller.abort(abortError());
    // Callers that come next start a fresh request instead of joining an aborted one.
    if (flight.flightKey !== undefined && this.#flights.get(flight.flightKey) === flight) {
      this.#flights.delete(flight.flightKey);
    }
  }
}

function noop(): void {}

function keyOf(key: TokenKey): string {
  return `${key.tenantKey}\u0000${key.enableCae ? 1 : 0}\u0000${key.scopesKey}`;
}
