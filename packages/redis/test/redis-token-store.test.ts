// Against a real redis-server (Debian's package), started by the tests on a loopback port:
// `redis-server --port N --bind 127.0.0.1 --save '' --appendonly no --dir <tmp>`.
import { spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { ClientAssertionCredential, CredentialUnavailableError } from "@fedcred/core";
import {
  createTlsAuthority,
  type EntraEmulator,
  type OidcIssuer,
  startEntra,
  startIssuer,
} from "@fedcred/emulator";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type RedisTokenStore, redisTokenStore } from "../src/index.js";
import { MEMBER, type Member, type MemberResult, runFleet, startMember } from "./support/fleet.js";
import { type RedisServer, startRedisServer } from "./support/redis-server.js";

const SCOPE = "https://storage.azure.com/.default";
const OTHER_SCOPE = "https://vault.azure.net/.default";
const SUBJECT = "system:serviceaccount:prod:billing";
const encryptionKey = randomBytes(32).toString("base64");

/** The two client libraries, the same suite: each test gets a connected client of one. */
type Library = "redis" | "ioredis";

interface Raw {
  keys(): Promise<string[]>;
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  pttl(key: string): Promise<number>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

async function connect(library: Library, url: string): Promise<{ client: unknown; raw: Raw }> {
  if (library === "redis") {
    const client = createClient({ url });
    client.on("error", () => {});
    await client.connect();
    return {
      client,
      raw: {
        keys: () => client.keys("*"),
        get: (key) => client.get(key),
        set: async (key, value) => {
          await client.set(key, value);
        },
        pttl: (key) => client.pTTL(key),
        flush: async () => {
          await client.flushAll();
        },
        close: async () => {
          if (client.isOpen) await client.close();
        },
      },
    };
  }
  const client = new Redis(url, { enableReadyCheck: false });
  client.on("error", () => {});
  return {
    client,
    raw: {
      keys: () => client.keys("*"),
      get: (key) => client.get(key),
      set: async (key, value) => {
        await client.set(key, value);
      },
      pttl: (key) => client.pttl(key),
      flush: async () => {
        await client.flushall();
      },
      close: async () => {
        client.disconnect();
      },
    },
  };
}

let redis: RedisServer;
let issuer: OidcIssuer;
let entra: EntraEmulator;
let assertion: string;
const tenantId = randomUUID();
const clientId = randomUUID();

beforeAll(async () => {
  redis = await startRedisServer();
  issuer = await startIssuer();
  entra = await startEntra({
    tenants: [
      {
        tenantId,
        apps: [
          {
            clientId,
            federatedCredentials: [
              { issuer: issuer.url, subject: SUBJECT, audiences: ["api://AzureADTokenExchange"] },
            ],
          },
        ],
      },
    ],
  });
  assertion = await issuer.mint({ subject: SUBJECT, audience: "api://AzureADTokenExchange" });
});

afterAll(async () => {
  await entra?.close();
  await issuer?.close();
  await redis?.close();
});

function fleetEnv(
  library: Library | "url",
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    FLEET_LIB: library,
    FLEET_REDIS_URL: redis.url,
    FLEET_ENCRYPTION_KEY: encryptionKey,
    FLEET_AUTHORITY: entra.url,
    FLEET_TENANT: tenantId,
    FLEET_CLIENT: clientId,
    FLEET_SCOPE: SCOPE,
    FLEET_ASSERTION: assertion,
    ...extra,
  };
}

/** The member's result once it exits by itself; one still running after `ms` is killed and fails the test. */
async function exitWithin(member: Member, ms: number): Promise<MemberResult> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), ms);
  });
  const first = await Promise.race([member.result, late]);
  clearTimeout(timer);
  if (first === "late") {
    member.child.kill("SIGKILL");
    throw new Error(`the process did not end by itself within ${ms} ms`);
  }
  return first;
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const giveUpAt = Date.now() + 60_000;
  while (!(await condition())) {
    if (Date.now() > giveUpAt) throw new Error(`timed out waiting for ${what}`);
    await delay(50);
  }
}

