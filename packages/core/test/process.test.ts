import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ClientAssertionCredential, type FetchLike } from "../src/index.js";
import {
  CLIENT,
  fakeJwt,
  SCOPE,
  startTokenServer,
  TENANT,
  type TokenServer,
} from "./token-server.js";

const ASSERTION = fakeJwt({ iss: "https://issuer.example", sub: "s", exp: 4_000_000_000 });
const DIST = fileURLToPath(new URL("../dist/index.mjs", import.meta.url));

/**
 * How soon a process must exit after its last line: what would keep it alive here is a 20 s
 * retry delay or a request that never ends (killed at 20 s), so 8 s tells them apart with room
 * for a loaded 2-core machine, where a child's exit alone has taken over 3 s.
 */
const EXIT_WITHIN_MS = 8_000;

let server: TokenServer;

beforeEach(async () => {
  server = await startTokenServer();
});

afterEach(async () => {
  vi.useRealTimers();
  await server.close();
});

/**
 * Runs a child process that gets a token, lets it come due for refresh, triggers the background
 * refresh, and ends its own work; resolves with how long it lived after saying "done".
 */
function runChild(authorityHost: string): Promise<{ code: number | null; afterDoneMs: number }> {
  const script = `
    import { ClientAssertionCredential } from ${JSON.stringify(DIST)};
    const credential = new ClientAssertionCredential(${JSON.stringify(TENANT)}, ${JSON.stringify(CLIENT)}, () => ${JSON.stringify(ASSERTION)}, {
      authorityHost: ${JSON.stringify(authorityHost)},
      retryOptions: { maxRetries: 3, retryDelayInMs: 20000, maxRetryDelayInMs: 60000 },
    });
    await credential.getToken(${JSON.stringify(SCOPE)});
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await credential.getToken(${JSON.stringify(SCOPE)}); // refresh due: starts it in the background
    await new Promise((resolve) => setTimeout(resolve, 300));
    console.log("done");
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let doneAt = 0;
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("done")) doneAt = Date.now();
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(killer);
      resolve({ code, afterDoneMs: doneAt === 0 ? Number.POSITIVE_INFINITY : Date.now() - doneAt });
    });
  });
}

describe.skipIf(!existsSync(DIST))("the process exits when its own work is done", () => {
  it("while a background refresh waits out a Retry-After", async () => {
    server.refreshIn = 1;
    server.replies.push(
      {
        status: 200,
        body: { token_type: "Bearer", expires_in: 3600, refresh_in: 1, access_token: "first" },
      },
      ...Array.from({ length: 4 }, () => ({
        status: 429,
        body: "",
        headers: { "retry-after": "30" },
      })),
    );
    const { code, afterDoneMs } = await runChild(server.authorityHost);
    expect(code).toBe(0);
    expect(afterDoneMs).toBeLessThan(EXIT_WITHIN_MS);
    expect(server.requests.length).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it("while a background refresh waits for an endpoint that never answers", async () => {
    server.replies.push(
      {
        status: 200,
        body: { token_type: "Bearer", expires_in: 3600, refresh_in: 1, access_token: "first" },
      },
      { hang: true },
    );
    const { code, afterDoneMs } = await runChild(server.authorityHost);
    expect(code).toBe(0);
    expect(afterDoneMs).toBeLessThan(EXIT_WITHIN_MS);
    expect(server.requests).toHaveLength(2);
  }, 30_000);
});

describe.skipIf(!existsSync(DIST))("the built logger", () => {
  const run = (args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, args, {
        cwd: fileURLToPath(new URL("..", import.meta.url)),
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
      });
      child.on("error", reject);
      child.on("exit", () => resolve(out));
    });
  const construct = (module: string): string => `
    const credential = new ${module}.ClientAssertionCredential(${JSON.stringify(TENANT)}, ${JSON.stringify(CLIENT)}, () => "a.b.c", {
      authorityHost: "https://login.microsoftonline.com",
      allowInsecureConnection: true,
    });`;

  it("reaches the @azure/logger a CommonJS application configures, at once", async () => {
    const out = await run([
      "-e",
      `const { AzureLogger, setLogLevel } = require("@azure/logger");
       setLogLevel("warning");
       AzureLogger.log = (...args) => console.log("LOG", ...args);
       const core = require(${JSON.stringify(DIST.replace(/\.mjs$/, ".cjs"))});
       ${construct("core")}
       console.log("constructed");`,
    ]);
    expect(out).toMatch(
      /LOG azure:fedcred:warning options\.allowInsecureConnection has no effect[\s\S]*constructed/,
    );
  });

  it("prints an ES module application's lines before it exits in its catch", async () => {
    const out = await run([
      "--input-type=module",
      "-e",
      `import { AzureLogger, setLogLevel } from "@azure/logger";
       import * as core from ${JSON.stringify(DIST)};
       setLogLevel("info");
       AzureLogger.log = (...args) => console.log("LOG", ...args);
       const credential = new core.ClientAssertionCredential(${JSON.stringify(TENANT)}, ${JSON.stringify(CLIENT)}, () => "a.b.c", {
         authorityHost: "http://127.0.0.1:9", retryOptions: { maxRetries: 0 },
       });
       try {
         await credential.getToken(${JSON.stringify(SCOPE)});
       } catch (error) {
         console.log("APP failed:", error.code);
         process.exit(1);
       }`,
    ]);
    expect(out).toMatch(
      /LOG azure:fedcred:info token request [^\n]*failed[\s\S]*APP failed: token_request_failed/,
    );
  });

  it("reaches the @azure/logger an ES module application configures, once it has loaded", async () => {
    const out = await run([
      "--input-type=module",
      "-e",
      `import { AzureLogger, setLogLevel } from "@azure/logger";
       import * as core from ${JSON.stringify(DIST)};
       setLogLevel("warning");
       AzureLogger.log = (...args) => console.log("LOG", ...args);
       ${construct("core")}
       await new Promise((resolve) => setImmediate(resolve));
       console.log("later");`,
    ]);
    expect(out).toMatch(
      /LOG azure:fedcred:warning options\.allowInsecureConnection has no effect[\s\S]*later/,
    );
  });
});

function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  gc();
}

/** A fetch that answers every token request at once, so thousands of tokens cost no sockets. */
const instantFetch: FetchLike = async () =>
  new Response(
    JSON.stringify({ token_type: "Bearer", expires_in: 60, access_token: `t${Math.random()}` }),
    { status: 200, headers: { "content-type": "application/json" } },
  );

/** A credential on {@link instantFetch} that counts its token requests. */
function countingCredential(maxCacheEntries: number): {
  cred: ClientAssertionCredential;
  requests: () => number;
} {
  let requests = 0;
  const cred = new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION, {
    fetch: (url, init) => {
      requests++;
      return instantFetch(url, init);
    },
    maxCacheEntries,
    authorityHost: "https://login.microsoftonline.com",
  });
  return { cred, requests: () => requests };
}

describe("the cache's memory", () => {
  beforeAll(async () => {
    // The first log line loads @azure/logger: let that happen before the heap is measured.
    const { cred } = countingCredential(10);
    await cred.getToken(SCOPE);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await cred.close();
  });

  it("evicts expired entries, and records the heap per cached key", async () => {
    vi.useFakeTimers({ toFake: ["Date", "performance", "setInterval", "clearInterval"] });
    const cred = new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION, {
      fetch: instantFetch,
      authorityHost: "https://login.microsoftonline.com",
      maxCacheEntries: 50_000,
    });
    const keys = 20_000;
    await cred.getToken("api://warm-up/.default"); // loads fetch and the transport first
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < keys; i += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, j) => cred.getToken(`api://app-${i + j}/.default`)),
      );
    }
    collectGarbage();
    const filled = process.memoryUsage().heapUsed;
    const perKey = (filled - before) / keys;
    console.log(`heap per cached key: ${Math.round(perKey)} bytes (${keys} keys)`);
    expect(perKey).toBeGreaterThan(0);
    vi.advanceTimersByTime(120_000); // every token expired; the sweep timer ran
    collectGarbage();
    const swept = process.memoryUsage().heapUsed;
    console.log(`heap after expiry: ${Math.round((swept - before) / 1024)} KiB above the start`);
    expect(swept - before).toBeLessThan((filled - before) / 4);
    await cred.close();
  }, 60_000);

  it("sweeps ended cool-downs even when no token was ever stored", async () => {
    vi.useFakeTimers({ toFake: ["Date", "performance", "setInterval", "clearInterval"] });
    const failing: FetchLike = async () => new Response("down", { status: 503 });
    const cred = new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION, {
      fetch: failing,
      authorityHost: "https://login.microsoftonline.com",
      retryOptions: { maxRetries: 0 },
      maxCacheEntries: 50_000,
    });
    await cred.getToken("api://warm-up/.default").catch(() => undefined);
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    const keys = 20_000;
    for (let i = 0; i < keys; i += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, j) =>
          cred.getToken(`api://app-${i + j}/.default`).catch(() => undefined),
        ),
      );
    }
    collectGarbage();
    const paused = process.memoryUsage().heapUsed;
    console.log(
      `heap per paused key: ${Math.round((paused - before) / keys)} bytes (${keys} keys)`,
    );
    vi.advanceTimersByTime(61_000); // every 5 s cool-down ended; the sweep timer ran
    collectGarbage();
    const swept = process.memoryUsage().heapUsed;
    expect(swept - before).toBeLessThan((paused - before) / 4);
    await cred.close();
  }, 60_000);

  it("keeps at most maxCacheEntries tokens", async () => {
    const { cred, requests } = countingCredential(100);
    for (let i = 0; i < 1000; i++) await cred.getToken(`api://app-${i}/.default`);
    expect(requests()).toBe(1000);
    // The 90 most recent are still cached; the first ones were evicted long ago.
    for (let i = 910; i < 1000; i++) await cred.getToken(`api://app-${i}/.default`);
    expect(requests()).toBe(1000);
    await cred.getToken("api://app-0/.default");
    expect(requests()).toBe(1001);
    await cred.close();
  });

  it("bounds the cache, evicting the least recently used entry first", async () => {
    const { cred, requests } = countingCredential(3);
    const [a, b, c, d] = [
      "api://a/.default",
      "api://b/.default",
      "api://c/.default",
      "api://d/.default",
    ];
    for (const scope of [a, b, c]) await cred.getToken(scope as string);
    await cred.getToken(a as string); // a is now more recent than b
    await cred.getToken(d as string); // evicts b
    expect(requests()).toBe(4);
    for (const scope of [a, c, d]) await cred.getToken(scope as string);
    expect(requests()).toBe(4);
    await cred.getToken(b as string);
    expect(requests()).toBe(5);
    await cred.close();
  });
});
