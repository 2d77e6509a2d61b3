import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { AzureLogger, setLogLevel } from "@azure/logger";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ClientAssertionCredential } from "../src/client-assertion-credential.js";
import { CredentialUnavailableError } from "../src/errors.js";
import type { TokenStore, TokenStoreOperationOptions } from "../src/token-store.js";
import {
  CLIENT,
  entraError,
  fakeJwt,
  pollUntil,
  type Reply,
  SCOPE,
  startTokenServer,
  TENANT,
  type TokenServer,
  tokenSuccess,
} from "./token-server.js";

/** A store shared by the credentials of one test, as Redis is shared by a fleet: every call recorded. */
class MemoryStore implements TokenStore {
  readonly entries = new Map<string, { value: string; until: number }>();
  readonly calls: Array<{ op: "get" | "set" | "lease"; key: string; ttl?: number; at: number }> =
    [];
  leaseInMs = 2_000;
  operationTimeoutInMs: number | undefined = undefined;
  /** Replaces every operation when set: a failing, hanging or lying store. */
  fault: ((op: string) => Promise<unknown>) | undefined;

  async get(key: string, _options: TokenStoreOperationOptions): Promise<string | undefined> {
    this.calls.push({ op: "get", key, at: Date.now() });
    if (this.fault) return (await this.fault("get")) as string | undefined;
    const entry = this.entries.get(key);
    return entry !== undefined && entry.until > Date.now() ? entry.value : undefined;
  }

  async set(key: string, value: string, ttl: number): Promise<void> {
    this.calls.push({ op: "set", key, ttl, at: Date.now() });
    if (this.fault) {
      await this.fault("set");
      return;
    }
    this.entries.set(key, { value, until: Date.now() + ttl });
  }

  async lease(key: string): Promise<boolean> {
    this.calls.push({ op: "lease", key, at: Date.now() });
    if (this.fault) return (await this.fault("lease")) as boolean;
    const name = `lease:${key}`;
    const held = this.entries.get(name);
    if (held !== undefined && held.until > Date.now()) return false;
    this.entries.set(name, { value: "held", until: Date.now() + this.leaseInMs });
    return true;
  }

  count(op: "get" | "set" | "lease"): number {
    return this.calls.filter((call) => call.op === op).length;
  }
}

let server: TokenServer;
let store: MemoryStore;
const credentials: ClientAssertionCredential[] = [];
const lines: string[] = [];
const originalLog = AzureLogger.log;

function credential(
  options: { tenantId?: string; clientId?: string; tokenStore?: TokenStore | null } = {},
): ClientAssertionCredential {
  const created = new ClientAssertionCredential(
    options.tenantId ?? TENANT,
    options.clientId ?? CLIENT,
    () => fakeJwt({ sub: "workload" }),
    {
      authorityHost: server.authorityHost,
      retryOptions: { maxRetries: 0 },
      tokenStore: options.tokenStore === null ? undefined : (options.tokenStore ?? store),
    },
  );
  credentials.push(created);
  return created;
}

beforeAll(async () => {
  server = await startTokenServer();
  AzureLogger.log = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  setLogLevel("info");
});

afterAll(async () => {
  AzureLogger.log = originalLog;
  setLogLevel(undefined as never);
  await server.close();
});

beforeEach(() => {
  server.requests.length = 0;
  server.replies.length = 0;
  server.expiresIn = 3599;
  store = new MemoryStore();
  lines.length = 0;
});

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(credentials.splice(0).map((c) => c.close()));
});

const storeWarnings = (): string[] =>
  lines.filter((line) => line.includes("warning") && line.includes("token store"));

