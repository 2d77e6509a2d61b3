// Abort at every stage of a getToken: before the call, while the assertion is fetched (a slow
// callback, a Kubernetes API that hangs), during the token request (Entra holds its answer) and
// during the wait between retries. The promise rejects with an AbortError (the name Azure SDK
// callers check), nothing more is sent, and the servers see every connection closed. Holds are
// far longer than any test runs, so a rejection at all means the abort, not the hold, ended it.
// The last test runs each stage in a child process that must exit by itself: no request, timer
// or socket is left to keep it alive.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { type AssertionContext, ClientAssertionCredential } from "@fedcred/core";
import { fromServiceAccountToken } from "@fedcred/kubernetes";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  EXCHANGE,
  type FaultFederation,
  rejectionOf,
  SCOPE,
  settle,
  startFaultFederation,
  TENANT,
  tokenStatuses,
  until,
} from "./support/faults-federation.js";
import {
  type GatedKubernetes,
  KUBERNETES_APP,
  KUBERNETES_SUBJECT,
  startGatedKubernetes,
} from "./support/faults-kubernetes.js";

/** Longer than any test: a hold that ends by itself would fail the test by its timeout. */
const FOREVER_MS = 600_000;

let federation: FaultFederation;
let cluster: GatedKubernetes;

beforeAll(async () => {
  cluster = await startGatedKubernetes();
  federation = await startFaultFederation({
    trustedCertificates: [cluster.tlsAuthority.caCertificate],
  });
  federation.entra.addApp(TENANT, {
    clientId: KUBERNETES_APP,
    federatedCredentials: [
      { issuer: cluster.kubernetes.issuer, subject: KUBERNETES_SUBJECT, audiences: [EXCHANGE] },
    ],
  });
});

afterAll(async () => {
  await federation?.close();
  await cluster?.close();
});

beforeEach(() => {
  federation.entra.reset();
  cluster.gate.mode = "pass";
});

function expectAbortError(error: Error): void {
  expect(error).toBeInstanceOf(Error);
  expect(error.name).toBe("AbortError");
  expect(error.message).toBe("The operation was aborted.");
}

