import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ApiException,
  type AuthenticationV1TokenRequest,
  CoreV1Api,
  KubeConfig,
} from "@kubernetes/client-node";
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KubernetesApi, startKubernetes } from "../src/kubernetes.js";

const MINTER = "minter-token";
const ALICE = "alice-token";
const ADMIN = "admin-token";

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function raw(
  url: string,
  ca: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      { ca, method: options.method ?? "GET", headers: options.headers },
      (response) => {
        let body = "";
        response.on("data", (chunk) => {
          body += chunk;
        });
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        );
      },
    );
    outgoing.on("error", reject);
    outgoing.end(options.body);
  });
}

function client(kubernetes: KubernetesApi, token: string): CoreV1Api {
  const config = new KubeConfig();
  config.loadFromString(JSON.stringify(kubernetes.kubeconfig({ token })));
  return config.makeApiClient(CoreV1Api);
}

async function refusal(
  promise: Promise<unknown>,
): Promise<{ code: number; body: Record<string, unknown> }> {
  const error = await promise.then(
    () => {
      throw new Error("expected the API server to refuse");
    },
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ApiException);
  const exception = error as ApiException<string>;
  return { code: exception.code, body: JSON.parse(exception.body) as Record<string, unknown> };
}

function tokenRequest(spec: {
  audiences?: string[];
  expirationSeconds?: number;
}): AuthenticationV1TokenRequest {
  // Audiences may be left out on the wire (the server defaults them), though the type requires them.
  return {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: spec as AuthenticationV1TokenRequest["spec"],
  };
}

