import { createAccessToken } from "./access-token.js";
import { abortReason } from "./errors.js";
import { logger } from "./logger.js";
import { sleep } from "./retry.js";
import type { AcquiredToken, TokenKey } from "./token-cache.js";

/**
 * What a {@link TokenStore} operation gets: a signal that aborts when the operation's time is up
 * (`operationTimeoutInMs`) or nobody waits for it any more. A store may ignore it: the
 * credential stops waiting either way.
 *
 * @example
 * ```ts
 * import type { TokenStoreOperationOptions } from "@fedcred/core";
 *
 * const options: TokenStoreOperationOptions = { signal: AbortSignal.timeout(500) };
 * ```
 */
export interface TokenStoreOperationOptions {
  signal: AbortSignal;
}

/**
 * A second-level token cache shared by processes (a fleet of replicas), behind each
 * credential's in-process cache: set it as `ClientAssertionCredentialOptions.tokenStore`.
 * `@fedcred/redis`'s `redisTokenStore` is one; any engine with a get, a set with a time to live
 * and an atomic set-if-absent with a time to live fits.
 *
 * The credential hands the store opaque keys and values:
 * - keys are 43 characters of base64url (a SHA-256 of the authority host, the tenant in lower
 *   case, the client id, the sorted scopes and the CAE mode); the store adds its own prefix;
 * - values are strings holding the access token: a store keeps them confidential
 *   (`@fedcred/redis` seals them with AES-256-GCM, bound to their key).
 *
 * How the credential uses it, on an in-process cache miss (never on a hit):
 * 1. `get(key)`: a valid token there is used and cached in process;
 * 2. otherwise `lease(key)`: `true` means this process reads `get` once more (a holder may
 *    have just written the token and ended its lease), then asks Entra and `set`s the token with a
 *    time to live no longer than its refresh time (and so never beyond its expiry less the
 *    safety margin); `false` means another process holds the lease: the credential polls
 *    `get` (from 20 ms up to every 250 ms) and tries `lease` again, so once a holder's lease
 *    ends (a holder that died, say) the next process takes it. It waits at most three leases
 *    before asking Entra itself. When the request to Entra fails (a refusal, throttling, an
 *    outage, an abort), the credential `set`s a short-lived mark of the failure under `key`
 *    (for 1 s): the processes waiting on its lease, and those arriving meanwhile, ask Entra
 *    themselves at once (and get their own answer) instead of waiting out a lease whose holder
 *    has nothing to share.
 *
 * Every operation may fail, hang or return garbage: the credential gives each one
 * `operationTimeoutInMs` (default {@link DEFAULT_TOKEN_STORE_TIMEOUT_MS}; the first operation
 * of a store in a process, which usually waits for its connection too, at least 3 s), logs the first failure
 * of an outage at warning level, then leaves the store alone for a few seconds and behaves as
 * without one; it logs when the store answers again. Claims-challenge tokens never go to the
 * store.
 *
 * @example
 * ```ts
 * import type { TokenStore } from "@fedcred/core";
 *
 * // One process's store, for tests: a Map with expiry.
 * const entries = new Map<string, { value: string; until: number }>();
 * const store: TokenStore = {
 *   leaseInMs: 10_000,
 *   async get(key) {
 *     const entry = entries.get(key);
 *     return entry !== undefined && entry.until > Date.now() ? entry.value : undefined;
 *   },
 *   async set(key, value, timeToLiveInMs) {
 *     entries.set(key, { value, until: Date.now() + timeToLiveInMs });
 *   },
 *   async lease(key) {
 *     const name = `lease:${key}`;
 *     const held = entries.get(name);
 *     if (held !== undefined && held.until > Date.now()) return false;
 *     entries.set(name, { value: "", until: Date.now() + 10_000 });
 *     return true;
 *   },
 * };
 * ```
 */
