import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import {
  type AssertionContext,
  AuthenticationError,
  ClientAssertionCredential,
  CredentialUnavailableError,
} from "@fedcred/core";
import { createTlsAuthority } from "@fedcred/emulator";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { fromServiceAccountToken } from "../src/index.js";
import {
  APP,
  BILLING_POD_UID,
  claimsOf,
  EXCHANGE,
  type Federation,
  MINTER_USER,
  NOBODY,
  NOBODY_USER,
  SCOPE,
  startFederation,
  TENANT,
  tokenRequestsOf,
} from "./cluster.js";

let federation: Federation;
const credentials: ClientAssertionCredential[] = [];

beforeAll(async () => {
  federation = await startFederation();
});
afterAll(() => federation?.close());
afterEach(async () => {
  for (const credential of credentials.splice(0)) await credential.close();
  federation.entra.reset();
});

function credentialFor(assertion: ReturnType<typeof fromServiceAccountToken>) {
  const credential = new ClientAssertionCredential(TENANT, APP, assertion, {
    authorityHost: federation.entra.url,
    retryOptions: { maxRetries: 0 },
  });
  credentials.push(credential);
  return credential;
}

const context: AssertionContext = {
  clientId: APP,
  tenantId: TENANT,
  authorityHost: "https://login.microsoftonline.com",
  tokenEndpoint: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
};

describe("fromServiceAccountToken against the emulated API server and Entra ID", () => {
  it("mints a token by TokenRequest that Entra exchanges and the resource accepts", async () => {
    const before = tokenRequestsOf(federation.kubernetes).length;
    const credential = credentialFor(
      fromServiceAccountToken({
        serviceAccount: "billing",
        namespace: "prod",
        kubeConfig: federation.kubeConfig(),
      }),
    );
    const token = await credential.getToken(SCOPE);
    const response = await fetch(federation.resource.url, {
      headers: { authorization: `Bearer ${token.token}` },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ appid: APP, tid: TENANT, roles: ["Blob.Read"] });

    const minted = tokenRequestsOf(federation.kubernetes).slice(before);
    expect(minted).toHaveLength(1);
    expect(minted[0]).toMatchObject({
      path: "/api/v1/namespaces/prod/serviceaccounts/billing/token",
      user: MINTER_USER,
      status: 201,
      // An omitted expirationSeconds is an explicit 3600 on the wire.
      body: {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: { audiences: [EXCHANGE], expirationSeconds: 3600 },
      },
    });
    const [exchange] = federation.tokenRequests();
    expect(claimsOf(exchange?.form.client_assertion ?? "")).toMatchObject({
      iss: federation.kubernetes.issuer,
      sub: "system:serviceaccount:prod:billing",
      aud: [EXCHANGE],
    });
  });

  it("defaults the namespace to the kubeconfig context's", async () => {
    const before = tokenRequestsOf(federation.kubernetes).length;
    const credential = credentialFor(
      fromServiceAccountToken({
        serviceAccount: "billing",
        kubeConfig: federation.kubeConfig(undefined, "prod"),
      }),
    );
    await credential.getToken(SCOPE);
    expect(tokenRequestsOf(federation.kubernetes).slice(before)[0]?.path).toBe(
      "/api/v1/namespaces/prod/serviceaccounts/billing/token",
    );
  });

  it("sends boundObjectRef and a custom audience and lifetime", async () => {
    const before = tokenRequestsOf(federation.kubernetes).length;
    const assertion = fromServiceAccountToken({
      serviceAccount: "billing",
      namespace: "prod",
      audience: "api://AzureADTokenExchangeUSGov",
      expirationSeconds: 7200,
      boundObjectRef: {
        kind: "Pod",
        name: "billing-7d9f",
        uid: "0b6c6f1e-1111-4000-8000-000000000001",
      },
      kubeConfig: federation.kubeConfig(),
    });
    const jwt = await assertion(context);
    expect(claimsOf(jwt)).toMatchObject({
      aud: ["api://AzureADTokenExchangeUSGov"],
      "kubernetes.io": { pod: { name: "billing-7d9f", uid: BILLING_POD_UID } },
    });
    expect(tokenRequestsOf(federation.kubernetes).slice(before)[0]?.body).toMatchObject({
      spec: {
        audiences: ["api://AzureADTokenExchangeUSGov"],
        expirationSeconds: 7200,
        boundObjectRef: {
          kind: "Pod",
          apiVersion: "v1",
          name: "billing-7d9f",
          uid: BILLING_POD_UID,
        },
      },
    });
  });

  it("shares one TokenRequest among concurrent calls, keeps the token, and mints anew on forceRefresh", async () => {
    const before = tokenRequestsOf(federation.kubernetes).length;
    const credential = credentialFor(
      fromServiceAccountToken({
        serviceAccount: "billing",
        namespace: "prod",
        kubeConfig: federation.kubeConfig(),
      }),
    );
    const scopes = Array.from(
      { length: 20 },
      (_, index) => `https://resource-${index}.test/.default`,
    );
    await Promise.all(scopes.map((scope) => credential.getToken(scope)));
    expect(federation.entra.tokenRequestCount).toBe(20);
    expect(tokenRequestsOf(federation.kubernetes).length - before).toBe(1);

    const assertion = fromServiceAccountToken({
      serviceAccount: "billing",
      namespace: "prod",
      kubeConfig: federation.kubeConfig(),
    });
    const first = await assertion(context);
    expect(await assertion(context)).toBe(first);
    const fresh = await assertion({ ...context, forceRefresh: true });
    expect(fresh).not.toBe(first);
    expect(tokenRequestsOf(federation.kubernetes).length - before).toBe(3);
  });
});