describe("startKubernetes", () => {
  let kubernetes: KubernetesApi;
  let directory: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "fedcred-kubernetes-"));
    kubernetes = await startKubernetes({
      serviceAccounts: [
        { namespace: "prod", name: "billing", uid: "8f0b7a57-0000-4000-8000-000000000001" },
        { namespace: "prod", name: "reports" },
        { namespace: "dev", name: "billing" },
      ],
      callers: [
        {
          token: MINTER,
          user: "system:serviceaccount:fedcred:minter",
          allow: [{ namespace: "prod", name: "billing" }],
        },
        { token: ALICE, user: "alice", allow: [{ namespace: "prod" }] },
        { token: ADMIN, user: "admin", allow: "*" },
      ],
    });
  });
  afterAll(async () => {
    await kubernetes.close();
    await rm(directory, { recursive: true, force: true });
  });

  it("issues a TokenRequest token to the real client-node, verifiable with the served discovery and JWKS", async () => {
    const before = kubernetes.tokenRequestCount;
    const answer = await client(kubernetes, MINTER).createNamespacedServiceAccountToken({
      namespace: "prod",
      name: "billing",
      body: tokenRequest({ audiences: ["api://AzureADTokenExchange"], expirationSeconds: 3600 }),
    });
    expect(kubernetes.tokenRequestCount).toBe(before + 1);
    expect(answer.kind).toBe("TokenRequest");
    expect(answer.spec.audiences).toEqual(["api://AzureADTokenExchange"]);
    expect(answer.spec.expirationSeconds).toBe(3600);
    const token = answer.status?.token ?? "";
    const expiration = answer.status?.expirationTimestamp as unknown as Date;

    const discovery = await raw(
      `${kubernetes.url}/.well-known/openid-configuration`,
      kubernetes.caCertificate,
    );
    expect(discovery.status).toBe(200);
    const document = JSON.parse(discovery.body) as Record<string, unknown>;
    expect(document).toEqual({
      issuer: kubernetes.url,
      jwks_uri: `${kubernetes.url}/openid/v1/jwks`,
      response_types_supported: ["id_token"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["RS256"],
    });
    const keys = await raw(document.jwks_uri as string, kubernetes.caCertificate);
    expect(keys.status).toBe(200);
    const { payload, protectedHeader } = await jwtVerify(
      token,
      createLocalJWKSet(JSON.parse(keys.body) as JSONWebKeySet),
      { issuer: kubernetes.issuer, audience: "api://AzureADTokenExchange", algorithms: ["RS256"] },
    );
    expect(protectedHeader.kid).toEqual(expect.any(String));
    expect(protectedHeader.typ).toBeUndefined();
    expect(payload.sub).toBe("system:serviceaccount:prod:billing");
    expect(payload.aud).toEqual(["api://AzureADTokenExchange"]);
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(payload.nbf).toBe(payload.iat);
    expect(payload.jti).toEqual(expect.any(String));
    expect(payload["kubernetes.io"]).toEqual({
      namespace: "prod",
      serviceaccount: { name: "billing", uid: "8f0b7a57-0000-4000-8000-000000000001" },
    });
    expect(expiration.getTime()).toBe(payload.exp! * 1000);
    const last = kubernetes.requests.findLast((entry) => entry.path.endsWith("/token"));
    expect(last).toMatchObject({
      method: "POST",
      path: "/api/v1/namespaces/prod/serviceaccounts/billing/token",
      user: "system:serviceaccount:fedcred:minter",
      status: 201,
    });
  });

  it("writes the expiration timestamp as RFC 3339 without fractions and defaults to 3600 s and the API audiences", async () => {
    const answer = await raw(
      `${kubernetes.url}/api/v1/namespaces/prod/serviceaccounts/reports/token`,
      kubernetes.caCertificate,
      {
        method: "POST",
        headers: { authorization: `Bearer ${ALICE}`, "content-type": "application/json" },
        body: JSON.stringify({
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenRequest",
          spec: {},
        }),
      },
    );
    expect(answer.status).toBe(201);
    const body = JSON.parse(answer.body) as {
      spec: Record<string, unknown>;
      status: { token: string; expirationTimestamp: string };
    };
    expect(body.status.expirationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(body.spec).toEqual({
      audiences: [kubernetes.issuer],
      expirationSeconds: 3600,
      boundObjectRef: null,
    });
    const payload = JSON.parse(
      Buffer.from(body.status.token.split(".")[1]!, "base64url").toString(),
    ) as Record<string, number>;
    expect(payload.aud).toEqual([kubernetes.issuer]);
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it("accepts a kubeconfig file written by the helper, without skipTLSVerify", async () => {
    const path = join(directory, "kubeconfig.yaml");
    await kubernetes.writeKubeconfig(path, { token: ADMIN, namespace: "dev" });
    const config = new KubeConfig();
    config.loadFromFile(path);
    expect(config.getCurrentCluster()?.skipTLSVerify).toBeFalsy();
    expect(config.getContextObject(config.getCurrentContext())?.namespace).toBe("dev");
    const answer = await config.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
      namespace: "dev",
      name: "billing",
      body: tokenRequest({ audiences: ["a", "b"] }),
    });
    expect(answer.spec.audiences).toEqual(["a", "b"]);
    expect(JSON.parse(await readFile(path, "utf8")).clusters[0].cluster.server).toBe(
      kubernetes.url,
    );
  });

  it("refuses a missing or unknown bearer token with a 401 Status", async () => {
    const path = `${kubernetes.url}/api/v1/namespaces/prod/serviceaccounts/billing/token`;
    const body = JSON.stringify(tokenRequest({}));
    const attempts: Record<string, string>[] = [
      { "content-type": "application/json" },
      { "content-type": "application/json", authorization: "Bearer nope" },
    ];
    for (const headers of attempts) {
      const answer = await raw(path, kubernetes.caCertificate, { method: "POST", headers, body });
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.body)).toEqual({
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: "Unauthorized",
        reason: "Unauthorized",
        code: 401,
      });
    }
    const error = await client(kubernetes, "nope")
      .createNamespacedServiceAccountToken({
        namespace: "prod",
        name: "billing",
        body: tokenRequest({}),
      })
      .catch((caught: unknown) => caught);
    expect((error as ApiException<unknown>).code).toBe(401);
  });

  it("refuses a caller outside its allow list with the API server's 403 Status", async () => {
    const { code, body } = await refusal(
      client(kubernetes, MINTER).createNamespacedServiceAccountToken({
        namespace: "prod",
        name: "reports",
        body: tokenRequest({ audiences: ["x"] }),
      }),
    );
    expect(code).toBe(403);
    expect(body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message:
        'serviceaccounts "reports" is forbidden: User "system:serviceaccount:fedcred:minter" cannot create resource "serviceaccounts/token" in API group "" in the namespace "prod"',
      reason: "Forbidden",
      details: { name: "reports", kind: "serviceaccounts" },
      code: 403,
    });
    const other = await refusal(
      client(kubernetes, ALICE).createNamespacedServiceAccountToken({
        namespace: "dev",
        name: "billing",
        body: tokenRequest({}),
      }),
    );
    expect(other.code).toBe(403);
    expect(other.body.message).toContain(
      'User "alice" cannot create resource "serviceaccounts/token"',
    );
  });

  it("answers 404 NotFound for an unknown service account", async () => {
    const { code, body } = await refusal(
      client(kubernetes, ALICE).createNamespacedServiceAccountToken({
        namespace: "prod",
        name: "ghost",
        body: tokenRequest({}),
      }),
    );
    expect(code).toBe(404);
    expect(body).toMatchObject({
      kind: "Status",
      status: "Failure",
      reason: "NotFound",
      message: 'serviceaccounts "ghost" not found',
      details: { name: "ghost", kind: "serviceaccounts" },
      code: 404,
    });
  });

  it("binds a token to a pod of the same service account, and refuses other bindings as the API server does", async () => {
    const pod = kubernetes.addPod({
      namespace: "prod",
      name: "billing-7d9f",
      serviceAccount: "billing",
    });
    kubernetes.addPod({ namespace: "prod", name: "reports-1", serviceAccount: "reports" });
    const api = client(kubernetes, ADMIN);
    const bound = await api.createNamespacedServiceAccountToken({
      namespace: "prod",
      name: "billing",
      body: {
        ...tokenRequest({ audiences: ["api://AzureADTokenExchange"] }),
        spec: {
          audiences: ["api://AzureADTokenExchange"],
          boundObjectRef: { kind: "Pod", apiVersion: "v1", name: pod.name, uid: pod.uid },
        },
      },
    });
    expect(bound.spec.boundObjectRef).toEqual({
      kind: "Pod",
      apiVersion: "v1",
      name: "billing-7d9f",
      uid: pod.uid,
    });
    const claims = JSON.parse(
      Buffer.from(bound.status?.token.split(".")[1] ?? "", "base64url").toString(),
    );
    expect(claims["kubernetes.io"].pod).toEqual({ name: "billing-7d9f", uid: pod.uid });

    const bind = (boundObjectRef: Record<string, string>) =>
      refusal(
        api.createNamespacedServiceAccountToken({
          namespace: "prod",
          name: "billing",
          body: { ...tokenRequest({}), spec: { audiences: [], boundObjectRef } as never },
        }),
      );
    expect(await bind({ kind: "Pod", apiVersion: "v1", name: "ghost" })).toMatchObject({
      code: 404,
      body: { message: 'pods "ghost" not found' },
    });
    expect(await bind({ kind: "Pod", apiVersion: "v1", name: "reports-1" })).toMatchObject({
      code: 400,
      body: { message: expect.stringContaining("pod running with different serviceaccount name") },
    });
    expect(
      await bind({ kind: "Pod", apiVersion: "v1", name: pod.name, uid: "not-the-uid" }),
    ).toMatchObject({ code: 409, body: { reason: "Conflict" } });
    expect(await bind({ kind: "Deployment", apiVersion: "apps/v1", name: "x" })).toMatchObject({
      code: 400,
      body: { message: expect.stringContaining("cannot bind token to object of type") },
    });
  });

  it("plays queued faults as Status answers to authenticated TokenRequests, then answers again", async () => {
    kubernetes.faults.push({ status: 429, retryAfter: 2 });
    kubernetes.faults.push({ status: 503 });
    const api = client(kubernetes, ADMIN);
    const ask = () =>
      api.createNamespacedServiceAccountToken({
        namespace: "prod",
        name: "billing",
        body: tokenRequest({}),
      });
    const throttled = (await ask().catch((error: unknown) => error)) as ApiException<string>;
    expect(throttled.code).toBe(429);
    expect(throttled.headers["retry-after"]).toBe("2");
    expect(JSON.parse(throttled.body)).toMatchObject({ reason: "TooManyRequests", code: 429 });
    expect((await refusal(ask())).body).toMatchObject({ reason: "InternalError", code: 503 });
    expect((await ask()).status?.token).toBeTruthy();
    expect(() => kubernetes.faults.push({ status: 200 })).toThrow(TypeError);
  });

  it("refuses expirationSeconds under 600 with a 422 Invalid Status", async () => {
    const { code, body } = await refusal(
      client(kubernetes, MINTER).createNamespacedServiceAccountToken({
        namespace: "prod",
        name: "billing",
        body: tokenRequest({ audiences: ["x"], expirationSeconds: 300 }),
      }),
    );
    expect(code).toBe(422);
    expect(body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message:
        'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes',
      reason: "Invalid",
      details: {
        group: "authentication.k8s.io",
        kind: "TokenRequest",
        causes: [
          {
            reason: "FieldValueInvalid",
            message: "Invalid value: 300: may not specify a duration less than 10 minutes",
            field: "spec.expirationSeconds",
          },
        ],
      },
      code: 422,
    });
    const accepted = await client(kubernetes, MINTER).createNamespacedServiceAccountToken({
      namespace: "prod",
      name: "billing",
      body: tokenRequest({ audiences: ["x"], expirationSeconds: 600 }),
    });
    expect(accepted.spec.expirationSeconds).toBe(600);
  });

  it("refuses a body of the wrong apiVersion or kind, and a metadata.name that differs from the URL", async () => {
    const path = `${kubernetes.url}/api/v1/namespaces/prod/serviceaccounts/billing/token`;
    const headers = { authorization: `Bearer ${MINTER}`, "content-type": "application/json" };
    const wrongVersion = await raw(path, kubernetes.caCertificate, {
      method: "POST",
      headers,
      body: JSON.stringify({
        apiVersion: "authentication.k8s.io/v1beta1",
        kind: "TokenRequest",
        spec: {},
      }),
    });
    expect(wrongVersion.status).toBe(400);
    expect(JSON.parse(wrongVersion.body)).toMatchObject({ reason: "BadRequest", code: 400 });
    const wrongKind = await raw(path, kubernetes.caCertificate, {
      method: "POST",
      headers,
      body: JSON.stringify({
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenReview",
        spec: {},
      }),
    });
    expect(wrongKind.status).toBe(400);
    const wrongAudiences = await raw(path, kubernetes.caCertificate, {
      method: "POST",
      headers,
      body: JSON.stringify({ spec: { audiences: "api://AzureADTokenExchange" } }),
    });
    expect(wrongAudiences.status).toBe(400);
    const wrongName = await raw(path, kubernetes.caCertificate, {
      method: "POST",
      headers,
      body: JSON.stringify({ metadata: { name: "other" }, spec: {} }),
    });
    expect(wrongName.status).toBe(422);
    expect(JSON.parse(wrongName.body).message).toBe(
      'TokenRequest.authentication.k8s.io "billing" is invalid: metadata.name: Invalid value: "other": must match the service account name if specified',
    );
  });

  it("serves discovery and JWKS anonymously, but nothing else", async () => {
    const discovery = await raw(
      `${kubernetes.url}/.well-known/openid-configuration`,
      kubernetes.caCertificate,
    );
    expect(discovery.status).toBe(200);
    const other = await raw(`${kubernetes.url}/api/v1/namespaces`, kubernetes.caCertificate);
    expect(other.status).toBe(401);
    const unknown = await raw(`${kubernetes.url}/api/v1/namespaces`, kubernetes.caCertificate, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(unknown.status).toBe(404);
  });

  it("mints projected-volume tokens directly with the same claims", async () => {
    const { token, expiresAt } = await kubernetes.mintServiceAccountToken({
      namespace: "prod",
      name: "billing",
      audiences: ["api://AzureADTokenExchange"],
      expirationSeconds: 60,
    });
    const keys = kubernetes.jwks() as JSONWebKeySet;
    const { payload } = await jwtVerify(token, createLocalJWKSet(keys), {
      issuer: kubernetes.issuer,
    });
    expect(payload.sub).toBe("system:serviceaccount:prod:billing");
    expect(expiresAt.getTime()).toBe(payload.exp! * 1000);
    expect(payload.exp! - payload.iat!).toBe(60);
    expect(decodeProtectedHeader(token).alg).toBe("RS256");
    await expect(
      kubernetes.mintServiceAccountToken({ namespace: "prod", name: "ghost" }),
    ).rejects.toThrow(/not found/);
  });
});

