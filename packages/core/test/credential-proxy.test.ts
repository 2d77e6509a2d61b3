import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
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
        response.writeHead(200, { "content-type": "application/json" });
        response.end(
          JSON.stringify({
            token_type: "Bearer",
            expires_in: 3599,
            access_token: `via-proxy-${seen.length}`,
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
