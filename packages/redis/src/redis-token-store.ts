import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import {
  CredentialUnavailableError,
  DEFAULT_TOKEN_STORE_TIMEOUT_MS,
  type TokenStore,
  type TokenStoreOperationOptions,
} from "@fedcred/core";
import {
  clientLibrary,
  commandsForUrl,
  ioredisCommands,
  nodeRedisCommands,
  parseRedisUrl,
  type RedisCommands,
} from "./clients.js";
import { encryptionKeys, Sealer } from "./seal.js";

/**
 * Options of {@link redisTokenStore}: one of `client` and `url`, and an `encryptionKey` (or
 * `allowUnencrypted: true`).
 *
 * @example
 * ```ts
 * import type { RedisTokenStoreOptions } from "@fedcred/redis";
 *
 * const options: RedisTokenStoreOptions = {
 *   url: "rediss://fedcred:password@cache.internal:6380",
 *   encryptionKey: process.env.FEDCRED_TOKEN_STORE_KEY!, // openssl rand -base64 32
 * };
 * ```
 */
export interface RedisTokenStoreOptions {
  /**
   * A connected client of `redis` (node-redis 5: `createClient`, `createCluster`,
   * `createSentinel`) or of `ioredis` (5: `Redis`, `Cluster`, or a Sentinel-configured `Redis`),
   * told apart by shape. The store never closes it. Its offline queue, reconnection and
   * command timeouts are yours: a client that queues commands while Redis is down makes each
   * operation wait for `operationTimeoutInMs`.
   */
  client?: unknown;
  /**
   * `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS, with an ACL user and
   * password. The store creates the client on first use with node-redis when `redis` is
   * installed, else with ioredis, connects lazily, fails commands at once while disconnected,
   * connects again on the next operation after the connection is lost (no reconnection
   * timer), and does not keep the process alive, Redis up or down. `close()` closes it.
   */
  url?: string;
  /**
   * The AES-256-GCM key that seals every value: 32 bytes as a `Buffer`/`Uint8Array`, 64 hex
   * digits or base64 (`openssl rand -base64 32`). A list rotates keys: the first seals, all of
   * them open. Required unless `allowUnencrypted` is `true`.
   */
  encryptionKey?: Uint8Array | string | ReadonlyArray<Uint8Array | string>;
  /** Stores access tokens in clear in Redis. Only for a Redis nobody else can read. Default `false`. */
  allowUnencrypted?: boolean;
  /** Put in front of every key the store writes. Default `fedcred:`. */
  keyPrefix?: string;
  /** How long one Redis command may take before the credential goes on without it, ms. Default 500. */
  operationTimeoutInMs?: number;
  /**
   * How long the lease of a process fetching a token lasts, ms: how long a process that died
   * while fetching can keep the others waiting. Default 10 000; give it more than a token
   * request takes.
   */
  leaseInMs?: number;
}

/**
 * A {@link TokenStore} on Redis, with `close()` for a client the store created from `url`.
 *
 * @example
 * ```ts
 * import type { RedisTokenStore } from "@fedcred/redis";
 *
 * async function shutdown(store: RedisTokenStore): Promise<void> {
 *   await store.close();
 * }
 * ```
 */
export interface RedisTokenStore extends TokenStore {
  readonly leaseInMs: number;
  readonly operationTimeoutInMs: number;
  /** The prefix of every key the store writes. */
  readonly keyPrefix: string;
  /** Closes the Redis client when the store created it from `url`; a `client` you passed stays open. */
  close(): Promise<void>;
}

/** How long a lease lasts by default. */
const DEFAULT_LEASE_MS = 10_000;