export interface TokenStore {
  /** The value stored under `key`, or `undefined` when there is none (or it expired). */
  get(key: string, options: TokenStoreOperationOptions): Promise<string | undefined>;
  /** Stores `value` under `key` for `timeToLiveInMs` milliseconds (a whole number, at least 1). */
  set(
    key: string,
    value: string,
    timeToLiveInMs: number,
    options: TokenStoreOperationOptions,
  ): Promise<void>;
  /**
   * Takes the lease on `key` for `leaseInMs` when nobody holds it (atomically: one caller in
   * the fleet wins), and says whether this caller now holds it. The credential never releases
   * a lease: it ends by itself, and matters no more once the token is stored (a store may end
   * it in `set`, as `@fedcred/redis` does).
   */
  lease(key: string, options: TokenStoreOperationOptions): Promise<boolean>;
  /** How long a lease lasts, in ms: how long a dead holder can keep the others waiting. */
  readonly leaseInMs: number;
  /** How long one operation may take, in ms. Default {@link DEFAULT_TOKEN_STORE_TIMEOUT_MS}. */
  readonly operationTimeoutInMs?: number;
}

/** How long one token store operation may take when the store does not say. */
export const DEFAULT_TOKEN_STORE_TIMEOUT_MS = 500;
/** After a failure, the store is left alone this long (the credential goes to Entra directly). */
const BYPASS_AFTER_FAILURE_MS = 5_000;
/**
 * The least time the first operation of a store in a process gets: it usually waits for the
 * store's connection too (a Redis client library loading, TCP and TLS, AUTH), which a process
 * that asks for its first token as it starts, on a busy CPU, cannot do within an operation's
 * timeout; the fleet would then go to Entra at a restart, the very moment the store is for.
 */
const FIRST_OPERATION_MIN_MS = 3_000;
const FIRST_POLL_MS = 20;
const MAX_POLL_MS = 250;
const MAX_TOKEN_LENGTH = 64 * 1024;
/**
 * How long a failed token request's mark stays in the store: the processes waiting for that
 * request's token (and those arriving meanwhile) ask Entra themselves at once, as without a
 * store, instead of waiting out the lease of a holder that has nothing to share.
 */
const FAILURE_MARK_MS = 1_000;
const FAILURE_MARK = JSON.stringify({ v: 1, failed: true });

/** What {@link parseStoredToken} returns for a failed request's mark. */
export const FAILED_REQUEST: unique symbol = Symbol("failed token request");

/** What a store value holds: the token and its times, in ms since the epoch. */
interface StoredToken {
  v: 1;
  token: string;
  expiresOnTimestamp: number;
  refreshAfterTimestamp: number;
  /** Wall time after which the token is no longer served (its expiry less the safety margin). */
  serveUntilTimestamp: number;
}

class StoreFailure extends Error {}

/** How a store is doing, shared by every credential of the process that uses it: one warning per outage. */
interface StoreHealth {
  /** Until this monotonic time the store is left alone. */
  bypassUntil: number;
  down: boolean;
  garbageReported: boolean;
  /** Whether an operation was started: only the first one gets {@link FIRST_OPERATION_MIN_MS}. */
  started: boolean;
}

const healthOfStores = new WeakMap<TokenStore, StoreHealth>();

let cryptoModule: Promise<typeof import("node:crypto")> | undefined;

/** The store key of `key` for this credential: a SHA-256, base64url, of everything the token is for. */
export async function tokenStoreKey(
  authorityHost: string,
  clientId: string,
  key: TokenKey,
): Promise<string> {
  // node:crypto is loaded on the first store operation, not when core is imported: most
  // processes never use a store, and loading it costs every one of them milliseconds at start.
  cryptoModule ??= import("node:crypto");
  const { createHash } = await cryptoModule;
  return createHash("sha256")
    .update(
      JSON.stringify([
        "fedcred-token-v1",
        authorityHost.toLowerCase(),
        key.tenantKey,
        clientId,
        [...key.scopes].sort(),
        key.enableCae,
      ]),
    )
    .digest("base64url");
}

/** The wall-clock times of a token acquired in this process, as a store value. */
export function serializeStoredToken(acquired: AcquiredToken): {
  value: string;
  timeToLiveInMs: number;
} {
  const wallNow = Date.now();
  const monoNow = performance.now();
  const serveUntilTimestamp = Math.floor(wallNow + (acquired.serveUntil - monoNow));
  const refreshAfterTimestamp = Math.min(
    acquired.token.refreshAfterTimestamp ?? serveUntilTimestamp,
    serveUntilTimestamp,
  );
  const stored: StoredToken = {
    v: 1,
    token: acquired.token.token,
    expiresOnTimestamp: acquired.token.expiresOnTimestamp,
    refreshAfterTimestamp,
    serveUntilTimestamp,
  };
  return {
    value: JSON.stringify(stored),
    timeToLiveInMs: Math.floor(refreshAfterTimestamp - wallNow),
  };
}