describe("abort", () => {
  it("before the call: rejects at once; the assertion is never asked for, nothing is sent", async () => {
    let asked = 0;
    const credential = federation.credential({}, (context) => {
      asked += 1;
      return federation.assertion(context);
    });
    const error = await rejectionOf(
      credential.getToken(SCOPE, { abortSignal: AbortSignal.abort() }),
    );
    expectAbortError(error);
    expect(asked).toBe(0);
    expect(federation.entra.tokenRequestCount).toBe(0);
    // The credential is not harmed: the next call gets a token.
    await expect(credential.getToken(SCOPE)).resolves.toMatchObject({ tokenType: "Bearer" });
    expect(asked).toBe(1);
  });

  it("while a slow assertion callback runs: rejects, the callback's signal aborts, nothing is sent", async () => {
    let seen: AbortSignal | undefined;
    let entered!: () => void;
    const inCallback = new Promise<void>((resolve) => {
      entered = resolve;
    });
    // A callback that honours nothing: it never settles.
    const credential = federation.credential({}, (context: AssertionContext) => {
      seen = context.abortSignal;
      entered();
      return new Promise<string>(() => {});
    });
    const controller = new AbortController();
    const pending = credential.getToken(SCOPE, { abortSignal: controller.signal });
    await inCallback;
    controller.abort();
    expectAbortError(await rejectionOf(pending));
    expect(seen?.aborted).toBe(true);
    await settle();
    expect(federation.entra.tokenRequestCount).toBe(0);
  });

  it("while the Kubernetes API hangs (fromServiceAccountToken): rejects, the connection is closed, nothing reaches Entra", async () => {
    const { gate } = cluster;
    gate.mode = "hold";
    const credential = new ClientAssertionCredential(
      TENANT,
      KUBERNETES_APP,
      fromServiceAccountToken({
        serviceAccount: "billing",
        kubeConfig: cluster.kubeConfig(),
        requestTimeoutInMs: FOREVER_MS,
      }),
      { authorityHost: federation.entra.authorityHost },
    );
    try {
      const acceptedBefore = gate.accepted;
      const controller = new AbortController();
      const pending = credential.getToken(SCOPE, { abortSignal: controller.signal });
      await until(() => gate.openSince(acceptedBefore) > 0);
      controller.abort();
      expectAbortError(await rejectionOf(pending));
      // The client closed the connection it had opened to the hanging server.
      await until(() => gate.openSince(acceptedBefore) === 0);
      expect(gate.accepted).toBe(acceptedBefore + 1);
      expect(cluster.tokenRequests()).toBe(0);
      expect(federation.entra.tokenRequestCount).toBe(0);

      // The API server answers again: the next call mints a token and gets an access token.
      gate.mode = "pass";
      await expect(credential.getToken(SCOPE)).resolves.toMatchObject({ tokenType: "Bearer" });
      expect(cluster.tokenRequests()).toBe(1);
      expect(tokenStatuses(federation.entra)).toEqual([200]);
    } finally {
      await credential.close();
    }
  });

  it("during the token request (Entra holds its answer): rejects, Entra sees the client close the connection", async () => {
    const { entra } = federation;
    const credential = federation.credential({ requestTimeoutInMs: FOREVER_MS });
    entra.injectFault({ kind: "delay", delayMs: FOREVER_MS });
    const controller = new AbortController();
    const pending = credential.getToken(SCOPE, { abortSignal: controller.signal });
    await until(() => entra.tokenRequestCount === 1);
    controller.abort();
    expectAbortError(await rejectionOf(pending));
    // 499: the emulator's hold ended because the client closed the connection.
    await until(() => tokenStatuses(entra)[0] === 499);
    await settle();
    expect(entra.tokenRequestCount).toBe(1);
    await expect(credential.getToken(SCOPE)).resolves.toMatchObject({ tokenType: "Bearer" });
    expect(tokenStatuses(entra)).toEqual([499, 200]);
  });

  it("during the wait between retries (Retry-After: 600): rejects, no further attempt is sent", async () => {
    const { entra } = federation;
    const credential = federation.credential({
      retryOptions: { maxRetries: 3, retryDelayInMs: 10, maxRetryDelayInMs: FOREVER_MS },
    });
    entra.injectFault({ kind: "status", status: 429, retryAfter: 600 });
    const controller = new AbortController();
    const pending = credential.getToken(SCOPE, { abortSignal: controller.signal });
    await until(() => tokenStatuses(entra)[0] === 429);
    await settle();
    controller.abort();
    expectAbortError(await rejectionOf(pending));
    await settle(100);
    expect(entra.tokenRequestCount).toBe(1);
    // An aborted wait is no failure of the endpoint: no cool-down, the next call is sent at once.
    await expect(credential.getToken(SCOPE)).resolves.toMatchObject({ tokenType: "Bearer" });
    expect(tokenStatuses(entra)).toEqual([429, 200]);
  });

  it("one caller aborting leaves the others sharing the request untouched", async () => {
    const { entra } = federation;
    const credential = federation.credential();
    entra.injectFault({ kind: "delay", delayMs: 300 });
    const controller = new AbortController();
    const leaving = credential.getToken(SCOPE, { abortSignal: controller.signal });
    const staying = Array.from({ length: 5 }, () => credential.getToken(SCOPE));
    await until(() => entra.tokenRequestCount === 1);
    controller.abort();
    expectAbortError(await rejectionOf(leaving));
    const tokens = await Promise.all(staying);
    expect(new Set(tokens.map(({ token }) => token)).size).toBe(1);
    expect(tokenStatuses(entra)).toEqual([200]);
  });
});

describe("abort leaves nothing running", () => {
  it("a process that aborts at each stage, and closes nothing, exits by itself", async () => {
    const { entra } = federation;
    entra.injectFault({ kind: "delay", delayMs: FOREVER_MS });
    entra.injectFault({ kind: "status", status: 503, retryAfter: 600 });
    const child = join(import.meta.dirname, "support", "faults-abort-child.mjs");
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((resolve) => {
      const running = execFile(
        process.execPath,
        [child],
        {
          cwd: import.meta.dirname,
          // Killed only if it hangs: ending by itself is what this test asserts.
          timeout: 60_000,
          env: {
            ...process.env,
            AZURE_LOG_LEVEL: "",
            FEDCRED_AUTHORITY_HOST: entra.authorityHost,
            FEDCRED_TENANT_ID: TENANT,
            FEDCRED_KUBECONFIG: cluster.kubeConfig().exportConfig(),
          },
        },
        (error, out, err) =>
          resolve({ code: error ? (running.exitCode ?? -1) : 0, stdout: out, stderr: err }),
      );
      cluster.gate.mode = "hold";
    });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const results = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { stage: string; name: string; message: string });
    expect(results).toEqual(
      ["before", "assertion", "kubernetes", "request", "retry-wait"].map((stage) => ({
        stage,
        name: "AbortError",
        message: "The operation was aborted.",
      })),
    );
    // The held request and the one waiting to be retried each reached Entra once.
    expect(tokenStatuses(entra)).toEqual([499, 503]);
  });
});