describe("a token store behind the in-process cache", () => {
  it("shares a token between credentials: the second one sends no token request", async () => {
    const first = await credential().getToken(SCOPE);
    expect(server.requests).toHaveLength(1);
    const second = await credential().getToken(SCOPE);
    expect(server.requests).toHaveLength(1);
    expect(second.token).toBe(first.token);
    expect(second.expiresOnTimestamp).toBe(first.expiresOnTimestamp);
    expect(second.refreshAfterTimestamp).toBe(first.refreshAfterTimestamp);
    // Asked the store before Entra, took the lease, read once more, wrote the token.
    expect(store.calls.slice(0, 4).map((call) => call.op)).toEqual(["get", "lease", "get", "set"]);
    const [key] = [...store.entries.keys()].filter((name) => !name.startsWith("lease:"));
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(key).not.toContain(TENANT);
  });

  it("writes the token with a time to live that ends at its refresh time, before its expiry less the margin", async () => {
    const startedAt = Date.now();
    const token = await credential().getToken(SCOPE);
    const ttl = store.calls.find((call) => call.op === "set")?.ttl ?? Number.NaN;
    expect(ttl).toBeGreaterThan(3_000_000);
    expect(startedAt + ttl).toBeLessThanOrEqual(token.refreshAfterTimestamp ?? 0);
    expect(startedAt + ttl).toBeLessThanOrEqual(token.expiresOnTimestamp - 30_000);
  });

  it("never touches the store on an in-process hit", async () => {
    const cred = credential();
    await cred.getToken(SCOPE);
    const calls = store.calls.length;
    for (let i = 0; i < 1000; i++) await cred.getToken(SCOPE);
    await cred.getToken([SCOPE]);
    expect(store.calls.length).toBe(calls);
  });

  it("caches a token read from the store in process", async () => {
    await credential().getToken(SCOPE);
    const reader = credential();
    await reader.getToken(SCOPE);
    const calls = store.calls.length;
    await reader.getToken(SCOPE);
    expect(store.calls.length).toBe(calls);
  });

  it("keys by authority host, case-folded tenant, client id, sorted scopes and CAE mode", async () => {
    await credential().getToken(SCOPE);
    await credential({ tenantId: TENANT.toUpperCase() }).getToken(SCOPE);
    expect(server.requests).toHaveLength(1);
    await credential({ clientId: "99999999-2222-3333-4444-555555555555" }).getToken(SCOPE);
    expect(server.requests).toHaveLength(2);
    await credential().getToken(SCOPE, { enableCae: true });
    expect(server.requests).toHaveLength(3);
    expect(server.requests[2]?.form.claims).toContain("cp1");
    await credential().getToken(SCOPE, { enableCae: true });
    expect(server.requests).toHaveLength(3);
    await credential().getToken(["b/.default", "a/.default"]);
    await credential().getToken(["a/.default", "b/.default"]);
    expect(server.requests).toHaveLength(4);
    const keys = new Set(store.calls.filter((c) => c.op === "set").map((c) => c.key));
    expect(keys.size).toBe(4);
  });

  it("a background refresh takes the fleet's newer token from the store, and stops there", async () => {
    // Faked clocks: a loaded machine's late timers cannot carry the token past its margin.
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    server.expiresIn = 4;
    const a = credential();
    const b = credential();
    const first = await a.getToken(SCOPE);
    expect((await b.getToken(SCOPE)).token).toBe(first.token);
    vi.advanceTimersByTime((first.refreshAfterTimestamp ?? 0) - Date.now() + 100);
    // Both serve the cached token at once and refresh behind it: one from Entra, one from the store.
    const sets = (): number => store.calls.filter((call) => call.op === "set").length;
    expect((await a.getToken(SCOPE)).token).toBe(first.token);
    await until(() => sets() === 2);
    expect((await b.getToken(SCOPE)).token).toBe(first.token);
    // Until b's refresh has taken the store's token.
    await pollUntil(async () => (await b.getToken(SCOPE)).token !== first.token);
    const renewedA = await a.getToken(SCOPE);
    const renewedB = await b.getToken(SCOPE);
    expect(renewedA.token).not.toBe(first.token);
    expect(renewedB.token).toBe(renewedA.token);
    expect(server.requests).toHaveLength(2);
    const calls = store.calls.length;
    for (let i = 0; i < 100; i++) await b.getToken(SCOPE);
    expect(store.calls.length).toBe(calls);
  });

  it("never shares a claims-challenge token: the store is not asked and not written", async () => {
    const claims = '{"access_token":{"nbf":{"essential":true,"value":"1"}}}';
    await credential().getToken(SCOPE, { claims });
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.form.claims).toBeDefined();
    expect(store.calls).toEqual([]);
  });

  it("single flight across credentials: callers of two credentials at once cause one request", async () => {
    server.replies.push({ ...(tokenSuccess("slow-token") as object), delayMs: 300 } as Reply);
    const a = credential();
    const b = credential();
    const tokens = await Promise.all([
      ...Array.from({ length: 5 }, () => a.getToken(SCOPE)),
      ...Array.from({ length: 5 }, () => b.getToken(SCOPE)),
    ]);
    expect(server.requests).toHaveLength(1);
    expect(new Set(tokens.map((t) => t.token))).toEqual(new Set(["slow-token"]));
    // One lease won, the other credential polled the store until the token appeared.
    expect(store.count("lease")).toBeGreaterThanOrEqual(2);
  });

  it("a lease won just after its holder wrote the token and ended it: the token is read, not fetched", async () => {
    // Another process's token, in the store under the same key.
    await credential().getToken(SCOPE);
    const key = store.calls.find((call) => call.op === "set")?.key ?? "";
    const written = store.entries.get(key);
    server.requests.length = 0;
    // This process's first read comes just before that write lands and the lease ends.
    store.entries.delete(key);
    store.entries.delete(`lease:${key}`);
    const get = store.get.bind(store);
    let first = true;
    store.get = async (name, options) => {
      const value = await get(name, options);
      if (first && written !== undefined) store.entries.set(key, written);
      first = false;
      return value;
    };
    const token = await credential().getToken(SCOPE);
    expect(server.requests).toHaveLength(0);
    expect(token.token).toBe(JSON.parse(written?.value ?? "{}").token);
    expect(store.calls.slice(-3).map((call) => call.op)).toEqual(["get", "lease", "get"]);
  });

  it("a holder that never writes blocks the others only until its lease ends", async () => {
    store.leaseInMs = 400;
    const key = await storeKeyOf();
    // A holder took the lease and died.
    store.entries.set(`lease:${key}`, { value: "held", until: Date.now() + 400 });
    const token = await credential().getToken(SCOPE);
    expect(token.token).toMatch(/^access-token-/);
    expect(server.requests).toHaveLength(1);
    expect(store.count("lease")).toBeGreaterThan(1);
  });

  it("a holder whose token request fails: the processes waiting on its lease ask Entra at once, not after the lease", async () => {
    // A lease far longer than the test may run: waiting it out would time the test out.
    store.leaseInMs = 600_000;
    server.replies.push({
      ...(entraError(400, "invalid_client", 700016, "Application not found.") as object),
      delayMs: 300,
    } as Reply);
    const holder = credential();
    const waiter = credential();
    const held = holder.getToken(SCOPE);
    // The holder's request is on its way: the waiter finds the lease taken and polls.
    await until(() => server.requests.length === 1);
    const waited = waiter.getToken(SCOPE);
    await expect(held).rejects.toMatchObject({ code: "token_request_rejected" });
    const token = await waited;
    expect(token.token).toMatch(/^access-token-/);
    expect(server.requests).toHaveLength(2);
    // The lease was still held when the waiter asked Entra: it learned of the failure from the
    // store, not from the lease's end.
    const key = await storeKeyOf();
    expect(store.entries.get(`lease:${key}`)?.until ?? 0).toBeGreaterThan(Date.now() + 60_000);
    const leasesTaken = store.calls.filter((call) => call.op === "lease").length;
    expect(leasesTaken).toBeGreaterThanOrEqual(2);
  });

  it("a process arriving just after a failed request asks Entra without waiting on the lease", async () => {
    store.leaseInMs = 600_000;
    server.replies.push(entraError(400, "invalid_client", 700016, "Application not found."));
    await expect(credential().getToken(SCOPE)).rejects.toMatchObject({
      code: "token_request_rejected",
    });
    // The failure's mark is written in the background.
    await until(() => store.count("set") === 1);
    const token = await credential().getToken(SCOPE);
    expect(token.token).toMatch(/^access-token-/);
    expect(server.requests).toHaveLength(2);
    // The mark is no garbage: nothing was reported.
    expect(storeWarnings()).toEqual([]);
  });

  it("an abort while waiting for another holder rejects with AbortError and sends nothing", async () => {
    const key = await storeKeyOf();
    store.entries.set(`lease:${key}`, { value: "held", until: Date.now() + 60_000 });
    store.leaseInMs = 60_000;
    const controller = new AbortController();
    const pending = credential().getToken(SCOPE, { abortSignal: controller.signal });
    await delay(100);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    expect(server.requests).toHaveLength(0);
  });

  it("a value past its expiry, or past its refresh time, is a miss", async () => {
    await credential().getToken(SCOPE);
    const key = store.calls.find((call) => call.op === "set")?.key ?? "";
    const value = JSON.parse(store.entries.get(key)?.value ?? "{}");
    for (const stale of [
      {
        ...value,
        expiresOnTimestamp: Date.now() - 1,
        serveUntilTimestamp: Date.now() - 2,
        refreshAfterTimestamp: Date.now() - 3,
      },
      { ...value, refreshAfterTimestamp: Date.now() - 1 },
    ]) {
      store.entries.set(key, { value: JSON.stringify(stale), until: Date.now() + 60_000 });
      store.entries.delete(`lease:${key}`);
      const before = server.requests.length;
      const token = await credential().getToken(SCOPE);
      expect(server.requests.length).toBe(before + 1);
      expect(token.token).not.toBe(value.token);
    }
  });

  it("garbage from the store is a miss, logged once; the token from Entra replaces it", async () => {
    const key = await storeKeyOf();
    store.entries.set(key, { value: "not json", until: Date.now() + 60_000 });
    const token = await credential().getToken(SCOPE);
    expect(server.requests).toHaveLength(1);
    expect(JSON.parse(store.entries.get(key)?.value ?? "{}").token).toBe(token.token);
    for (const garbage of ['{"v":1,"token":"a b"}', "[]", "null"]) {
      store.entries.set(key, { value: garbage, until: Date.now() + 60_000 });
      store.entries.delete(`lease:${key}`);
      await credential().getToken(SCOPE);
    }
    expect(server.requests).toHaveLength(4);
    expect(lines.filter((line) => line.includes("not a stored token"))).toHaveLength(1);
  });

  it("a failing store never fails a caller: Entra answers, one warning per outage, then the store is used again", async () => {
    store.fault = async () => {
      throw new Error("ECONNREFUSED 127.0.0.1:6379");
    };
    const tokens = await Promise.all(
      [credential(), credential(), credential()].map((c) => c.getToken(SCOPE)),
    );
    expect(tokens.every((t) => t.token.startsWith("access-token-"))).toBe(true);
    expect(server.requests).toHaveLength(3);
    expect(storeWarnings()).toHaveLength(1);
    expect(storeWarnings()[0]).toContain("ECONNREFUSED");
    // Bypassed after the failure: later misses do not ask the store at all.
    const calls = store.calls.length;
    await credential().getToken(SCOPE);
    expect(store.calls.length).toBe(calls);
    // After the bypass the store is asked again and shares tokens again.
    store.fault = undefined;
    await delay(5_200);
    const resumed = await credential().getToken(SCOPE);
    const shared = await credential().getToken(SCOPE);
    expect(server.requests).toHaveLength(5);
    expect(shared.token).toBe(resumed.token);
    expect(lines.some((line) => line.includes("token store answers again"))).toBe(true);
    expect(storeWarnings()).toHaveLength(1);
  });

  it("a store that answered in time is not timed out by a busy event loop: the answer waiting to be read wins", async () => {
    // A store whose answers come over a socket from another process (as Redis's do), so they
    // arrive while this process is busy.
    // It touches a marker file once it has echoed, so the busy loop below knows the answer is
    // waiting on the socket however slowly a loaded machine ran the other process.
    const echoed = join(tmpdir(), `fedcred-echoed-${process.pid}-${Date.now()}`);
    const echo = spawn(
      process.execPath,
      [
        "-e",
        "const s=require('node:net').createServer(c=>c.on('data',d=>{c.write(d);require('node:fs').writeFileSync(process.argv[1],'')})).listen(0,'127.0.0.1',()=>console.log(s.address().port))",
        echoed,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      const [line] = (await once(echo.stdout, "data")) as [Buffer];
      const socket = connect(Number(line.toString("utf8").trim()), "127.0.0.1");
      await once(socket, "connect");
      const get = store.get.bind(store);
      let sent = false;
      store.get = async (key, options) => {
        const value = await get(key, options);
        socket.write("x");
        sent = true;
        await once(socket, "data");
        return value;
      };
      store.operationTimeoutInMs = 100;
      const first = await credential().getToken(SCOPE);
      expect(server.requests).toHaveLength(1);
      const pending = credential().getToken(SCOPE);
      // The get is on its way (sent once pending work ran); then this process is busy for three
      // times the operation's timeout, as a starting process or a long synchronous task is.
      await new Promise((resolve) => setImmediate(resolve));
      if (!sent) await vi.waitFor(() => expect(sent).toBe(true), { timeout: 10_000, interval: 1 });
      const busyUntil = Date.now() + 300;
      const giveUpAt = Date.now() + 10_000;
      while ((Date.now() < busyUntil || !existsSync(echoed)) && Date.now() < giveUpAt) {
        // busy
      }
      expect(existsSync(echoed)).toBe(true);
      const second = await pending;
      expect(second.token).toBe(first.token);
      expect(server.requests).toHaveLength(1);
      expect(storeWarnings()).toEqual([]);
      socket.destroy();
    } finally {
      echo.kill();
      rmSync(echoed, { force: true });
    }
  });

  it("a store that hangs costs each operation its timeout, then the caller gets Entra's token", async () => {
    store.operationTimeoutInMs = 50;
    // The store's first operation in this process answers (it gets longer: see the next test).
    const made = credential();
    await made.getToken("https://other.example/.default");
    store.fault = () => new Promise(() => {});
    const token = await made.getToken(SCOPE);
    expect(token.token).toMatch(/^access-token-/);
    expect(server.requests).toHaveLength(2);
    expect(storeWarnings()[0]).toContain("did not answer within 50 ms");
  });

  it("a store's first operation in a process gets at least 3 s (it waits for the connection too): a slow connection still shares the fleet's token", async () => {
    store.operationTimeoutInMs = 50;
    // Another process's token in the store.
    const shared = new MemoryStore();
    shared.operationTimeoutInMs = 50;
    const other = new MemoryStore();
    const written = await credential({ tokenStore: other }).getToken(SCOPE);
    const [key, value] = [...other.entries].find(([name]) => !name.startsWith("lease:")) ?? [];
    shared.entries.set(key as string, value as { value: string; until: number });
    server.requests.length = 0;
    // Connecting takes longer than one operation may, once.
    let connected = false;
    const get = shared.get.bind(shared);
    shared.get = async (name, options) => {
      if (!connected) {
        await delay(400);
        connected = true;
      }
      return get(name, options);
    };
    const token = await credential({ tokenStore: shared }).getToken(SCOPE);
    expect(server.requests).toHaveLength(0);
    expect(token.token).toBe(written.token);
    expect(storeWarnings()).toEqual([]);
    // Later operations get the timeout: a store as slow as that is bypassed.
    shared.fault = () => delay(400);
    await credential({ tokenStore: shared }).getToken("https://other.example/.default");
    expect(storeWarnings()[0]).toContain("did not answer within 50 ms");
  });

  it("refuses a tokenStore that is not one, naming the option", () => {
    for (const bad of [{}, { get() {}, set() {}, lease() {} }, "redis://x"]) {
      expect(() => credential({ tokenStore: bad as unknown as TokenStore })).toThrow(
        CredentialUnavailableError,
      );
    }
    expect(() => credential({ tokenStore: { get() {}, set() {}, lease() {} } as never })).toThrow(
      /options\.tokenStore\.leaseInMs/,
    );
  });
});

/** The store key of the test's tenant, client and scope: what the credential writes. */
async function until(condition: () => boolean): Promise<void> {
  const giveUpAt = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error("timed out waiting for a condition");
    await delay(10);
  }
}

async function storeKeyOf(): Promise<string> {
  const probe = new MemoryStore();
  await credential({ tokenStore: probe }).getToken(SCOPE);
  server.requests.length = 0;
  return probe.calls.find((call) => call.op === "set")?.key ?? "";
}