/**
 * A store value as a token, validated like a token from Entra: `undefined` for a value that
 * is not one of ours (garbage is reported by throwing), or one past its refresh time.
 */
export function parseStoredToken(value: string): AcquiredToken | typeof FAILED_REQUEST | undefined {
  let stored: Partial<StoredToken> & { failed?: unknown };
  try {
    stored = JSON.parse(value) as Partial<StoredToken>;
  } catch {
    throw new StoreFailure("the token store returned a value that is not a stored token");
  }
  if (
    stored !== null &&
    typeof stored === "object" &&
    stored.v === 1 &&
    stored.failed === true &&
    Object.keys(stored).length === 2
  ) {
    return FAILED_REQUEST;
  }
  const { token, expiresOnTimestamp: expiresOn, refreshAfterTimestamp: refreshAfter } = stored;
  const serveUntil = stored.serveUntilTimestamp;
  if (
    stored === null ||
    typeof stored !== "object" ||
    stored.v !== 1 ||
    typeof token !== "string" ||
    token.length === 0 ||
    token.length > MAX_TOKEN_LENGTH ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: what a token may not hold
    /[\s\u0000-\u001f\u007f]/.test(token) ||
    !Number.isFinite(expiresOn) ||
    !Number.isFinite(refreshAfter) ||
    !Number.isFinite(serveUntil) ||
    (serveUntil as number) > (expiresOn as number) ||
    (refreshAfter as number) > (serveUntil as number)
  ) {
    throw new StoreFailure("the token store returned a value that is not a stored token");
  }
  const wallNow = Date.now();
  // Never served past its expiry less the safety margin; past its refresh time, it is a miss:
  // the fleet's next request replaces it.
  if (wallNow >= (refreshAfter as number) || wallNow >= (serveUntil as number)) return undefined;
  const monoNow = performance.now();
  return {
    token: createAccessToken(token, expiresOn as number, refreshAfter as number),
    serveUntil: monoNow + ((serveUntil as number) - wallNow),
    refreshAt: monoNow + ((refreshAfter as number) - wallNow),
  };
}

/**
 * A credential's use of its token store: timeouts on every operation, a bypass after a failure,
 * one warning per outage, and the lease protocol (see {@link TokenStore}).
 */
export class SharedTokenStore {
  readonly #store: TokenStore;
  readonly #timeoutInMs: number;
  readonly #leaseInMs: number;
  readonly #health: StoreHealth;

  constructor(store: TokenStore, timeoutInMs: number, leaseInMs: number) {
    this.#store = store;
    this.#timeoutInMs = timeoutInMs;
    this.#leaseInMs = leaseInMs;
    let health = healthOfStores.get(store);
    if (health === undefined) {
      health = { bypassUntil: 0, down: false, garbageReported: false, started: false };
      healthOfStores.set(store, health);
    }
    this.#health = health;
  }