describe("refusals say what to fix", () => {
  it("names the RBAC rule, the namespace and the caller on 403", async () => {
    const assertion = fromServiceAccountToken({
      serviceAccount: "billing",
      namespace: "prod",
      kubeConfig: federation.kubeConfig(NOBODY),
    });
    const error = await Promise.resolve(assertion(context)).catch((caught: unknown) => caught);
    expect(AuthenticationError.isInstance(error)).toBe(true);
    const { message, code } = error as AuthenticationError;
    expect(code).toBe("assertion_failed");
    expect(message).toContain("403");
    expect(message).toContain(`"${NOBODY_USER}"`);
    expect(message).toContain('RBAC "create" on "serviceaccounts/token" in namespace "prod"');
    expect(message).toContain("--resource-name=billing");
    expect(message).toContain("--serviceaccount=ops:nobody");
    expect(message).not.toContain(NOBODY);
  });

  it("names the namespace and service account on 404", async () => {
    const assertion = fromServiceAccountToken({
      serviceAccount: "ghost",
      namespace: "prod",
      kubeConfig: federation.kubeConfig(),
    });
    const error = (await Promise.resolve(assertion(context)).catch(
      (caught: unknown) => caught,
    )) as Error;
    expect(AuthenticationError.isInstance(error)).toBe(true);
    expect(error.message).toContain('service account "ghost" in namespace "prod" (404 Not Found)');
  });

  it("surfaces Entra's 700212 with its hint when the audience is not the FIC's", async () => {
    const credential = credentialFor(
      fromServiceAccountToken({
        serviceAccount: "billing",
        namespace: "prod",
        audience: "api://not-the-fic-audience",
        kubeConfig: federation.kubeConfig(),
      }),
    );
    const error = (await credential
      .getToken(SCOPE)
      .catch((caught: unknown) => caught)) as AuthenticationError;
    expect(error.errorResponse?.errorCodes).toContain(700212);
    expect(error.message).toContain(
      "No federated identity credential of the app has this audience",
    );
    expect(error.message).toContain("api://not-the-fic-audience");
  });

  it("surfaces Entra's 700213 with the subject when the service account is not the FIC's", async () => {
    const credential = credentialFor(
      fromServiceAccountToken({
        serviceAccount: "reports",
        namespace: "prod",
        kubeConfig: federation.kubeConfig(),
      }),
    );
    const error = (await credential
      .getToken(SCOPE)
      .catch((caught: unknown) => caught)) as AuthenticationError;
    expect(error.errorResponse?.errorCodes).toContain(700213);
    expect(error.message).toContain("system:serviceaccount:prod:reports");
  });

  it("asks again while the API server throttles (429) or fails (5xx), then says how often it tried", async () => {
    const before = tokenRequestsOf(federation.kubernetes).length;
    federation.kubernetes.faults.push({ status: 429, retryAfter: 0 }, 2);
    const assertion = fromServiceAccountToken({
      serviceAccount: "billing",
      namespace: "prod",
      kubeConfig: federation.kubeConfig(),
    });
    expect(claimsOf(await assertion(context)).sub).toBe("system:serviceaccount:prod:billing");
    expect(
      tokenRequestsOf(federation.kubernetes)
        .slice(before)
        .map((r) => r.status),
    ).toEqual([429, 429, 201]);

    federation.kubernetes.faults.push({ status: 503, retryAfter: 0 }, 3);
    const failing = fromServiceAccountToken({
      serviceAccount: "billing",
      namespace: "prod",
      kubeConfig: federation.kubeConfig(),
    });
    const error = (await Promise.resolve(failing(context)).catch(
      (caught: unknown) => caught,
    )) as Error;
    expect(AuthenticationError.isInstance(error)).toBe(true);
    expect(error.message).toContain("(503 InternalError, after 3 attempts)");
  });

  it("reads every option once: changing the options object later changes no request", async () => {
    const before = tokenRequestsOf(federation.kubernetes).length;
    const options = {
      serviceAccount: "billing",
      namespace: "prod",
      kubeConfig: federation.kubeConfig(),
    };
    const assertion = fromServiceAccountToken(options);
    options.namespace = "..";
    options.serviceAccount = "../../x";
    await assertion(context);
    expect(tokenRequestsOf(federation.kubernetes).slice(before)[0]?.path).toBe(
      "/api/v1/namespaces/prod/serviceaccounts/billing/token",
    );
  });

  it("takes a null namespace for the default and refuses an empty one", async () => {
    const before = tokenRequestsOf(federation.kubernetes).length;
    const assertion = fromServiceAccountToken({
      serviceAccount: "billing",
      namespace: null as never,
      kubeConfig: federation.kubeConfig(undefined, "prod"),
    });
    await assertion(context);
    expect(tokenRequestsOf(federation.kubernetes).slice(before)[0]?.path).toContain(
      "/namespaces/prod/",
    );
    expect(() => fromServiceAccountToken({ serviceAccount: "billing", namespace: "" })).toThrow(
      "options.namespace is empty",
    );
  });

  it.each([
    [{ serviceAccount: "billing", expirationSeconds: 599 }, "from 600"],
    [{ serviceAccount: "billing", expirationSeconds: 3600.5 }, "whole number"],
    [{ serviceAccount: "billing", expirationSeconds: 90_001 }, "AADSTS70023"],
    [{ serviceAccount: "billing", expirationSeconds: "3600" as unknown as number }, "whole number"],
    [{ serviceAccount: "" }, "options.serviceAccount is required"],
    [{ serviceAccount: "Billing" }, "not a valid Kubernetes service-account name"],
    [{ serviceAccount: "../../secrets" }, "not a valid Kubernetes service-account name"],
    [{ serviceAccount: "billing", namespace: "prod/x" }, "not a valid Kubernetes namespace"],
    [{ serviceAccount: "billing", namespace: "a.b" }, "not a valid Kubernetes namespace"],
    [{ serviceAccount: "billing", namespace: "%2e%2e" }, "not a valid Kubernetes namespace"],
    [{ serviceAccount: "billing", audience: "" }, "options.audience"],
    [
      { serviceAccount: "billing", boundObjectRef: { kind: "Deployment", name: "x" } as never },
      "options.boundObjectRef",
    ],
    [{ serviceAccount: "billing", kubeConfig: {} as never }, "options.kubeConfig"],
  ])("refuses %j at the factory", (options, message) => {
    expect(() => fromServiceAccountToken(options)).toThrow(CredentialUnavailableError);
    expect(() => fromServiceAccountToken(options)).toThrow(message);
  });
});

