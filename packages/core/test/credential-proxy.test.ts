import { spawn } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Server } from "node:https";
import { type AddressInfo, connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { createTlsAuthority, type TlsAuthority } from "@fedcred/emulator";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  AuthenticationError,
  ClientAssertionCredential,
  type ClientAssertionCredentialOptions,
} from "../src/index.js";
import { type ConnectProxy, startConnectProxy } from "./support/connect-proxy.js";
import { CLIENT, fakeJwt, SCOPE, TENANT } from "./token-server.js";

/** A made-up host no resolver answers: the token request can reach it only through the proxy. */
const AUTHORITY = "https://login.test.invalid";
const ASSERTION = fakeJwt({ iss: "https://issuer.example", sub: "s", exp: 4_000_000_000 });
const PROXY_ENV = [
  "HTTPS_PROXY",
  "https_proxy",
  "ALL_PROXY",
  "all_proxy",
  "HTTP_PROXY",
  "http_proxy",
  "NO_PROXY",
  "no_proxy",
];

let authority: TlsAuthority;
/** When set, Entra's answers carry this refresh_in. */
let refreshIn: number | undefined;
/** When set, Entra answers no request from this one on (1-based). */
let hangFrom: number | undefined;
const DIST = fileURLToPath(new URL("../dist/index.mjs", import.meta.url));
let entra: Server;
let entraPort: number;
const seen: Array<{ path: string; host: string | undefined; form: URLSearchParams }> = [];
const closers: Array<() => Promise<void>> = [];
const savedEnv = new Map<string, string | undefined>();

beforeAll(async () => {
  authority = await createTlsAuthority("credential proxy test CA", ["login.test.invalid"]);
  entra = createServer(
    { cert: authority.serverCertificate, key: authority.serverKey },
    (request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on("end", () => {
        seen.push({
          path: request.url ?? "",
          host: request.headers.host,
          form: new URLSearchParams(body),
        });
        if (hangFrom !== undefined && seen.length >= hangFrom) return; // never answers
        // A tunnel per request: a refresh has to open one of its own.
        response.writeHead(200, { "content-type": "application/json", connection: "close" });
        response.end(
          JSON.stringify({
            token_type: "Bearer",
            expires_in: 3599,
            access_token: `via-proxy-${seen.length}`,
            ...(refreshIn === undefined ? {} : { refresh_in: refreshIn }),
          }),
        );
      });
    },
  );
  await new Promise<void>((resolve) => entra.listen(0, "127.0.0.1", resolve));
  entraPort = (entra.address() as AddressInfo).port;
  return () =>
    new Promise<void>((resolve) => {
      entra.closeAllConnections();
      entra.close(() => resolve());
    });
});

afterEach(async () => {
  refreshIn = undefined;
  hangFrom = undefined;
  for (const close of closers.splice(0).reverse()) await close();
  for (const [name, value] of savedEnv) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  savedEnv.clear();
  seen.length = 0;
});

function setEnv(values: Record<string, string>): void {
  for (const name of PROXY_ENV) {
    if (!savedEnv.has(name)) savedEnv.set(name, process.env[name]);
    delete process.env[name];
  }
  Object.assign(process.env, values);
}

async function proxy(credentials?: { username: string; password: string }): Promise<ConnectProxy> {
  const started = await startConnectProxy({
    targetPort: entraPort,
    ...(credentials ? { credentials } : {}),
  });
  closers.push(() => started.close());
  return started;
}

function credential(options: ClientAssertionCredentialOptions = {}): ClientAssertionCredential {
  const created = new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION, {
    authorityHost: AUTHORITY,
    tlsOptions: { ca: authority.caCertificate },
    retryOptions: { maxRetries: 1, retryDelayInMs: 1 },
    ...options,
  });
  closers.push(() => created.close());
  return created;
}

