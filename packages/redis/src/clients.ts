import { CredentialUnavailableError, logger } from "@fedcred/core";

/** The three commands the store sends, whatever the client. */
export interface RedisCommands {
  readonly library: "redis" | "ioredis";
  get(key: string, signal: AbortSignal): Promise<string | undefined>;
  /** `SET key value PX ttl`. */
  set(key: string, value: string, timeToLiveInMs: number, signal: AbortSignal): Promise<void>;
  /** `SET key value NX PX ttl`: whether it was set. */
  setIfAbsent(
    key: string,
    value: string,
    timeToLiveInMs: number,
    signal: AbortSignal,
  ): Promise<boolean>;
  /** Connects a client the store created (at once, so the first token request finds it ready). */
  connect(): Promise<void>;
  /** Closes the client when the store created it. */
  close(): Promise<void>;
}

// The shapes of the two clients, as far as the store uses them (both are optional peers).
interface NodeRedisLike {
  isOpen: boolean;
  get(key: string): Promise<unknown>;
  set(key: string, value: string, options?: unknown): Promise<unknown>;
  withAbortSignal?(signal: AbortSignal): NodeRedisLike;
  connect(): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): void;
  ref?(): void;
  unref?(): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

interface IoredisLike {
  status: string;
  get(key: string): Promise<unknown>;
  set(key: string, value: string, ...args: Array<string | number>): Promise<unknown>;
  connect(): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(): void;
  stream?: { ref?(): void; unref?(): void };
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

function text(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString("utf8");
  throw new Error("Redis answered GET with something other than a string");
}

/** Which library `client` comes from, by its shape; `undefined` for neither. */
export function clientLibrary(client: unknown): "redis" | "ioredis" | undefined {
  if (client === null || typeof client !== "object") return undefined;
  const candidate = client as Record<string, unknown>;
  if (typeof candidate.get !== "function" || typeof candidate.set !== "function") return undefined;
  if (typeof candidate.isOpen === "boolean") return "redis";
  if (typeof candidate.status === "string") return "ioredis";
  return undefined;
}

/** Commands through a node-redis v5 client (a client, a cluster or a sentinel). */
export function nodeRedisCommands(
  client: NodeRedisLike,
  owned: { connect: () => Promise<void> } | undefined,
): RedisCommands {
  const scoped = (signal: AbortSignal): NodeRedisLike =>
    typeof client.withAbortSignal === "function" ? client.withAbortSignal(signal) : client;
  const ready = async (): Promise<void> => {
    if (owned !== undefined) await owned.connect();
    else if (!client.isOpen) {
      throw new Error("the node-redis client is not open: call connect() before using the store");
    }
  };
  return {
    library: "redis",
    connect: ready,
    async get(key, signal) {
      await ready();
      return text(await scoped(signal).get(key));
    },
    async set(key, value, timeToLiveInMs, signal) {
      await ready();
      await scoped(signal).set(key, value, {
        expiration: { type: "PX", value: timeToLiveInMs },
      });
    },
    async setIfAbsent(key, value, timeToLiveInMs, signal) {
      await ready();
      const answer = await scoped(signal).set(key, value, {
        condition: "NX",
        expiration: { type: "PX", value: timeToLiveInMs },
      });
      return answer === "OK";
    },
    async close() {
      if (owned === undefined || !client.isOpen) return;
      // Connected: a graceful close; still connecting or reconnecting: at once.
      if ((client as { isReady?: boolean }).isReady !== true) {
        client.destroy?.();
        return;
      }
      // Its socket is unref'd: awaiting the goodbye must keep the process alive.
      client.ref?.();
      if (typeof client.close === "function") await client.close();
      else await client.quit?.();
    },
  };
}

/** Commands through an ioredis client (a client or a cluster; Sentinel is a client option). */
export function ioredisCommands(
  client: IoredisLike,
  owned: { connect: () => Promise<void> } | undefined,
): RedisCommands {
  return {
    library: "ioredis",
    connect: async () => {
      if (owned !== undefined) await owned.connect();
    },
    async get(key) {
      if (owned !== undefined) await owned.connect();
      return text(await client.get(key));
    },
    async set(key, value, timeToLiveInMs) {
      if (owned !== undefined) await owned.connect();
      await client.set(key, value, "PX", timeToLiveInMs);
    },
    async setIfAbsent(key, value, timeToLiveInMs) {
      if (owned !== undefined) await owned.connect();
      return (await client.set(key, value, "PX", timeToLiveInMs, "NX")) === "OK";
    },
    async close() {
      if (owned === undefined) return;
      if (client.status === "end") return;
      if (client.status !== "ready") {
        client.disconnect();
        return;
      }
      // Its socket is unref'd: awaiting the goodbye must keep the process alive.
      client.stream?.ref?.();
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}

/** What the store needs from a `url`, parsed; the password is kept out of every printed form. */
export interface RedisUrl {
  url: string;
  /** The URL with its password replaced, for messages. */
  redacted: string;
  tls: boolean;
}

/** Checks `url`: `redis://` or `rediss://` (TLS), with an optional ACL user and password. */
export function parseRedisUrl(url: unknown): RedisUrl {
  if (typeof url !== "string" || url.trim() === "") {
    throw invalid(
      `options.url must be a redis:// or rediss:// URL (rediss for TLS), such as rediss://fedcred:password@cache.internal:6380, got ${url === null ? "null" : typeof url}.`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw invalid(
      "options.url is not a URL: give redis://[user:password@]host[:port][/db] or rediss://... for TLS.",
    );
  }
  const redacted = redact(parsed);
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw invalid(`options.url must start with redis:// or rediss:// (TLS), got ${redacted}.`);
  }
  if (parsed.hostname === "") throw invalid(`options.url names no host: ${redacted}.`);
  return { url: parsed.href, redacted, tls: parsed.protocol === "rediss:" };
}

function redact(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password !== "") copy.password = "***";
  return copy.href;
}

/** Loads node-redis if installed, else ioredis, and creates a client for `url`; connects on first use. */
export async function commandsForUrl(
  url: RedisUrl,
  operationTimeoutInMs: number,
): Promise<RedisCommands> {
  const nodeRedis = await tryImport<{ createClient(options: unknown): NodeRedisLike }>("redis");
  if (nodeRedis !== undefined && typeof nodeRedis.createClient === "function") {
    const client = nodeRedis.createClient({
      url: url.url,
      // Commands fail at once while disconnected instead of queueing: the credential goes to
      // Entra rather than wait.
      disableOfflineQueue: true,
      disableClientInfo: true,
      socket: {
        connectTimeout: Math.max(operationTimeoutInMs, 1000),
        // No reconnection of its own: node-redis waits between attempts on a timer that keeps
        // the process alive while Redis is down. The next operation connects again instead
        // (the credential leaves a failed store alone for a few seconds).
        reconnectStrategy: false,
      },
    });
    client.on("error", reportClientError);
    // Its sockets do not keep the process alive.
    client.unref?.();
    let connecting: Promise<void> | undefined;
    return nodeRedisCommands(client, {
      connect: () => {
        if (connecting !== undefined) return connecting;
        if (client.isOpen) return Promise.resolve();
        connecting = client.connect().then(
          () => {
            connecting = undefined;
          },
          (error: unknown) => {
            connecting = undefined;
            throw error;
          },
        );
        return connecting;
      },
    });
  }
  const ioredisModule = await tryImport<{ default?: unknown; Redis?: unknown }>("ioredis");
  const Redis = (ioredisModule?.Redis ?? ioredisModule?.default) as
    | (new (
        url: string,
        options: unknown,
      ) => IoredisLike)
    | undefined;
  if (typeof Redis !== "function") {
    throw new CredentialUnavailableError(
      "options.url needs a Redis client library: install redis (node-redis 5) or ioredis 5 next to @fedcred/redis, or pass options.client.",
      "missing_configuration",
    );
  }
  const client = new Redis(url.url, {
    lazyConnect: true,
    // Commands fail at once while disconnected instead of queueing (see above).
    enableOfflineQueue: false,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    connectTimeout: Math.max(operationTimeoutInMs, 1000),
    // No reconnection of its own (its timer would keep the process alive while Redis is down):
    // the next operation connects again, from the "end" state.
    retryStrategy: () => null,
  });
  client.on("error", reportClientError);
  client.on("connect", () => client.stream?.unref?.());
  let connecting: Promise<void> | undefined;
  return ioredisCommands(client, {
    connect: () => {
      if (client.status === "ready") return Promise.resolve();
      if (connecting !== undefined) return connecting;
      if (client.status !== "wait" && client.status !== "end") {
        // Reconnecting by itself: fail at once, the credential goes to Entra.
        return Promise.reject(new Error(`the Redis connection is ${client.status}`));
      }
      connecting = client.connect().then(
        () => {
          connecting = undefined;
        },
        (error: unknown) => {
          connecting = undefined;
          throw error;
        },
      );
      return connecting;
    },
  });
}

let lastClientError = "";

/** A client's connection errors, at verbose level (the credential warns once per outage). */
function reportClientError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  if (message === lastClientError) return;
  lastClientError = message;
  logger.verbose(`redis token store: ${message}`);
}

async function tryImport<T>(name: string): Promise<T | undefined> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_MODULE_NOT_FOUND") return undefined;
    if ((error as { code?: string }).code === "MODULE_NOT_FOUND") return undefined;
    throw error;
  }
}

function invalid(message: string): CredentialUnavailableError {
  return new CredentialUnavailableError(message, "invalid_configuration");
}