  /**
   * The token for `storeKey` from the store, or from `request` (Entra) under the fleet's lease,
   * then written to the store. Any store failure falls back to `request`.
   */
  async acquire(
    storeKey: string,
    signal: AbortSignal,
    background: boolean,
    request: () => Promise<AcquiredToken>,
  ): Promise<AcquiredToken> {
    const found = await this.#read(storeKey, signal, background);
    if (found !== undefined && found !== FAILED_REQUEST) return found;
    // A failed request's mark: its holder has nothing to share, ask Entra as without a store.
    if (found === undefined) {
      const giveUpAt = performance.now() + 3 * this.#leaseInMs;
      let delay = FIRST_POLL_MS;
      for (;;) {
        const leased = await this.#operation(signal, background, (options) =>
          this.#store.lease(storeKey, options),
        );
        if (leased === true) {
          // Its holder may have written the token and ended its lease since this process read.
          const written = await this.#read(storeKey, signal, background);
          if (written !== undefined && written !== FAILED_REQUEST) return written;
          break;
        }
        // false: held by another process, wait for its token. No store, or an answer that is
        // no boolean: ask Entra.
        if (leased !== false || performance.now() >= giveUpAt) break;
        await sleep(delay * (0.75 + Math.random() / 2), signal, background);
        delay = Math.min(delay * 2, MAX_POLL_MS);
        const polled = await this.#read(storeKey, signal, background);
        // The holder's request failed (a refusal, an outage, throttling, an abort): this
        // process asks Entra itself now rather than wait out the lease.
        if (polled === FAILED_REQUEST) break;
        if (polled !== undefined) return polled;
      }
    }
    let acquired: AcquiredToken;
    try {
      acquired = await request();
    } catch (error) {
      // The processes waiting for this token learn at once that none is coming (the store ends
      // the lease with the write). In the background: the caller gets its error now.
      const never = new AbortController().signal;
      void this.#operation(never, true, (options) =>
        this.#store.set(storeKey, FAILURE_MARK, FAILURE_MARK_MS, options),
      );
      throw error;
    }
    const { value, timeToLiveInMs } = serializeStoredToken(acquired);
    if (timeToLiveInMs >= 1) {
      await this.#operation(signal, background, (options) =>
        this.#store.set(storeKey, value, timeToLiveInMs, options),
      );
    }
    return acquired;
  }

  async #read(
    storeKey: string,
    signal: AbortSignal,
    background: boolean,
  ): Promise<AcquiredToken | typeof FAILED_REQUEST | undefined> {
    const value = await this.#operation(signal, background, (options) =>
      this.#store.get(storeKey, options),
    );
    if (value === undefined || value === null) return undefined;
    try {
      if (typeof value !== "string") {
        throw new StoreFailure("the token store's get returned something other than a string");
      }
      const token = parseStoredToken(value);
      this.#health.garbageReported = false;
      return token;
    } catch (error) {
      // A miss: the token from Entra overwrites it. Reported once until a good value is read.
      if (!this.#health.garbageReported) {
        this.#health.garbageReported = true;
        logger.warning(
          `${error instanceof Error ? error.message : String(error)}; it is treated as a miss`,
        );
      }
      return undefined;
    }
  }

  /**
   * Runs one store operation within the timeout; `undefined` when the store is bypassed, fails
   * or is too slow. Rejects only when `signal` aborts.
   */
  async #operation<T>(
    signal: AbortSignal,
    background: boolean,
    run: (options: TokenStoreOperationOptions) => Promise<T>,
  ): Promise<T | undefined> {
    if (signal.aborted) throw abortReason(signal);
    if (performance.now() < this.#health.bypassUntil) return undefined;
    const timeoutInMs = this.#health.started
      ? this.#timeoutInMs
      : Math.max(this.#timeoutInMs, FIRST_OPERATION_MIN_MS);
    this.#health.started = true;
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    let late: ReturnType<typeof setImmediate> | undefined;
    try {
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // Not at once: after a busy event loop (a process starting, a long synchronous task)
          // this timer runs before the loop reads the answer Redis sent in time. setImmediate
          // runs after that read, so an answer already received wins.
          late = setImmediate(() => {
            const error = new StoreFailure(
              `the token store did not answer within ${timeoutInMs} ms`,
            );
            controller.abort(error);
            reject(error);
          });
          if (background) late.unref();
        }, timeoutInMs);
        if (background) timer.unref();
      });
      const aborted = new Promise<never>((_, reject) => {
        controller.signal.addEventListener("abort", () => reject(controller.signal.reason), {
          once: true,
        });
      });
      aborted.catch(() => {});
      timedOut.catch(() => {});
      const work = Promise.resolve().then(() => run({ signal: controller.signal }));
      work.catch(() => {});
      const result = await Promise.race([work, timedOut, aborted]);
      this.#answered();
      return result;
    } catch (error) {
      if (signal.aborted) throw abortReason(signal);
      this.#failed(error);
      return undefined;
    } finally {
      clearTimeout(timer);
      if (late !== undefined) clearImmediate(late);
      signal.removeEventListener("abort", onAbort);
    }
  }

  #answered(): void {
    if (!this.#health.down) return;
    this.#health.down = false;
    logger.info("the token store answers again; tokens are shared again");
  }

  #failed(error: unknown): void {
    this.#health.bypassUntil = performance.now() + BYPASS_AFTER_FAILURE_MS;
    if (this.#health.down) return;
    this.#health.down = true;
    const reason = error instanceof Error ? error.message : String(error);
    logger.warning(
      `the token store failed (${reason}); tokens come from Entra without it, and the store is tried again in ${BYPASS_AFTER_FAILURE_MS / 1000} seconds`,
    );
  }
}