/** A proxy that answers the first `answered` CONNECTs (to Entra) and then `later` each following one. */
async function flakyProxy(
  later: "silent" | "close",
  answered = 1,
): Promise<{ port: number; connects: () => number }> {
  let connects = 0;
  const tunnels = new Set<Socket>();
  const server = createHttpServer();
  server.on("connect", (_request, client: Socket, head: Buffer) => {
    tunnels.add(client);
    client.on("error", () => {});
    if (++connects > answered) {
      if (later === "close") client.end();
      return;
    }
    const upstream = connect(entraPort, "127.0.0.1", () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const tunnel of tunnels) tunnel.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as AddressInfo).port, connects: () => connects };
}

describe("a proxy that misbehaves", () => {
  it("one CONNECT per attempt when the proxy closes each tunnel request unanswered", async () => {
    setEnv({});
    const proxy = await flakyProxy("close");
    const cred = credential({
      proxyOptions: { host: "http://127.0.0.1", port: proxy.port },
      retryOptions: { maxRetries: 2, retryDelayInMs: 50 },
    });
    await cred.getToken(SCOPE); // the first tunnel works
    await cred.close();
    const fresh = credential({
      proxyOptions: { host: "http://127.0.0.1", port: proxy.port },
      retryOptions: { maxRetries: 2, retryDelayInMs: 50 },
    });
    const error = (await fresh.getToken(SCOPE).catch((e: unknown) => e)) as AuthenticationError;
    expect(error.code).toBe("token_request_failed");
    expect(error.message).toMatch(/\(3 attempts\)/);
    expect(proxy.connects()).toBe(1 + 3);
  });

  it("settles at requestTimeoutInMs, and at the caller's abort, while a proxy never answers CONNECT", async () => {
    setEnv({});
    const proxy = await flakyProxy("silent", 0);
    const cred = credential({
      proxyOptions: { host: "http://127.0.0.1", port: proxy.port },
      requestTimeoutInMs: 300,
      retryOptions: { maxRetries: 0 },
    });
    const started = Date.now();
    const error = (await cred.getToken(SCOPE).catch((e: unknown) => e)) as AuthenticationError;
    expect(error.code).toBe("token_request_failed");
    expect(error.message).toMatch(/timed out after 300 ms/);
    // Well under the 30 s the silent proxy would hold it; room for a loaded machine.
    expect(Date.now() - started).toBeLessThan(5000);
    const controller = new AbortController();
    const pending = credential({
      proxyOptions: { host: "http://127.0.0.1", port: proxy.port },
    }).getToken(SCOPE, { abortSignal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const abortedAt = Date.now();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    // Well under the 30 s the silent proxy would hold it; generous for a loaded CI machine.
    expect(Date.now() - abortedAt).toBeLessThan(5000);
  });

  for (const later of ["silent", "close", "an endpoint that never answers"] as const) {
    it(`lets the process exit while a background refresh waits on ${later === "an endpoint that never answers" ? later : `a ${later} proxy`}`, async () => {
      setEnv({});
      const proxy =
        later === "an endpoint that never answers"
          ? await flakyProxy("close", Number.POSITIVE_INFINITY)
          : await flakyProxy(later);
      if (later === "an endpoint that never answers") hangFrom = 2;
      const script = `
        import { ClientAssertionCredential } from ${JSON.stringify(DIST)};
        const credential = new ClientAssertionCredential(${JSON.stringify(TENANT)}, ${JSON.stringify(CLIENT)}, () => ${JSON.stringify(ASSERTION)}, {
          authorityHost: ${JSON.stringify(AUTHORITY)},
          tlsOptions: { ca: ${JSON.stringify(authority.caCertificate)} },
          proxyOptions: { host: "http://127.0.0.1", port: ${proxy.port} },
          retryOptions: { maxRetries: 3, retryDelayInMs: 20000 },
        });
        await credential.getToken(${JSON.stringify(SCOPE)});
        await new Promise((resolve) => setTimeout(resolve, 1200));
        await credential.getToken(${JSON.stringify(SCOPE)});
        await new Promise((resolve) => setTimeout(resolve, 300));
        console.log("done");
      `;
      refreshIn = 1;
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let doneAt = 0;
      child.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("done")) doneAt = Date.now();
      });
      const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      clearTimeout(killer);
      expect(code).toBe(0);
      expect(doneAt).toBeGreaterThan(0);
      // A 20 s retry delay or a request that never ends would keep it alive until the kill at
      // 20 s; 8 s leaves room for a loaded machine (a child's exit alone took 3.5 s there).
      expect(Date.now() - doneAt).toBeLessThan(8_000);
      expect(proxy.connects()).toBeGreaterThanOrEqual(2);
    }, 30_000);
  }
});