describe("when no cluster can be reached", () => {
  let home: string;
  const saved = { HOME: process.env.HOME, KUBECONFIG: process.env.KUBECONFIG };
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), "fedcred-no-kube-"));
  });
  afterAll(async () => {
    process.env.HOME = saved.HOME;
    if (saved.KUBECONFIG === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved.KUBECONFIG;
    await rm(home, { recursive: true, force: true });
  });

  it("is a CredentialUnavailableError when nothing configures a cluster", async () => {
    process.env.HOME = home;
    delete process.env.KUBECONFIG;
    const assertion = fromServiceAccountToken({ serviceAccount: "billing" });
    const error = (await Promise.resolve(assertion(context)).catch(
      (caught: unknown) => caught,
    )) as CredentialUnavailableError;
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error.code).toBe("missing_configuration");
    expect(error.message).toContain("No Kubernetes cluster is configured");
  });

  it("is a CredentialUnavailableError when the API server does not listen", async () => {
    const config = new KubeConfig();
    const document = federation.kubernetes.kubeconfig({ token: "x" });
    document.clusters[0]!.cluster.server = "https://127.0.0.1:1";
    config.loadFromString(JSON.stringify(document));
    const assertion = fromServiceAccountToken({
      serviceAccount: "billing",
      namespace: "prod",
      kubeConfig: config,
    });
    const error = (await Promise.resolve(assertion(context)).catch(
      (caught: unknown) => caught,
    )) as CredentialUnavailableError;
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error.code).toBe("assertion_unavailable");
    expect(error.message).toContain("https://127.0.0.1:1 is not reachable (ECONNREFUSED)");
  });

  it("never quotes a kubeconfig it cannot parse: it holds credentials", async () => {
    const path = join(home, "broken-kubeconfig");
    await writeFile(
      path,
      'apiVersion: v1\nusers:\n- name: u\n  user: {token: "super-secret-bearer-TOKEN-123", }}\n',
    );
    process.env.KUBECONFIG = path;
    const assertion = fromServiceAccountToken({ serviceAccount: "billing" });
    const error = (await Promise.resolve(assertion(context)).catch(
      (caught: unknown) => caught,
    )) as CredentialUnavailableError;
    expect(error.code).toBe("invalid_configuration");
    expect(error.message).toContain("it is not valid YAML at line 4");
    expect(`${error.message} ${inspect(error)} ${JSON.stringify(error)}`).not.toContain(
      "super-secret",
    );
    expect(error.cause).toBeUndefined();
    delete process.env.KUBECONFIG;
  });

  it("says TLS when the kubeconfig's CA is not the server's", async () => {
    const other = await createTlsAuthority("another CA");
    const document = federation.kubernetes.kubeconfig({ token: "x" });
    document.clusters[0]!.cluster["certificate-authority-data"] = Buffer.from(
      other.caCertificate,
    ).toString("base64");
    const config = new KubeConfig();
    config.loadFromString(JSON.stringify(document));
    const assertion = fromServiceAccountToken({
      serviceAccount: "billing",
      namespace: "prod",
      kubeConfig: config,
    });
    const error = (await Promise.resolve(assertion(context)).catch(
      (caught: unknown) => caught,
    )) as Error;
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(
      /The TLS connection to the Kubernetes API server at .* failed \(\w+\): check the cluster's certificate-authority/,
    );
  });

  it("never quotes what a failing credential plugin printed, and its time counts toward the deadline", async () => {
    const withPlugin = (script: string): KubeConfig => {
      const document = federation.kubernetes.kubeconfig({ token: "x" }) as unknown as {
        users: { name: string; user: Record<string, unknown> }[];
      };
      document.users[0]!.user = {
        exec: {
          apiVersion: "client.authentication.k8s.io/v1beta1",
          command: "sh",
          args: ["-c", script],
        },
      };
      const config = new KubeConfig();
      config.loadFromString(JSON.stringify(document));
      return config;
    };
    const failing = fromServiceAccountToken({
      serviceAccount: "billing",
      namespace: "prod",
      kubeConfig: withPlugin("echo token EXEC-SECRET-777 rejected >&2; exit 1"),
    });
    const error = (await Promise.resolve(failing(context)).catch(
      (caught: unknown) => caught,
    )) as Error;
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error.message).toContain("exec plugin");
    expect(`${error.message} ${inspect(error)}`).not.toContain("EXEC-SECRET-777");

    const slow = fromServiceAccountToken({
      serviceAccount: "billing",
      namespace: "prod",
      kubeConfig: withPlugin("sleep 10"),
      requestTimeoutInMs: 400,
    });
    const started = Date.now();
    const timeout = (await Promise.resolve(slow(context)).catch(
      (caught: unknown) => caught,
    )) as Error;
    expect(timeout.message).toContain("No token for prod/billing within 400 ms");
    // Well before the plugin's 10 s, with room for a loaded machine.
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("gives up on a silent API server at requestTimeoutInMs", async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    const config = new KubeConfig();
    const document = federation.kubernetes.kubeconfig({ token: "x" });
    document.clusters[0]!.cluster.server = `https://127.0.0.1:${port}`;
    config.loadFromString(JSON.stringify(document));
    const assertion = fromServiceAccountToken({
      serviceAccount: "billing",
      namespace: "prod",
      kubeConfig: config,
      requestTimeoutInMs: 300,
    });
    const started = Date.now();
    const error = (await Promise.resolve(assertion(context)).catch(
      (caught: unknown) => caught,
    )) as Error;
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error.message).toContain("No token for prod/billing within 300 ms");
    expect(Date.now() - started).toBeLessThan(5000);
    silent.close();
  });
});
