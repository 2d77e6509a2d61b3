import { spawn } from "node:child_process";
import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import {
  type AssertionContext,
  AuthenticationError,
  ClientAssertionCredential,
  CredentialUnavailableError,
} from "@fedcred/core";
import {
  type EntraEmulator,
  type OidcIssuer,
  type ProtectedResource,
  startEntra,
  startIssuer,
  startResource,
} from "@fedcred/emulator";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { fromUrl } from "../src/index.js";

const TENANT = "5d1e2f3a-0000-4000-8000-0000000000a1";
const APP = "6e2f3a4b-0000-4000-8000-0000000000a2";
const EXCHANGE = "api://AzureADTokenExchange";
const SUBJECT = "sidecar:billing";
const KEY = "sidecar-key-that-must-stay-secret";

const context: AssertionContext = {
  clientId: APP,
  tenantId: TENANT,
  authorityHost: "https://login.microsoftonline.com",
  tokenEndpoint: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
};

interface Seen {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
}

/** A loopback token service whose answer each test sets, recording every request. */
interface TokenService {
  url: string;
  seen: Seen[];
  answer: (response: ServerResponse) => void;
  close(): Promise<void>;
}

async function listen(
  handler: (seen: Seen, response: ServerResponse) => void,
): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    handler({ method: request.method, url: request.url, headers: request.headers }, response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function startTokenService(): Promise<TokenService> {
  const service: TokenService = {
    url: "",
    seen: [],
    answer: (response) => response.writeHead(500).end(),
    close: async () => {},
  };
  const { server, url } = await listen((seen, response) => {
    service.seen.push(seen);
    service.answer(response);
  });
  service.url = url;
  service.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return service;
}

let issuer: OidcIssuer;
let entra: EntraEmulator;
let resource: ProtectedResource;
let service: TokenService;

beforeAll(async () => {
  issuer = await startIssuer();
  entra = await startEntra({
    tenants: [
      {
        tenantId: TENANT,
        apps: [
          {
            clientId: APP,
            roles: ["Blob.Read"],
            federatedCredentials: [
              { issuer: issuer.issuer, subject: SUBJECT, audiences: [EXCHANGE] },
            ],
          },
        ],
      },
    ],
  });
  resource = await startResource({
    entra,
    tenantId: TENANT,
    audience: "https://storage.azure.com",
  });
  service = await startTokenService();
});

afterAll(async () => {
  await Promise.all([service?.close(), resource?.close(), entra?.close(), issuer?.close()]);
});

afterEach(() => {
  service.seen.length = 0;
  entra.reset();
});

function serve(status: number, body: string, headers: Record<string, string> = {}): void {
  service.answer = (response) => response.writeHead(status, headers).end(body);
}

function unsignedJwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown): string =>
    Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${encode({ alg: "RS256", typ: "JWT" })}.${encode(claims)}.c2ln`;
}

async function failure(promise: unknown): Promise<Error> {
  return Promise.resolve(promise).then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error as Error,
  );
}

describe("fromUrl end to end", () => {
  it("fetches the issuer's token with the headers given; Entra exchanges it and the resource accepts the access token", async () => {
    const token = await issuer.mint({
      subject: SUBJECT,
      audience: EXCHANGE,
      lifetimeSeconds: 3600,
    });
    serve(200, `${token}\n`, { "content-type": "text/plain" });
    const credential = new ClientAssertionCredential(
      TENANT,
      APP,
      fromUrl({
        url: `${service.url}/token?audience=${EXCHANGE}`,
        headers: { "X-Sidecar-Key": KEY },
      }),
      { authorityHost: entra.url },
    );
    const accessToken = await credential.getToken("https://storage.azure.com/.default");
    const response = await fetch(resource.url, {
      headers: { authorization: `Bearer ${accessToken.token}` },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ appid: APP, tid: TENANT, roles: ["Blob.Read"] });

    expect(service.seen).toHaveLength(1);
    expect(service.seen[0]).toMatchObject({ method: "GET", url: `/token?audience=${EXCHANGE}` });
    expect(service.seen[0]?.headers["x-sidecar-key"]).toBe(KEY);
    const sent = entra.requests.filter((request) => request.path.endsWith("/oauth2/v2.0/token"));
    expect(sent.map((request) => request.form.client_assertion)).toEqual([token]);

    // A token that lives an hour is kept: the next token request reuses it, no second GET.
    await credential.getToken("https://vault.azure.net/.default");
    expect(service.seen).toHaveLength(1);
    expect(entra.tokenRequestCount).toBe(2);
    await credential.close();
  });

  it("reads a JSON field by a dotted path", async () => {
    const token = await issuer.mint({ subject: SUBJECT, audience: EXCHANGE });
    serve(200, JSON.stringify({ token: { value: token, type: "jwt" }, count: 1 }), {
      "content-type": "application/json",
    });
    const getAssertion = fromUrl({
      url: `${service.url}/oidc`,
      format: "json",
      field: "token.value",
    });
    expect(await getAssertion(context)).toBe(token);
    expect(service.seen[0]?.headers.accept).toBe("application/json");
  });

  it("fetches again on every call when the token has no exp, and when Entra said the last one expired", async () => {
    const token = unsignedJwt({ sub: SUBJECT });
    serve(200, token);
    const getAssertion = fromUrl({ url: service.url });
    await getAssertion(context);
    await getAssertion(context);
    expect(service.seen).toHaveLength(2);

    const lasting = unsignedJwt({ sub: SUBJECT, exp: Math.floor(Date.now() / 1000) + 3600 });
    serve(200, lasting);
    const memoized = fromUrl({ url: service.url });
    await Promise.all([memoized(context), memoized(context), memoized(context)]);
    expect(service.seen).toHaveLength(3);
    await memoized({ ...context, forceRefresh: true });
    expect(service.seen).toHaveLength(4);
  });
});

describe("fromUrl on the wire", () => {
  it("refuses a redirect and sends nothing to its Location", async () => {
    const elsewhere = await startTokenService();
    serve(200, unsignedJwt({}));
    elsewhere.answer = (response) => response.writeHead(200).end(unsignedJwt({}));
    service.answer = (response) =>
      response.writeHead(302, { location: `${elsewhere.url}/stolen` }).end();
    try {
      const error = await failure(
        fromUrl({ url: `${service.url}/token`, headers: { authorization: KEY } })(context),
      );
      expect(AuthenticationError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ code: "redirect_refused", statusCode: 302 });
      expect(error.message).toContain(`a redirect to ${elsewhere.url}`);
      // The fix it names is this provider's own setting.
      expect(error.message).toContain("(check options.url and any proxy in between)");
      expect(error.message).not.toContain("authorityHost");
      expect(elsewhere.seen).toHaveLength(0);
    } finally {
      await elsewhere.close();
    }
  });

  it("stops reading a body over 64 KiB", async () => {
    service.answer = (response) => {
      response.writeHead(200, { "content-type": "text/plain" });
      response.end("a".repeat(1024 * 1024));
    };
    const error = await failure(fromUrl({ url: service.url })(context));
    expect(error).toMatchObject({ code: "invalid_token_response" });
    expect(error.message).toContain("exceeded 64 KiB");
  });

  it("refuses with the status on a 4xx, and never shows the header values or the query", async () => {
    serve(401, "bad key");
    const error = await failure(
      fromUrl({
        url: `${service.url}/token?key=query-secret`,
        headers: { authorization: `Bearer ${KEY}` },
      })(context),
    );
    expect(AuthenticationError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "assertion_failed", statusCode: 401 });
    expect(error.message).toBe(
      `${service.url}/token answered 401: it refused to hand out a token; check options.headers (the credentials it expects) and options.url.`,
    );
    const printed = `${inspect(error)} ${JSON.stringify(error)} ${error.message}`;
    expect(printed).not.toContain(KEY);
    expect(printed).not.toContain("query-secret");
  });

  it.each([
    [503, "not there or not working"],
    [404, "not there or not working"],
  ])("reports %i as unavailable, so a chain moves on", async (status, text) => {
    serve(status, "");
    const error = await failure(fromUrl({ url: service.url })(context));
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "assertion_unavailable" });
    expect(error.message).toContain(text);
  });

  it.each([
    ["text that is not a JWT", "text", undefined, "<html>sign in</html>", "is not a JWT"],
    ["JSON that is not JSON", "json", "value", "{nope", 'not JSON, but options.format is "json"'],
    [
      "a JSON field that is missing",
      "json",
      "value",
      '{"token":"x"}',
      'no non-empty string at "value"',
    ],
    [
      "a JSON field that is not a string",
      "json",
      "value",
      '{"value":42}',
      'no non-empty string at "value"',
    ],
    ["a JWT whose payload is not JSON", "text", undefined, "aaa.bbb.ccc", "payload is not JSON"],
  ] as const)("reports %s", async (_name, format, field, body, message) => {
    serve(200, body);
    const options =
      field === undefined ? { url: service.url, format } : { url: service.url, format, field };
    const error = await failure(fromUrl(options)(context));
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error.message).toContain(message);
    expect(error.message).not.toContain(body.length > 8 ? body : "\u0000");
  });

  it("reports an expired token instead of sending it", async () => {
    serve(200, unsignedJwt({ exp: Math.floor(Date.now() / 1000) - 60 }));
    const error = await failure(fromUrl({ url: service.url })(context));
    expect(error).toMatchObject({ code: "assertion_expired" });
    expect(error.message).toMatch(/expired at \d{4}-/);
  });

  it("reports a URL nobody listens on as unavailable", async () => {
    const gone = await startTokenService();
    const url = gone.url;
    await gone.close();
    const error = await failure(fromUrl({ url })(context));
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/^The token URL cannot be reached: /);
  });

  it("gives up after timeoutInMs on a server that never answers, and honours abort", async () => {
    service.answer = () => {};
    const error = await failure(fromUrl({ url: service.url, timeoutInMs: 300 })(context));
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/300 ms|timed out|did not answer/i);
    // requestTimeoutInMs, the other HTTP providers' name, is the same deadline.
    const started = Date.now();
    const named = await failure(fromUrl({ url: service.url, requestTimeoutInMs: 300 })(context));
    expect(named.message).toContain("timed out after 300 ms");
    expect(Date.now() - started).toBeLessThan(8_000);

    const controller = new AbortController();
    const pending = fromUrl({ url: service.url })({ ...context, abortSignal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect((await failure(pending)).name).toBe("AbortError");
  });
});

describe("fromUrl options", () => {
  it.each([
    [
      { url: "http://tokens.example/token" },
      "options.url must be https (plain http only to loopback hosts",
    ],
    [{ url: "ftp://127.0.0.1/token" }, "got ftp:"],
    [{ url: "https://user:pw@tokens.example/" }, "must not hold a user name or password"],
    [{ url: "/relative" }, "not an absolute URL"],
    [{ url: 42 }, "options.url must be the URL"],
    [{ url: "https://t.example", headers: { "bad name": "x" } }, "invalid header name"],
    [
      { url: "https://t.example", headers: { a: "x\r\ninjected: y" } },
      'options.headers["a"] must be a string without line breaks',
    ],
    [{ url: "https://t.example", format: "yaml" }, "options.format must be"],
    [{ url: "https://t.example", format: "json" }, "needs options.field"],
    [{ url: "https://t.example", field: "value" }, 'applies to options.format "json" only'],
    [{ url: "https://t.example", timeoutInMs: 0 }, "options.timeoutInMs must be"],
    [{ url: "https://t.example", requestTimeoutInMs: -5 }, "options.requestTimeoutInMs must be"],
    [
      { url: "https://t.example", timeoutInMs: 100, requestTimeoutInMs: 200 },
      "name the same deadline: give one of them",
    ],
  ])("refuses %j at once", (options, message) => {
    expect(() => fromUrl(options as never)).toThrow(CredentialUnavailableError);
    expect(() => fromUrl(options as never)).toThrow(message);
  });

  it("never shows a header value in a configuration error", () => {
    let error: unknown;
    try {
      fromUrl({ url: "https://t.example", headers: { authorization: `${KEY}\n` } });
    } catch (e) {
      error = e;
    }
    expect(String(error)).not.toContain(KEY);
    expect(inspect(error)).not.toContain(KEY);
  });
});

describe("fromUrl and the process", () => {
  it("keeps a process alive while it waits for the answer, and lets it end after", async () => {
    const token = unsignedJwt({ sub: SUBJECT, exp: Math.floor(Date.now() / 1000) + 3600 });
    // The answer comes late: a process with nothing else to do must still wait for it.
    service.answer = (response) => {
      setTimeout(() => response.writeHead(200).end(token), 500);
    };
    const script = `
      import { fromUrl } from "@fedcred/url";
      const assertion = await fromUrl({ url: ${JSON.stringify(`${service.url}/late`)} })({});
      console.log(assertion.length);`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => {
      const deadline = setTimeout(() => {
        child.kill("SIGKILL");
        resolve(null);
      }, 45_000);
      child.on("close", (exitCode) => {
        clearTimeout(deadline);
        resolve(exitCode);
      });
    });
    expect(output.trim()).toBe(String(token.length));
    expect(code).toBe(0);
  });
});
