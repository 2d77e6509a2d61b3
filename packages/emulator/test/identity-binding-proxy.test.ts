import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { request } from "node:https";
import { createServer, type Server, type Socket } from "node:net";
import { checkServerIdentity, type PeerCertificate, connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type EntraEmulator, startEntra } from "../src/entra.js";
import {
  type IdentityBindingProxy,
  startIdentityBindingProxy,
} from "../src/identity-binding-proxy.js";
import { type OidcIssuer, startIssuer } from "../src/issuer.js";
import { testTls } from "./support/tls.js";
import { ASSERTION_TYPE } from "./support/token-request.js";

const IDENTITY_BINDING_AUDIENCE = "api://AKSIdentityBinding";
const SERVER_NAME = "identity-binding.fedcred.test";
const tenantId = randomUUID();
const clientId = randomUUID();
const subject = "system:serviceaccount:prod:billing";
const tls = testTls();

let issuer: OidcIssuer;
let entra: EntraEmulator;
let proxy: IdentityBindingProxy;

beforeAll(async () => {
  issuer = await startIssuer();
  entra = await startEntra({
    tls: { cert: tls.cert, key: tls.key },
    tenants: [
      {
        tenantId,
        apps: [
          {
            clientId,
            federatedCredentials: [
              { issuer: issuer.url, subject, audiences: [IDENTITY_BINDING_AUDIENCE] },
            ],
          },
        ],
      },
    ],
  });
  proxy = await startIdentityBindingProxy({ target: entra.url, targetCa: tls.ca });
});

afterAll(async () => {
  await proxy?.close();
  await entra?.close();
  await issuer?.close();
});

beforeEach(() => entra.reset());

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

interface ClientTls {
  /** The SNI (and verified name); none when absent, as for a client that dials the bare address. */
  servername?: string;
  ca?: string;
  rejectUnauthorized?: boolean;
  checkServerIdentity?: typeof checkServerIdentity;
}

/** One request on a fresh connection (no pooled socket, no resumed session). */
function send(
  url: string,
  options: ClientTls & { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const { method = "POST", headers = {}, body, ...clientTls } = options;
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      { method, headers, agent: false, ca: proxy.caCertificate, ...clientTls },
      (response) => {
        let text = "";
        response.on("data", (chunk) => (text += chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: JSON.parse(text) as Record<string, unknown>,
          }),
        );
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

function tokenForm(assertion: string): string {
  return new URLSearchParams({
    grant_type: "client_credentials",
    client_id: clientId,
    scope: "https://storage.azure.com/.default",
    client_assertion_type: ASSERTION_TYPE,
    client_assertion: assertion,
  }).toString();
}

/** The token request a pod's client sends, unchanged, to the proxy. */
function postToken(assertion: string, clientTls: ClientTls = { servername: SERVER_NAME }) {
  return send(`${proxy.url}/${tenantId}/oauth2/v2.0/token`, {
    ...clientTls,
    headers: {
      "content-type": "application/x-www-form-urlencoded;charset=utf-8",
      "client-request-id": "5f0c1f7e-3f3a-4d43-9f55-2d1b3b1f8a10",
      "user-agent": "fedcred-test/1.0",
      accept: "application/json",
    },
    body: tokenForm(assertion),
  });
}

/** The certificate the proxy presents to a client sending `servername`. */
function peerCertificate(servername: string, ca: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: "127.0.0.1", port: proxy.port, servername, ca }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.on("error", reject);
  });
}

function mintAssertion(audience = IDENTITY_BINDING_AUDIENCE): Promise<string> {
  return issuer.mint({ subject, audience });
}