/**
 * A token store on Redis for `ClientAssertionCredentialOptions.tokenStore` of `@fedcred/core`:
 * one token request per fleet instead of one per process. Values are sealed with AES-256-GCM,
 * the Redis key as associated data, so a reader of Redis learns nothing usable and a value
 * copied to another key does not open (a miss); key names are HMACs under a key derived from
 * the encryption key, so a guessed tenant, client id and scope cannot be confirmed from them. The fleet's single flight is a lease:
 * `SET {prefix}lease:{key} {random} NX PX {leaseInMs}`, ended (`PX 1`) once the token is
 * written; waiting processes poll with `GET`. The store needs only `GET` and `SET` on
 * `{prefix}*`.
 *
 * @param options - see {@link RedisTokenStoreOptions}.
 * @returns a {@link RedisTokenStore}.
 * @throws {@link CredentialUnavailableError} (`missing_configuration`, `invalid_configuration`)
 *   naming the option that is wrong: neither or both of `client` and `url`, a client of
 *   neither library, a bad URL, no `encryptionKey` (without `allowUnencrypted: true`) or one
 *   that is not 32 bytes. Never with the password or the key in the message.
 *
 * @example
 * ```ts
 * import { ClientAssertionCredential } from "@fedcred/core";
 * import { fromFile } from "@fedcred/file";
 * import { redisTokenStore } from "@fedcred/redis";
 *
 * const tokenStore = redisTokenStore({
 *   url: process.env.REDIS_URL!, // rediss://fedcred:password@cache.internal:6380
 *   encryptionKey: process.env.FEDCRED_TOKEN_STORE_KEY!, // openssl rand -base64 32
 * });
 * const credential = new ClientAssertionCredential(tenantId, clientId, fromFile(), { tokenStore });
 * ```
 */
export function redisTokenStore(options: RedisTokenStoreOptions): RedisTokenStore {
  if (options === null || typeof options !== "object") {
    throw missing(
      "redisTokenStore needs options: { client } or { url }, and an encryptionKey (or allowUnencrypted: true).",
    );
  }
  const hasClient = options.client !== undefined && options.client !== null;
  const hasUrl = options.url !== undefined && options.url !== null;
  if (hasClient === hasUrl) {
    throw missing(
      hasClient
        ? "Give options.client or options.url, not both."
        : "options.client or options.url is required: a connected node-redis 5 or ioredis 5 client, or a redis:// / rediss:// URL.",
    );
  }
  const sealer = sealerFor(options);
  const keyPrefix = options.keyPrefix ?? "fedcred:";
  if (typeof keyPrefix !== "string" || keyPrefix.length > 256) {
    throw invalid("options.keyPrefix must be a string of at most 256 characters.");
  }
  const operationTimeoutInMs = milliseconds(
    options.operationTimeoutInMs,
    "options.operationTimeoutInMs",
    DEFAULT_TOKEN_STORE_TIMEOUT_MS,
  );
  const leaseInMs = milliseconds(options.leaseInMs, "options.leaseInMs", DEFAULT_LEASE_MS);

  let connect: () => Promise<RedisCommands>;
  let closeCreated = async (): Promise<void> => {};
  let describe: Record<string, unknown>;
  if (hasClient) {
    const library = clientLibrary(options.client);
    if (library === undefined) {
      throw invalid(
        "options.client must be a node-redis 5 client (createClient, createCluster, createSentinel of redis) or an ioredis client (Redis, Cluster).",
      );
    }
    const given = Promise.resolve(
      library === "redis"
        ? nodeRedisCommands(options.client as never, undefined)
        : ioredisCommands(options.client as never, undefined),
    );
    connect = () => given;
    describe = { client: library };
  } else {
    const url = parseRedisUrl(options.url);
    // The client library loads, and the client is created, on first use.
    let created: Promise<RedisCommands> | undefined;
    connect = () => {
      created ??= commandsForUrl(url, operationTimeoutInMs);
      return created;
    };
    // Loading the library and connecting can take longer than one operation may: both start
    // now, in the background, so the first token request finds the client ready. A failure
    // here is retried by the first operation.
    connect()
      .then((commands) => commands.connect())
      .catch(() => {});
    closeCreated = async () => {
      if (created !== undefined) await (await created).close();
    };
    describe = { url: url.redacted };
  }
  let closed = false;
  // With a key, the names are HMACs of the credential's key (see Sealer.names); the first seals.
  const names = (key: string): string[] =>
    (sealer === undefined ? [key] : sealer.names(key)).map((name) => `${keyPrefix}${name}`);
  const redisKey = (key: string): string => names(key)[0] as string;
  const leaseKey = (key: string): string =>
    `${keyPrefix}lease:${(redisKey(key) as string).slice(keyPrefix.length)}`;
  const printable = (): Record<string, unknown> => ({
    ...describe,
    keyPrefix,
    encrypted: sealer !== undefined,
    leaseInMs,
    operationTimeoutInMs,
  });
  const store: RedisTokenStore = {
    leaseInMs,
    operationTimeoutInMs,
    keyPrefix,
    get: (key: string, { signal }: TokenStoreOperationOptions) =>
      held(signal, async () => {
        const commands = await connect();
        if (sealer === undefined) return commands.get(redisKey(key), signal);
        // Under the first key's name, then (while keys rotate) under the older keys' names.
        for (const name of names(key)) {
          const value = await commands.get(name, signal);
          if (value === undefined) continue;
          // A value that does not open here (another key, a copy from another key) is a miss.
          return sealer.open(name, value);
        }
        return undefined;
      }),
    set: (key: string, value: string, timeToLiveInMs: number, { signal }) =>
      held(signal, async () => {
        const name = redisKey(key);
        const sealed = sealer === undefined ? value : sealer.seal(name, value);
        const commands = await connect();
        await commands.set(name, sealed, Math.max(1, Math.floor(timeToLiveInMs)), signal);
        // The token is there: the lease ends now rather than at its time (with SET, not DEL, so
        // the ACL stays at GET and SET). Should this value go unread (it expires, a process
        // cannot open it), the next process need not wait out the lease.
        await commands.set(leaseKey(key), "", 1, signal);
      }),
    lease: (key: string, { signal }) =>
      held(signal, async () => {
        const holder = randomBytes(12).toString("base64url");
        return (await connect()).setIfAbsent(leaseKey(key), holder, leaseInMs, signal);
      }),
    async close() {
      if (closed) return;
      closed = true;
      // Only a client the store created from url; a client passed in stays open.
      await closeCreated();
    },
  };
  Object.defineProperty(store, inspect.custom, { value: printable, enumerable: false });
  Object.defineProperty(store, "toJSON", { value: printable, enumerable: false });
  return Object.freeze(store);
}