describe.each(["redis", "ioredis"] as const)("redisTokenStore with %s", (library) => {
  let client: unknown;
  let raw: Raw;
  const credentials: ClientAssertionCredential[] = [];
  const stores: RedisTokenStore[] = [];

  function credential(scopeStore?: RedisTokenStore): ClientAssertionCredential {
    const tokenStore = scopeStore ?? redisTokenStore({ client, encryptionKey });
    stores.push(tokenStore);
    const created = new ClientAssertionCredential(tenantId, clientId, () => assertion, {
      authorityHost: entra.url,
      retryOptions: { maxRetries: 0 },
      tokenStore,
    });
    credentials.push(created);
    return created;
  }

  beforeAll(async () => {
    ({ client, raw } = await connect(library, redis.url));
  });

  afterAll(async () => {
    await raw?.close();
  });

  beforeEach(async () => {
    await raw.flush();
    entra.reset();
  });

  afterEach(async () => {
    await Promise.all(credentials.splice(0).map((c) => c.close()));
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  it("50 processes, each with its own credential, started at once: exactly 1 token request, every one gets the token", async () => {
    const results = await runFleet(50, fleetEnv(library));
    expect(results.filter((result) => result.exit !== 0)).toEqual([]);
    const tokens = new Set(results.map((result) => result.token));
    expect(tokens.size).toBe(1);
    expect([...tokens][0]).toMatch(/^ey/);
    expect(entra.tokenRequestCount).toBe(1);
  });

  it("the lease holder killed while it waits on a slow Entra: another fetches after the lease, all get a token, at most 2 requests", async () => {
    entra.injectFault({ kind: "delay", delayMs: 30_000 });
    const env = fleetEnv(library, { FLEET_LEASE_MS: "8000" });
    const holder = startMember(env);
    await holder.ready;
    holder.go();
    await until(() => entra.tokenRequestCount === 1, "the holder's token request");
    const others = Array.from({ length: 10 }, () => startMember(env));
    await Promise.all(others.map((member) => member.ready));
    for (const member of others) member.go();
    await delay(200);
    holder.child.kill("SIGKILL");
    expect((await holder.result).exit).toBe("SIGKILL");
    const results = await Promise.all(others.map((member) => member.result));
    expect(results.filter((result) => result.exit !== 0)).toEqual([]);
    expect(new Set(results.map((result) => result.token)).size).toBe(1);
    expect(entra.tokenRequestCount).toBeLessThanOrEqual(2);
    expect(entra.tokenRequestCount).toBe(2);
  });

  it("Redis stopped mid-run: callers keep getting tokens, no unhandled rejection; restarted: sharing resumes", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on("unhandledRejection", onUnhandled);
    try {
      // One store for the process, as an application has: its outage and its recovery.
      const store = redisTokenStore({ client, encryptionKey });
      stores.push(store);
      const first = credential(store);
      const token = await first.getToken(SCOPE);
      expect((await credential(store).getToken(SCOPE)).token).toBe(token.token);
      expect(entra.tokenRequestCount).toBe(1);

      await redis.stop();
      // From process memory.
      expect((await first.getToken(SCOPE)).token).toBe(token.token);
      // From Entra: the store is down, so each new credential asks Entra, and never fails.
      const during = await Promise.all(
        [credential(store), credential(store)].map((c) => c.getToken(SCOPE)),
      );
      expect(during.every((t) => t.token.startsWith("ey"))).toBe(true);
      expect(entra.tokenRequestCount).toBe(3);

      await redis.start();
      // Once the client reconnected and the 5 s bypass ended, a token written is shared again.
      await until(async () => {
        const written = await credential(store).getToken(SCOPE);
        const afterWrite = entra.tokenRequestCount;
        const read = await credential(store).getToken(SCOPE);
        return read.token === written.token && entra.tokenRequestCount === afterWrite;
      }, "sharing to resume");
      expect((await raw.keys()).length).toBeGreaterThan(0);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("every key and value read back raw holds no access token, assertion, tenant or client id; a value moved to another key is a miss", async () => {
    const results = await runFleet(3, fleetEnv(library));
    const token = results[0]?.token ?? "";
    expect(token).toMatch(/^ey/);
    const other = await credential().getToken(OTHER_SCOPE);
    const keys = await raw.keys();
    expect(keys.length).toBeGreaterThanOrEqual(2);
    const secrets = [token, other.token, assertion, tenantId, clientId, SCOPE, OTHER_SCOPE];
    // The token's parts too: a JWT's payload alone would name the tenant and the app.
    secrets.push(...token.split("."), ...other.token.split("."));
    for (const key of keys) {
      expect(key.startsWith("fedcred:")).toBe(true);
      const value = (await raw.get(key)) ?? "";
      const decoded = Buffer.from(value, "base64").toString("latin1");
      for (const secret of secrets.filter((s) => s.length >= 8)) {
        for (const text of [key, value, decoded]) {
          expect(text.toLowerCase()).not.toContain(secret.toLowerCase());
        }
      }
    }
    // Scope A's sealed value copied over scope B's key: it does not open there, so B asks Entra.
    const valueKeys = keys.filter((key) => !key.startsWith("fedcred:lease:"));
    expect(valueKeys).toHaveLength(2);
    const values = await Promise.all(valueKeys.map((key) => raw.get(key)));
    await raw.set(valueKeys[1] as string, values[0] as string);
    await raw.set(valueKeys[0] as string, values[1] as string);
    const before = entra.tokenRequestCount;
    const swappedA = await credential().getToken(SCOPE);
    const swappedB = await credential().getToken(OTHER_SCOPE);
    expect(entra.tokenRequestCount).toBe(before + 2);
    expect(swappedA.token).not.toBe(other.token);
    expect(swappedB.token).not.toBe(token);
  });

  it("no token is served from Redis past its expiry: the key's time to live ends at its refresh time", async () => {
    const shortLived = await startEntra({
      accessTokenLifetimeSeconds: 6,
      tenants: [
        {
          tenantId,
          apps: [
            {
              clientId,
              federatedCredentials: [
                { issuer: issuer.url, subject: SUBJECT, audiences: ["api://AzureADTokenExchange"] },
              ],
            },
          ],
        },
      ],
    });
    try {
      const store = redisTokenStore({ client, encryptionKey });
      stores.push(store);
      // The keys the credential hands the store (the store names them in Redis by an HMAC).
      const keysSet: string[] = [];
      const spied: RedisTokenStore = {
        ...store,
        set: (key, ...rest) => {
          keysSet.push(key);
          return store.set(key, ...rest);
        },
      };
      const make = (): ClientAssertionCredential => {
        const created = new ClientAssertionCredential(tenantId, clientId, () => assertion, {
          authorityHost: shortLived.url,
          tokenStore: spied,
        });
        credentials.push(created);
        return created;
      };
      const startedAt = Date.now();
      const token = await make().getToken(SCOPE);
      const [key] = (await raw.keys()).filter((name) => !name.includes(":lease:"));
      const ttl = await raw.pttl(key as string);
      expect(ttl).toBeGreaterThan(0);
      // The token lives 6 s; it is refreshed after 3 s, served at most until 5.4 s.
      expect(startedAt + ttl).toBeLessThanOrEqual(token.refreshAfterTimestamp ?? 0);
      expect(startedAt + ttl).toBeLessThan(token.expiresOnTimestamp - 600);
      await until(async () => (await raw.get(key as string)) === null, "the key to expire");
      const after = await make().getToken(SCOPE);
      expect(after.token).not.toBe(token.token);
      expect(shortLived.tokenRequestCount).toBe(2);

      // A value written with a long time to live whose token expired is never served.
      const expired = JSON.stringify({
        v: 1,
        token: token.token,
        expiresOnTimestamp: Date.now() - 1000,
        serveUntilTimestamp: Date.now() - 2000,
        refreshAfterTimestamp: Date.now() - 3000,
      });
      const storeKey = keysSet[0] as string;
      expect(key).not.toBe(`fedcred:${storeKey}`);
      await store.set(storeKey, expired, 60_000, { signal: new AbortController().signal });
      expect(await raw.pttl(key as string)).toBeGreaterThan(50_000);
      const fresh = await make().getToken(SCOPE);
      expect(fresh.token).not.toBe(token.token);
      expect(shortLived.tokenRequestCount).toBe(3);
    } finally {
      await shortLived.close();
    }
  });

  it("names keys by an HMAC under the encryption key: a reader of Redis cannot confirm a guessed tenant, client id and scope", async () => {
    const keysSet: string[] = [];
    const store = redisTokenStore({ client, encryptionKey });
    stores.push(store);
    const spied: RedisTokenStore = {
      ...store,
      set: (key, ...rest) => {
        keysSet.push(key);
        return store.set(key, ...rest);
      },
    };
    await credential(spied).getToken(SCOPE);
    const names = (await raw.keys()).filter((name) => !name.includes(":lease:"));
    expect(names).toHaveLength(1);
    // The credential's key (a plain SHA-256 of public facts: anyone can compute it) is not the
    // name; another encryption key names the same token otherwise.
    expect(keysSet).toHaveLength(1);
    expect(names[0]).not.toBe(`fedcred:${keysSet[0]}`);
    expect(names[0]).toMatch(/^fedcred:[A-Za-z0-9_-]{43}$/);
    const other = redisTokenStore({ client, encryptionKey: randomBytes(32) });
    stores.push(other);
    await credential(other).getToken(SCOPE);
    const after = (await raw.keys()).filter((name) => !name.includes(":lease:"));
    expect(after).toHaveLength(2);
    expect(entra.tokenRequestCount).toBe(2);
  });

  it("a value sealed with a retired key still opens; one sealed with an unknown key is a miss", async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const before = redisTokenStore({ client, encryptionKey: oldKey });
    stores.push(before);
    const token = await credential(before).getToken(SCOPE);
    const rotated = redisTokenStore({ client, encryptionKey: [newKey, oldKey] });
    stores.push(rotated);
    expect((await credential(rotated).getToken(SCOPE)).token).toBe(token.token);
    expect(entra.tokenRequestCount).toBe(1);
    const stranger = redisTokenStore({ client, encryptionKey: randomBytes(32) });
    stores.push(stranger);
    expect((await credential(stranger).getToken(SCOPE)).token).not.toBe(token.token);
    expect(entra.tokenRequestCount).toBe(2);
  });
});

describe("redisTokenStore options", () => {
  it("refuses without a client or url, with both, and without an encryption key unless allowUnencrypted", async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ encryptionKey }, /options\.client or options\.url is required/],
      [{ url: redis.url, client: {}, encryptionKey }, /not both/],
      [{ url: redis.url }, /options\.encryptionKey is required/],
      [{ url: redis.url, encryptionKey: randomBytes(16) }, /32 bytes/],
      [{ url: redis.url, encryptionKey: [] }, /empty list/],
      [{ url: redis.url, encryptionKey: Buffer.alloc(32) }, /placeholder/],
      [{ url: redis.url, encryptionKey: [encryptionKey, "f".repeat(64)] }, /\[1\] is 32 copies/],
      [{ url: "http://127.0.0.1:6379", encryptionKey }, /redis:\/\/ or rediss:\/\//],
      [{ client: { get() {}, set() {} }, encryptionKey }, /node-redis 5 client/],
      [{ url: redis.url, encryptionKey, leaseInMs: 0 }, /options\.leaseInMs/],
    ];
    for (const [options, message] of cases) {
      expect(() => redisTokenStore(options as never)).toThrow(CredentialUnavailableError);
      expect(() => redisTokenStore(options as never)).toThrow(message);
    }
    const unencrypted = redisTokenStore({ url: redis.url, allowUnencrypted: true });
    expect(unencrypted.keyPrefix).toBe("fedcred:");
    await unencrypted.close();
  });

  it("never shows the password or the key: not in errors, not in the store's printed form", async () => {
    const password = "s3cret-Passw0rd-xyz";
    const key = randomBytes(32).toString("hex");
    const store = redisTokenStore({
      url: `rediss://fedcred:${password}@127.0.0.1:1/0`,
      encryptionKey: key,
    });
    for (const printed of [inspect(store, { depth: 5, showHidden: true }), JSON.stringify(store)]) {
      expect(printed).not.toContain(password);
      expect(printed).not.toContain(key);
      expect(printed).toContain("***");
    }
    let message = "";
    try {
      redisTokenStore({ url: `http://fedcred:${password}@127.0.0.1:1`, encryptionKey: key });
    } catch (error) {
      message = `${String(error)} ${inspect(error)} ${JSON.stringify(error)}`;
    }
    expect(message).toContain("redis://");
    expect(message).not.toContain(password);
    const short = "c2VjcmV0LWtleS10b28tc2hvcnQ=";
    expect(() => redisTokenStore({ url: redis.url, encryptionKey: short })).toThrow(
      /a string of 28 characters/,
    );
    try {
      redisTokenStore({ url: redis.url, encryptionKey: short });
    } catch (error) {
      expect(inspect(error)).not.toContain(short);
    }
    await store.close();
  });

  it("rediss:// (TLS): node-redis and ioredis clients, and a url store, share one token per fleet", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fedcred-redis-tls-"));
    const authority = await createTlsAuthority();
    const files = {
      certFile: join(dir, "server.pem"),
      keyFile: join(dir, "server.key"),
      caFile: join(dir, "ca.pem"),
    };
    writeFileSync(files.certFile, authority.serverCertificate);
    writeFileSync(files.keyFile, authority.serverKey);
    writeFileSync(files.caFile, authority.caCertificate);
    const tls = await startRedisServer({ tls: files });
    try {
      expect(tls.url).toMatch(/^rediss:\/\//);
      for (const library of ["url", "redis", "ioredis"] as const) {
        entra.reset();
        const results = await runFleet(
          5,
          fleetEnv(library, {
            FLEET_REDIS_URL: tls.url,
            FLEET_OPERATION_TIMEOUT_MS: "20000",
            NODE_EXTRA_CA_CERTS: files.caFile,
            // A prefix per client library: each fleet starts from an empty store.
            FLEET_KEY_PREFIX: `fedcred:${library}:`,
          }),
        );
        expect(results.map((result) => [result.exit, result.error])).toEqual(
          Array.from({ length: 5 }, () => [0, undefined]),
        );
        expect(new Set(results.map((result) => result.token)).size).toBe(1);
        expect(entra.tokenRequestCount, library).toBe(1);
      }
    } finally {
      await tls.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a url store left open does not keep the process alive", async () => {
    const member = startMember(
      fleetEnv("url", { FLEET_KEEP_OPEN: "1", FLEET_OPERATION_TIMEOUT_MS: "20000" }),
    );
    await member.ready;
    member.go();
    // The process ends by itself (the test would time out otherwise), having got its token.
    const result = await member.result;
    expect([result.exit, result.error]).toEqual([0, undefined]);
    expect(result.token).toMatch(/^ey/);
  });

  it("a script awaiting the store itself runs to its end, from ESM and from CommonJS", () => {
    // The client's socket is unref'd (an idle store keeps no process alive); each operation
    // holds the process until it settles, or a health check would end in the middle of a call.
    const dist = fileURLToPath(new URL("../dist/", import.meta.url));
    const body = `
      const store = redisTokenStore({ url: process.env.URL, encryptionKey: process.env.KEY });
      const signal = AbortSignal.timeout(20000);
      const key = "awaited-" + process.pid;
      console.log(String(await store.get(key, { signal })));
      await store.set(key, "value", 60000, { signal });
      console.log(await store.get(key, { signal }));
      console.log(await store.lease(key + "-lease", { signal }));
      await store.close();
      console.log("end");`;
    const scripts = [
      [
        "--input-type=module",
        "-e",
        `import { redisTokenStore } from ${JSON.stringify(`${dist}index.mjs`)};${body}`,
      ],
      [
        "-e",
        `const { redisTokenStore } = require(${JSON.stringify(`${dist}index.cjs`)}); (async () => {${body}})();`,
      ],
    ];
    for (const args of scripts) {
      const run = spawnSync(process.execPath, args, {
        env: { ...process.env, URL: redis.url, KEY: encryptionKey },
        encoding: "utf8",
        timeout: 60_000,
      });
      expect([run.status, run.stdout.trim().split("\n")]).toEqual([
        0,
        ["undefined", "value", "true", "end"],
      ]);
    }
  });

  it("a url store whose Redis is down does not keep the process alive", async () => {
    // A port nobody listens on: the store's client is refused, and must not retry on a timer
    // that holds the process (both libraries' own reconnection does).
    const down = await startRedisServer();
    const downUrl = down.url;
    await down.close();
    const member = startMember(fleetEnv("url", { FLEET_REDIS_URL: downUrl, FLEET_KEEP_OPEN: "1" }));
    await member.ready;
    member.go();
    const result = await exitWithin(member, 30_000);
    // The token came from Entra without the store, and the process ended by itself.
    expect([result.exit, result.error]).toEqual([0, undefined]);
    expect(result.token).toMatch(/^ey/);
  });

  it("a url store where only ioredis is installed connects with ioredis", async () => {
    // A project of its own: the built package, core and ioredis, and no redis (node-redis).
    const dir = mkdtempSync(join(tmpdir(), "fedcred-ioredis-only-"));
    try {
      const packageRoot = fileURLToPath(new URL("..", import.meta.url));
      cpSync(join(packageRoot, "dist"), join(dir, "dist"), { recursive: true });
      mkdirSync(join(dir, "test", "fixtures"), { recursive: true });
      copyFileSync(MEMBER, join(dir, "test", "fixtures", "fleet-member.mjs"));
      mkdirSync(join(dir, "node_modules", "@fedcred"), { recursive: true });
      for (const name of ["@fedcred/core", "ioredis"]) {
        symlinkSync(
          realpathSync(join(packageRoot, "node_modules", name)),
          join(dir, "node_modules", name),
        );
      }
      const script = join(dir, "test", "fixtures", "fleet-member.mjs");
      entra.reset();
      const admin = createClient({ url: redis.url });
      admin.on("error", () => {});
      await admin.connect();
      await admin.flushAll();
      await admin.close();
      const env = fleetEnv("url", { FLEET_OPERATION_TIMEOUT_MS: "20000" });
      const results: MemberResult[] = [];
      for (let i = 0; i < 2; i++) {
        const member = startMember(env, script);
        await member.ready;
        member.go();
        results.push(await member.result);
      }
      expect(results.map((result) => [result.exit, result.error])).toEqual([
        [0, undefined],
        [0, undefined],
      ]);
      expect(results[1]?.token).toBe(results[0]?.token);
      // The second process read the first one's token through ioredis.
      expect(entra.tokenRequestCount).toBe(1);
      const resolveRedis = spawnSync(
        process.execPath,
        ["-e", "import('redis').then(() => process.exit(0), () => process.exit(3))"],
        { cwd: join(dir, "dist") },
      );
      expect(resolveRedis.status).toBe(3);
      // Redis down: ioredis's own reconnection must not keep the process alive either.
      const down = await startRedisServer();
      const downUrl = down.url;
      await down.close();
      const alone = startMember(
        {
          ...env,
          FLEET_REDIS_URL: downUrl,
          FLEET_KEEP_OPEN: "1",
          FLEET_OPERATION_TIMEOUT_MS: "500",
        },
        script,
      );
      await alone.ready;
      alone.go();
      const aloneResult = await exitWithin(alone, 30_000);
      expect([aloneResult.exit, aloneResult.error]).toEqual([0, undefined]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a url store with an ACL user that may run only GET and SET on fedcred:* keys: a fleet of 10 shares one token", async () => {
    const admin = createClient({ url: redis.url });
    admin.on("error", () => {});
    await admin.connect();
    try {
      await admin.flushAll();
      await admin.sendCommand([
        "ACL",
        "SETUSER",
        "fedcred",
        "reset",
        "on",
        ">fleet-password",
        "~fedcred:*",
        "resetchannels",
        "-@all",
        "+get",
        "+set",
      ]);
      entra.reset();
      const url = `redis://fedcred:fleet-password@127.0.0.1:${redis.port}`;
      for (const library of ["url", "redis", "ioredis"] as const) {
        const before = entra.tokenRequestCount;
        await admin.flushAll();
        // A url store loads its client library and connects when it is created, in the
        // background; on a loaded 2-core machine that takes seconds, so the first operation may
        // wait for it.
        const results = await runFleet(
          10,
          fleetEnv(library, { FLEET_REDIS_URL: url, FLEET_OPERATION_TIMEOUT_MS: "20000" }),
        );
        expect(results.filter((result) => result.exit !== 0)).toEqual([]);
        expect(new Set(results.map((result) => result.token)).size).toBe(1);
        expect(entra.tokenRequestCount - before, library).toBe(1);
      }
    } finally {
      await admin.close();
    }
  });
});
