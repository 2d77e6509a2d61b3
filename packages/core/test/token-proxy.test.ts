import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { createTlsAuthority, type TlsAuthority } from "@fedcred/emulator";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  type AssertionContext,
  ClientAssertionCredential,
  CredentialUnavailableError,
  type TokenProxyOptions,
} from "../src/index.js";
import { CLIENT, fakeJwt, rejection, SCOPE, TENANT } from "./token-server.js";

const SERVER_NAME = "token-proxy.fedcred.test";
const ENTRA = "https://login.microsoftonline.com";

interface Seen {
  path: string;
  servername: string | false | null;
  form: URLSearchParams;
}

/** An https token endpoint on 127.0.0.1 whose certificate names SERVER_NAME, behind a CA nobody trusts by default. */
async function startProxy(authority: TlsAuthority): Promise<{
  url: string;
  seen: Seen[];
  server: Server;
  close(): Promise<void>;
}> {
  const seen: Seen[] = [];
  const server = createServer(
    { cert: authority.serverCertificate, key: authority.serverKey },
    (request, response) => {
      let body = "";
      request.setEncoding("utf8");
      request.on("data", (chunk: string) => {
        body += chunk;
      });
      request.on("end", () => {
        seen.push({
          path: request.url ?? "",
          servername: (request.socket as TLSSocket).servername,
          form: new URLSearchParams(body),
        });
        const assertion = new URLSearchParams(body).get("client_assertion") ?? "";
        const refusedAudience = assertion.includes(".") && assertion.split(".").length === 3;
        const claims = refusedAudience
          ? JSON.parse(Buffer.from(assertion.split(".")[1] ?? "", "base64url").toString())
          : {};
        if (claims.aud === "api://AKSIdentityBinding" && claims.refuse) {
          response.writeHead(400, { "content-type": "application/json" });
          response.end(
            JSON.stringify({
              error: "invalid_client",
              error_description: "AADSTS700212: No matching federated identity record found.",
              error_codes: [700212],
            }),
          );
          return;
        }
        response.writeHead(200, { "content-type": "application/json" });
        response.end(
          JSON.stringify({
            token_type: "Bearer",
            expires_in: 3599,
            access_token: `at-${seen.length}`,
          }),
        );
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let authority: TlsAuthority;
let otherAuthority: TlsAuthority;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  [authority, otherAuthority] = await Promise.all([
    createTlsAuthority("token proxy CA", [SERVER_NAME]),
    createTlsAuthority("rotated token proxy CA", [SERVER_NAME]),
  ]);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function proxyAndCredential(
  tls: TokenProxyOptions["tls"],
  getAssertion: (context: AssertionContext) => string = () => fakeJwt({ sub: "pod" }),
  path = "/identity-binding",
) {
  const proxy = await startProxy(authority);
  const credential = new ClientAssertionCredential(TENANT, CLIENT, getAssertion, {
    authorityHost: ENTRA,
    tokenProxy: { url: `${proxy.url}${path}/`, tls },
    retryOptions: { maxRetries: 0 },
  });
  cleanups.push(async () => {
    await credential.close();
    await proxy.close();
  });
  return { proxy, credential };
}

describe("options.tokenProxy", () => {
  it("sends the unchanged token request to {url}/{tenant}/oauth2/v2.0/token with the given server name and CA", async () => {
    const contexts: AssertionContext[] = [];
    const assertion = fakeJwt({ sub: "system:serviceaccount:prod:billing" });
    const { proxy, credential } = await proxyAndCredential(
      { ca: authority.caCertificate, servername: SERVER_NAME },
      (context) => {
        contexts.push(context);
        return assertion;
      },
    );
    const token = await credential.getToken(SCOPE);
    expect(token.token).toBe("at-1");
    expect(proxy.seen).toHaveLength(1);
    const [request] = proxy.seen;
    expect(request?.path).toBe(`/identity-binding/${TENANT}/oauth2/v2.0/token`);
    expect(request?.servername).toBe(SERVER_NAME);
    expect(request?.form.get("client_assertion")).toBe(assertion);
    expect(request?.form.get("client_id")).toBe(CLIENT);
    expect(request?.form.get("scope")).toBe(SCOPE);
    // The assertion is still meant for Entra's token endpoint.
    expect(contexts[0]?.tokenEndpoint).toBe(`${ENTRA}/${TENANT}/oauth2/v2.0/token`);
  });

  it("trusts only the given CA and checks the certificate against the server name", async () => {
    const wrongName = await proxyAndCredential({
      ca: authority.caCertificate,
      servername: "elsewhere.fedcred.test",
    });
    const nameError = await rejection(wrongName.credential.getToken(SCOPE));
    expect(nameError.code).toBe("tls_error");
    expect(wrongName.proxy.seen).toHaveLength(0);

    const wrongCa = await proxyAndCredential({
      ca: otherAuthority.caCertificate,
      servername: SERVER_NAME,
    });
    const caError = await rejection(wrongCa.credential.getToken(SCOPE));
    expect(caError.code).toBe("tls_error");
    expect(caError.message).toContain("by the CA given for this destination");
    expect(caError.message).not.toContain("NODE_EXTRA_CA_CERTS");
    expect(wrongCa.proxy.seen).toHaveLength(0);
  });

  it("asks a tls function before every request, so a rotated CA is used", async () => {
    let ca = authority.caCertificate;
    const tls = vi.fn(() => ({ ca, servername: SERVER_NAME }));
    const { proxy, credential } = await proxyAndCredential(tls);
    await credential.getToken(SCOPE);
    proxy.server.setSecureContext({
      cert: otherAuthority.serverCertificate,
      key: otherAuthority.serverKey,
    });
    proxy.server.closeAllConnections();
    ca = otherAuthority.caCertificate;
    await credential.getToken("https://vault.azure.net/.default");
    expect(proxy.seen).toHaveLength(2);
    expect(tls).toHaveBeenCalledTimes(2);

    tls.mockImplementationOnce(() => {
      throw new Error("CA file unreadable");
    });
    const error = await credential.getToken("https://graph.microsoft.com/.default").catch((e) => e);
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error.message).toContain("options.tokenProxy.tls failed: CA file unreadable");
    expect(proxy.seen).toHaveLength(2);
  });

  it("hints at enableAzureProxy when Entra refuses an api://AKSIdentityBinding audience", async () => {
    const { credential } = await proxyAndCredential(
      { ca: authority.caCertificate, servername: SERVER_NAME },
      () =>
        fakeJwt({
          aud: "api://AKSIdentityBinding",
          refuse: true,
          sub: "system:serviceaccount:a:b",
        }),
    );
    const error = await rejection(credential.getToken(SCOPE));
    expect(error.errorResponse?.errorCodes).toEqual([700212]);
    expect(error.message).toContain("enableAzureProxy");
    expect(error.message).toContain("api://AKSIdentityBinding");
  });

  it.each([
    ["http://127.0.0.1:8443/proxy", "must use https"],
    ["https://user:secret@proxy.internal/p", "must not hold user info"],
    ["https://proxy.internal/p?x=1", "must not have a query or a fragment"],
    ["https://proxy.internal/p#frag", "must not have a query or a fragment"],
    ["not a url", "is not a valid URL"],
    ["", "options.tokenProxy.url is required"],
  ])("refuses the proxy URL %j at construction", (url, message) => {
    const create = () =>
      new ClientAssertionCredential(TENANT, CLIENT, () => "a.b.c", { tokenProxy: { url } });
    expect(create).toThrow(CredentialUnavailableError);
    expect(create).toThrow(message);
    if (url.includes("secret")) {
      try {
        create();
      } catch (error) {
        expect(String((error as Error).message)).not.toContain("secret");
      }
    }
  });

  it("refuses tls beside an injected fetch or httpClient, which cannot apply it", () => {
    const tokenProxy = { url: "https://proxy.internal", tls: { servername: SERVER_NAME } };
    expect(
      () =>
        new ClientAssertionCredential(TENANT, CLIENT, () => "a.b.c", {
          tokenProxy,
          fetch: globalThis.fetch,
        }),
    ).toThrow("options.tokenProxy.tls cannot be applied by an injected fetch");
    expect(
      () =>
        new ClientAssertionCredential(TENANT, CLIENT, () => "a.b.c", {
          tokenProxy,
          httpClient: { sendRequest: async () => ({}) as never },
        }),
    ).toThrow("cannot be applied by an injected httpClient");
  });
});

describe("URLs that fail to parse", () => {
  it.each([
    ["https://user:hunter2@[::1", '"https://***@[::1"'],
    ["user:hunter2@[::1", undefined],
    ["https://[::1/p?sig=hunter2", '"https://[::1/p?***"'],
  ])("never echo user info or a query: %s", (url, quoted) => {
    const messages: string[] = [];
    for (const options of [{ tokenProxy: { url } }, { authorityHost: url }]) {
      try {
        new ClientAssertionCredential(TENANT, CLIENT, () => "a.b.c", options);
        expect.unreachable();
      } catch (error) {
        expect(CredentialUnavailableError.isInstance(error)).toBe(true);
        messages.push((error as Error).message);
      }
    }
    expect(messages.join("\n")).not.toContain("hunter2");
    if (quoted) expect(messages[0]).toBe(`options.tokenProxy.url is not a valid URL: ${quoted}.`);
  });
});