/**
 * Runs one store operation, keeping the process alive until it settles or `signal` aborts. The
 * client's socket is unref'd, so that an idle store never keeps a process alive; without this, a
 * script awaiting the store itself (a health check, a warm-up) would end in the middle of the
 * call. Rejects with the signal's reason when it aborts first (ioredis takes no signal).
 */
async function held<T>(signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
  signal?.throwIfAborted();
  const pending = work();
  // Settled after an abort, its outcome has no one left to tell.
  pending.catch(() => {});
  const hold = setInterval(() => {}, HOLD_MS);
  let onAbort: (() => void) | undefined;
  try {
    if (signal === undefined) return await pending;
    return await Promise.race([
      pending,
      new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } finally {
    clearInterval(hold);
    if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
  }
}

/** A ref'd timer that never fires: it only keeps the event loop alive. */
const HOLD_MS = 2 ** 30;

function sealerFor(options: RedisTokenStoreOptions): Sealer | undefined {
  if (options.encryptionKey === undefined || options.encryptionKey === null) {
    if (options.allowUnencrypted === true) return undefined;
    throw missing(
      "options.encryptionKey is required: 32 bytes (openssl rand -base64 32) that seal the tokens in Redis. To store access tokens in clear in a Redis nobody else reads, set allowUnencrypted: true instead.",
    );
  }
  return new Sealer(encryptionKeys(options.encryptionKey));
}

function milliseconds(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 2_147_483_647) {
    throw invalid(
      `${name} must be a whole number of milliseconds from 1 to 2147483647, got ${typeof value === "number" ? value : typeof value}.`,
    );
  }
  return value;
}

function missing(message: string): CredentialUnavailableError {
  return new CredentialUnavailableError(message, "missing_configuration");
}

function invalid(message: string): CredentialUnavailableError {
  return new CredentialUnavailableError(message, "invalid_configuration");
}
