import type { AccessToken } from "@azure/core-auth";
import { abortError } from "./errors.js";

/** What one cached token is for. */
export interface TokenKey {
  tenantId: string;
  enableCae: boolean;
  scopes: readonly string[];
  scopesKey: string;
}

/** A cached token with its refresh bookkeeping. */
export interface CacheEntry {
  readonly key: TokenKey;
  readonly token: AccessToken;
  /** The same settled promise for every hit, so a hit allocates nothing. */
  readonly promise: Promise<AccessToken>;
  readonly expiresOnTimestamp: number;
  readonly refreshAfterTimestamp: number;
  /** No background refresh starts before this time (a failed one waits 30 s). */
  nextRefreshAttemptAt: number;
}

/** Gets a token; the signal aborts when nobody waits any more or the cache closes. */
export type AcquireToken = (key: TokenKey, signal: AbortSignal) => Promise<AccessToken>;

interface Flight {
  readonly promise: Promise<AccessToken>;
  readonly controller: AbortController;
  waiters: number;
  /** A background refresh: no caller owns it, so no caller's abort stops it. */
  readonly detached: boolean;
}

const FAILED_REFRESH_BACKOFF_MS = 30_000;

/**
 * The in-memory token cache: entries keyed by tenant, CAE mode and sorted scopes; one shared
 * request per key at a time (single flight); refresh in the background while the cached token
 * is still valid.
 */
export class TokenCache {
  readonly #plain = new Map<string, Map<string, CacheEntry>>();
  readonly #cae = new Map<string, Map<string, CacheEntry>>();
  // Several scopes live apart, so no single-scope string can ever name their joined key.
  readonly #multiScope = new Map<string, CacheEntry>();
  readonly #flights = new Map<string, Flight>();
  readonly #alone = new Set<Flight>();
  readonly #acquire: AcquireToken;
  readonly #onRefreshError: (key: TokenKey, error: unknown) => void;

  constructor(acquire: AcquireToken, onRefreshError: (key: TokenKey, error: unknown) => void) {
    this.#acquire = acquire;
    this.#onRefreshError = onRefreshError;
  }

  /** The entry for one scope, valid or not. The hot path: no allocation. */
  get(tenantId: string, enableCae: boolean, scope: string): CacheEntry | undefined {
    return (enableCae ? this.#cae : this.#plain).get(tenantId)?.get(scope);
  }

  /** The entry for a key of any number of scopes. */
  find(key: TokenKey): CacheEntry | undefined {
    if (key.scopes.length === 1) return this.get(key.tenantId, key.enableCae, key.scopesKey);
    return this.#multiScope.get(keyOf(key));
  }

  /**
   * `entry` when its token is still valid (an expired token is never served), after starting a
   * background refresh if one is due.
   */
  valid(entry: CacheEntry | undefined): CacheEntry | undefined {
    if (entry === undefined) return undefined;
    const now = Date.now();
    if (now >= entry.expiresOnTimestamp) return undefined;
    if (now >= entry.refreshAfterTimestamp) this.#refreshInBackground(entry, now);
    return entry;
  }

  /** Starts a background refresh of `entry` unless one runs or the last one failed recently. */
  #refreshInBackground(entry: CacheEntry, now: number): void {
    if (now < entry.nextRefreshAttemptAt) return;
    const flightKey = keyOf(entry.key);
    if (this.#flights.has(flightKey)) return;
    const flight = this.#start(flightKey, entry.key, true);
    flight.promise.catch((error: unknown) => {
      entry.nextRefreshAttemptAt = Date.now() + FAILED_REFRESH_BACKOFF_MS;
      this.#onRefreshError(entry.key, error);
    });
  }

  /** Joins the request in flight for `key`, or starts one. */
  acquire(key: TokenKey, signal: AbortSignal | undefined): Promise<AccessToken> {
    const flightKey = keyOf(key);
    const flight = this.#flights.get(flightKey) ?? this.#start(flightKey, key, false);
    return wait(flight, signal);
  }

  /** Acquires a token outside single flight (a claims challenge) and caches the result. */
  acquireAlone(
    key: TokenKey,
    signal: AbortSignal | undefined,
    acquire: AcquireToken,
  ): Promise<AccessToken> {
    const flight = this.#launch(key, acquire, false, () => this.#alone.delete(flight));
    this.#alone.add(flight);
    return wait(flight, signal);
  }

  /** Drops every token and aborts every request in flight. */
  clear(reason: unknown): void {
    this.#plain.clear();
    this.#cae.clear();
    this.#multiScope.clear();
    for (const flight of [...this.#flights.values(), ...this.#alone])
      flight.controller.abort(reason);
    this.#flights.clear();
    this.#alone.clear();
  }

  #start(flightKey: string, key: TokenKey, detached: boolean): Flight {
    const flight = this.#launch(key, this.#acquire, detached, () => {
      if (this.#flights.get(flightKey) === flight) this.#flights.delete(flightKey);
    });
    this.#flights.set(flightKey, flight);
    return flight;
  }

  /** Runs `acquire`, caches its token, and calls `settled` when it ends either way. */
  #launch(key: TokenKey, acquire: AcquireToken, detached: boolean, settled: () => void): Flight {
    const controller = new AbortController();
    const promise = acquire(key, controller.signal)
      .then((token) => this.#store(key, token))
      .finally(settled);
    return { promise, controller, waiters: 0, detached };
  }

  #store(key: TokenKey, token: AccessToken): AccessToken {
    const entry: CacheEntry = {
      key,
      token,
      promise: Promise.resolve(token),
      expiresOnTimestamp: token.expiresOnTimestamp,
      refreshAfterTimestamp: token.refreshAfterTimestamp ?? token.expiresOnTimestamp,
      nextRefreshAttemptAt: 0,
    };
    if (key.scopes.length > 1) {
      this.#multiScope.set(keyOf(key), entry);
      return token;
    }
    const maps = key.enableCae ? this.#cae : this.#plain;
    let byScope = maps.get(key.tenantId);
    if (byScope === undefined) {
      byScope = new Map();
      maps.set(key.tenantId, byScope);
    }
    byScope.set(key.scopesKey, entry);
    return token;
  }
}

function keyOf(key: TokenKey): string {
  return `${key.tenantId}\u0000${key.enableCae ? 1 : 0}\u0000${key.scopesKey}`;
}

function wait(flight: Flight, signal: AbortSignal | undefined): Promise<AccessToken> {
  flight.waiters++;
  if (signal === undefined) return flight.promise;
  return new Promise<AccessToken>((resolve, reject) => {
    const onAbort = (): void => {
      flight.waiters--;
      if (flight.waiters === 0 && !flight.detached) flight.controller.abort(abortError());
      reject(abortError());
    };
    signal.addEventListener("abort", onAbort, { once: true });
    flight.promise.then(
      (token) => {
        signal.removeEventListener("abort", onAbort);
        resolve(token);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