describe("the credential behind a proxy", () => {
  it("sends the token request through proxyOptions, in a CONNECT tunnel, with the assertion", async () => {
    setEnv({});
    const corporate = await proxy();
    const cred = credential({
      proxyOptions: { host: corporate.url.replace(/:\d+$/, ""), port: corporate.port },
    });
    const token = await cred.getToken(SCOPE);
    expect(token.token).toBe("via-proxy-1");
    expect(corporate.tunnels.map((tunnel) => tunnel.target)).toEqual(["login.test.invalid:443"]);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.path).toBe(`/${TENANT}/oauth2/v2.0/token`);
    expect(seen[0]?.host).toBe("login.test.invalid");
    expect(seen[0]?.form.get("client_assertion")).toBe(ASSERTION);
    expect(await cred.getToken(SCOPE)).toBe(token);
    expect(corporate.tunnels).toHaveLength(1);
  });

  it("uses HTTPS_PROXY from the environment, and proxyOptions beat it", async () => {
    const fromEnv = await proxy();
    const fromOptions = await proxy();
    setEnv({ HTTPS_PROXY: fromEnv.url });
    await credential().getToken(SCOPE);
    expect(fromEnv.tunnels).toHaveLength(1);
    await credential({
      proxyOptions: { host: "http://127.0.0.1", port: fromOptions.port },
    }).getToken(SCOPE);
    expect(fromOptions.tunnels).toHaveLength(1);
    expect(fromEnv.tunnels).toHaveLength(1);
  });

  it("authenticates to the proxy, and never prints its password", async () => {
    setEnv({});
    const guarded = await proxy({ username: "svc-fedcred", password: "hunter2-proxy-secret" });
    const token = await credential({
      proxyOptions: {
        host: "http://127.0.0.1",
        port: guarded.port,
        username: "svc-fedcred",
        password: "hunter2-proxy-secret",
      },
    }).getToken(SCOPE);
    expect(token.token).toBe("via-proxy-1");
    expect(guarded.tunnels[0]?.authorization).toBe(
      `Basic ${Buffer.from("svc-fedcred:hunter2-proxy-secret").toString("base64")}`,
    );
    const error = await credential({
      proxyOptions: {
        host: "http://127.0.0.1",
        port: guarded.port,
        username: "svc-fedcred",
        password: "wrong-secret-value",
      },
    })
      .getToken("https://vault.azure.net/.default")
      .catch((e: unknown) => e);
    expect(AuthenticationError.isInstance(error)).toBe(true);
    const printed = [
      (error as Error).message,
      JSON.stringify(error),
      inspect(error, { depth: 10, showHidden: true }),
    ].join("\n");
    expect(printed).toMatch(/407/);
    expect(printed).not.toContain("wrong-secret-value");
    expect(printed).not.toContain(Buffer.from("svc-fedcred:wrong-secret-value").toString("base64"));
  });

  it("names an unreachable proxy, not the authority", async () => {
    setEnv({});
    const gone = await proxy();
    const port = gone.port;
    await gone.close();
    const error = (await credential({
      proxyOptions: { host: "http://127.0.0.1", port, username: "u", password: "p4ss-word-secret" },
    })
      .getToken(SCOPE)
      .catch((e: unknown) => e)) as AuthenticationError;
    expect(error.code).toBe("token_request_failed");
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).not.toContain("p4ss-word-secret");
    expect(error.message).toMatch(/\(2 attempts\)/);
  });
});