describe("startIdentityBindingProxy", () => {
  it("serves the AZURE_KUBERNETES_* values: the loopback address with the path, a server name, a CA", () => {
    expect(proxy.url).toBe(`https://127.0.0.1:${proxy.port}/identity-binding`);
    expect(proxy.serverName).toBe(SERVER_NAME);
    expect(proxy.caCertificate).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  it("forwards the token request unchanged to Entra and relays the answer", async () => {
    const assertion = await mintAssertion();
    const forwardedBefore = proxy.forwardedCount;
    const recordsBefore = proxy.requests.length;

    const answer = await postToken(assertion);

    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toMatch(/^application\/json/);
    expect(answer.body).toMatchObject({ token_type: "Bearer" });
    expect(typeof answer.body.access_token).toBe("string");
    expect(entra.tokenRequestCount).toBe(1);
    const [seen] = entra.requests;
    expect(seen?.path).toBe(`/${tenantId}/oauth2/v2.0/token`);
    expect(seen?.form.client_assertion).toBe(assertion);
    expect(seen?.form.client_id).toBe(clientId);
    expect(seen?.headers).toMatchObject({
      "content-type": "application/x-www-form-urlencoded;charset=utf-8",
      "client-request-id": "5f0c1f7e-3f3a-4d43-9f55-2d1b3b1f8a10",
      "user-agent": "fedcred-test/1.0",
      accept: "application/json",
      "content-length": String(Buffer.byteLength(tokenForm(assertion))),
    });
    expect(proxy.forwardedCount - forwardedBefore).toBe(1);
    expect(proxy.requests.slice(recordsBefore)).toEqual([
      {
        method: "POST",
        path: `/identity-binding/${tenantId}/oauth2/v2.0/token`,
        tenant: tenantId,
        servername: SERVER_NAME,
        status: 200,
      },
    ]);
  });

  it("relays Entra's refusal of an assertion for another audience (AADSTS700212) as it came", async () => {
    const answer = await postToken(await mintAssertion("api://AzureADTokenExchange"));
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ error: "invalid_client", error_codes: [700212] });
    expect(entra.requests[0]).toMatchObject({ status: 401, errorCodes: [700212] });
  });

  it("relays a throttling answer's status and Retry-After", async () => {
    entra.injectFault({ kind: "status", status: 429, retryAfter: 7 });
    const answer = await postToken(await mintAssertion());
    expect(answer.status).toBe(429);
    expect(answer.headers["retry-after"]).toBe("7");
    expect(entra.tokenRequestCount).toBe(1);
  });

  it("presents a certificate for the server name only, so a client checking the address fails", async () => {
    const certificate = await peerCertificate(SERVER_NAME, proxy.caCertificate);
    expect(certificate.subjectaltname).toBe(`DNS:${SERVER_NAME}`);
    expect(checkServerIdentity(SERVER_NAME, certificate)).toBeUndefined();
    expect(checkServerIdentity("127.0.0.1", certificate)?.message).toMatch(/IP: 127\.0\.0\.1/);
    expect(checkServerIdentity("localhost", certificate)?.message).toMatch(/localhost/);
    await expect(
      postToken(await mintAssertion(), {
        servername: SERVER_NAME,
        checkServerIdentity: (_host, peer) => checkServerIdentity("127.0.0.1", peer),
      }),
    ).rejects.toMatchObject({ code: "ERR_TLS_CERT_ALTNAME_INVALID" });
    expect(entra.tokenRequestCount).toBe(0);
  });

  it("refuses a handshake without SNI, even from a client that would accept any certificate", async () => {
    const refusedBefore = proxy.refusedHandshakes.length;
    const forwardedBefore = proxy.forwardedCount;
    await expect(postToken(await mintAssertion(), {})).rejects.toMatchObject({
      code: "EPROTO",
    });
    await expect(
      postToken(await mintAssertion(), { rejectUnauthorized: false }),
    ).rejects.toMatchObject({ code: "EPROTO" });
    expect(proxy.refusedHandshakes.slice(refusedBefore)).toEqual([{}, {}]);
    expect(proxy.forwardedCount).toBe(forwardedBefore);
    expect(entra.tokenRequestCount).toBe(0);
  });

  it("refuses a handshake with another SNI, even from a client that would accept any certificate", async () => {
    const refusedBefore = proxy.refusedHandshakes.length;
    for (const servername of ["other.fedcred.test", "localhost"]) {
      await expect(
        postToken(await mintAssertion(), { servername, rejectUnauthorized: false }),
      ).rejects.toThrow(/socket disconnected|ECONNRESET|handshake/i);
    }
    expect(proxy.refusedHandshakes.slice(refusedBefore)).toEqual([
      { servername: "other.fedcred.test" },
      { servername: "localhost" },
    ]);
    expect(entra.tokenRequestCount).toBe(0);
  });

  it("answers 404 JSON to anything but POST {pathPrefix}/{tenant}/oauth2/v2.0/token, forwarding nothing", async () => {
    const forwardedBefore = proxy.forwardedCount;
    const recordsBefore = proxy.requests.length;
    const base = `https://127.0.0.1:${proxy.port}`;
    const cases: [string, string][] = [
      ["POST", `${base}/identity-binding/${tenantId}/oauth2/token`],
      ["POST", `${base}/${tenantId}/oauth2/v2.0/token`],
      ["POST", `${base}/identity-binding/${tenantId}/extra/oauth2/v2.0/token`],
      ["GET", `${base}/identity-binding/${tenantId}/oauth2/v2.0/token`],
    ];
    for (const [method, url] of cases) {
      const answer = await send(url, {
        method,
        servername: SERVER_NAME,
        ...(method === "POST" ? { body: tokenForm("x") } : {}),
      });
      expect(answer.status).toBe(404);
      expect(answer.headers["content-type"]).toMatch(/^application\/json/);
      expect(answer.body.error).toBe("not_found");
    }
    expect(proxy.forwardedCount).toBe(forwardedBefore);
    expect(entra.tokenRequestCount).toBe(0);
    expect(
      proxy.requests.slice(recordsBefore).map((record) => [record.status, record.tenant]),
    ).toEqual([
      [404, undefined],
      [404, undefined],
      [404, undefined],
      [404, tenantId],
    ]);
  });

  it("after rotateCertificate, the old CA no longer verifies new handshakes and the new one does", async () => {
    const rotating = await startIdentityBindingProxy({ target: entra.url, targetCa: tls.ca });
    try {
      const oldCa = rotating.caCertificate;
      const url = `${rotating.url}/${tenantId}/oauth2/v2.0/token`;
      const body = tokenForm(await mintAssertion());
      const headers = { "content-type": "application/x-www-form-urlencoded" };
      const before = await send(url, { servername: SERVER_NAME, ca: oldCa, headers, body });
      expect(before.status).toBe(200);

      const newCa = await rotating.rotateCertificate();

      expect(newCa).not.toBe(oldCa);
      expect(rotating.caCertificate).toBe(newCa);
      await expect(
        send(url, { servername: SERVER_NAME, ca: oldCa, headers, body }),
      ).rejects.toMatchObject({ code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
      const after = await send(url, { servername: SERVER_NAME, ca: newCa, headers, body });
      expect(after.status).toBe(200);
      expect(entra.tokenRequestCount).toBe(2);
      expect(rotating.refusedHandshakes).toEqual([]);
    } finally {
      await rotating.close();
    }
  });

  it("answers 502 JSON when the target cannot be reached", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as { port: number };
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = await startIdentityBindingProxy({ target: `https://127.0.0.1:${port}` });
    try {
      const answer = await send(`${unreachable.url}/${tenantId}/oauth2/v2.0/token`, {
        servername: SERVER_NAME,
        ca: unreachable.caCertificate,
        body: tokenForm("x"),
      });
      expect(answer.status).toBe(502);
      expect(answer.headers["content-type"]).toMatch(/^application\/json/);
      expect(answer.body.error).toBe("bad_gateway");
      expect(unreachable.forwardedCount).toBe(1);
      expect(unreachable.requests.map((record) => record.status)).toEqual([502]);
    } finally {
      await unreachable.close();
    }
  });

  it("takes another server name and an empty path prefix", async () => {
    const custom = await startIdentityBindingProxy({
      target: entra.url,
      targetCa: tls.ca,
      serverName: "tokens.cluster.fedcred.test",
      pathPrefix: "",
    });
    try {
      expect(custom.url).toBe(`https://127.0.0.1:${custom.port}`);
      const answer = await send(`${custom.url}/${tenantId}/oauth2/v2.0/token`, {
        servername: "tokens.cluster.fedcred.test",
        ca: custom.caCertificate,
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: tokenForm(await mintAssertion()),
      });
      expect(answer.status).toBe(200);
      expect(entra.requests[0]?.path).toBe(`/${tenantId}/oauth2/v2.0/token`);
    } finally {
      await custom.close();
    }
  });

  it("refuses a target off loopback, an address as server name and a relative path prefix", async () => {
    await expect(
      startIdentityBindingProxy({ target: "https://login.microsoftonline.com" }),
    ).rejects.toThrow(/loopback/);
    await expect(
      startIdentityBindingProxy({ target: entra.url, serverName: "127.0.0.1" }),
    ).rejects.toThrow(/serverName/);
    await expect(
      startIdentityBindingProxy({ target: entra.url, pathPrefix: "identity-binding" }),
    ).rejects.toThrow(/pathPrefix/);
  });

  it("close() ends the client's connection and abandons the request the target has not answered", async () => {
    // A target that reads the forwarded request and never answers.
    const upstreamClosed: Promise<void>[] = [];
    let upstreamSeen!: () => void;
    const seen = new Promise<void>((resolve) => (upstreamSeen = resolve));
    const silent: Server = createServer((socket: Socket) => {
      upstreamClosed.push(new Promise((resolve) => socket.once("close", () => resolve())));
      socket.once("data", () => upstreamSeen());
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    const hanging = await startIdentityBindingProxy({ target: `http://127.0.0.1:${port}` });
    try {
      const answer = send(`${hanging.url}/${tenantId}/oauth2/v2.0/token`, {
        servername: SERVER_NAME,
        ca: hanging.caCertificate,
        body: tokenForm("x"),
      });
      await seen;
      await hanging.close();
      await expect(answer).rejects.toThrow(/socket hang up|ECONNRESET/);
      await Promise.all(upstreamClosed);
      expect(hanging.forwardedCount).toBe(1);
      expect(hanging.requests.map((record) => record.status)).toEqual([0]);
    } finally {
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