describe("startKubernetes options", () => {
  it("grants the capped lifetime with the API server's warning", async () => {
    const first = await startKubernetes({
      serviceAccounts: [{ namespace: "prod", name: "billing" }],
      callers: [{ token: ADMIN, user: "admin", allow: "*" }],
      maxExpirationSeconds: 1800,
    });
    try {
      const path = `${first.url}/api/v1/namespaces/prod/serviceaccounts/billing/token`;
      const answer = await raw(path, first.caCertificate, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
        body: JSON.stringify(tokenRequest({ audiences: ["x"], expirationSeconds: 7200 })),
      });
      expect(answer.status).toBe(201);
      expect(answer.headers.warning).toBe(
        '299 - "requested expiration of 7200 seconds shortened to 1800 seconds"',
      );
      const body = JSON.parse(answer.body) as {
        spec: { expirationSeconds: number };
        status: { token: string };
      };
      expect(body.spec.expirationSeconds).toBe(1800);
      const payload = JSON.parse(
        Buffer.from(body.status.token.split(".")[1]!, "base64url").toString(),
      ) as Record<string, number>;
      expect(payload.exp! - payload.iat!).toBe(1800);

      const viaClient = await client(first, ADMIN).createNamespacedServiceAccountToken({
        namespace: "prod",
        name: "billing",
        body: tokenRequest({ expirationSeconds: 1000 }),
      });
      expect(viaClient.spec.expirationSeconds).toBe(1000);
    } finally {
      await first.close();
    }
  });

  it("serves with a shared TLS authority and a configured issuer", async () => {
    const { createTlsAuthority } = await import("../src/tls.js");
    const authority = await createTlsAuthority();
    const kubernetes = await startKubernetes({
      tlsAuthority: authority,
      issuer: "https://oidc.example.test/cluster",
    });
    try {
      expect(kubernetes.caCertificate).toBe(authority.caCertificate);
      const discovery = await raw(
        `${kubernetes.url}/.well-known/openid-configuration`,
        authority.caCertificate,
      );
      expect(JSON.parse(discovery.body)).toMatchObject({
        issuer: "https://oidc.example.test/cluster",
        jwks_uri: "https://oidc.example.test/cluster/openid/v1/jwks",
      });
    } finally {
      await kubernetes.close();
    }
  });
});
