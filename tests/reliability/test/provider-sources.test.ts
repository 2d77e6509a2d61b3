// Each provider's own source failing, through the emulator: the Kubernetes API (its fault queue,
// and a TCP gate that takes it down or makes it hang), AWS STS (its fault queue and the gate), a
// token file (missing, empty, expired, rotated) and a certificate file (missing, corrupt). For
// each: the typed error a caller of ClientAssertionCredential sees, how many requests reached
// the source and Entra, and that the next call succeeds once the fault clears. With a valid
// token cached, a failing source is never seen by callers.
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromAwsWebIdentityToken } from "@fedcred/aws";
import { certificateCredential, fromCertificate } from "@fedcred/certificate";
import {
  type AssertionFunc,
  AuthenticationError,
  ClientAssertionCredential,
  CredentialUnavailableError,
} from "@fedcred/core";
import {
  type AwsPrincipal,
  type AwsSts,
  createSelfSignedCertificate,
  type SelfSignedCertificate,
  startAwsSts,
} from "@fedcred/emulator";
import { fromFile } from "@fedcred/file";
import { fromServiceAccountToken } from "@fedcred/kubernetes";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  EXCHANGE,
  type FaultFederation,
  rejectionOf,
  SCOPE,
  SUBJECT,
  settle,
  startFaultFederation,
  TENANT,
  until,
} from "./support/faults-federation.js";
import {
  type GatedKubernetes,
  KUBERNETES_APP,
  KUBERNETES_SUBJECT,
  startGatedKubernetes,
} from "./support/faults-kubernetes.js";
import { startTcpGate, type TcpGate } from "./support/faults-tcp-gate.js";

const AWS_APP = "1a2b3c4d-0000-4000-8000-00000000a575";
const CERTIFICATE_APP = "1a2b3c4d-0000-4000-8000-00000000ce27";
const FILE_APP = "1a2b3c4d-0000-4000-8000-00000000f11e";
const REGION = "eu-west-1";
const ACCOUNT = "111122223333";
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/billing`;
const SESSION: AwsPrincipal = {
  accessKeyId: "ASIAFEDCREDRELIABLE1",
  secretAccessKey: "reliability-secret-access-key-0123456789ab",
  sessionToken: "reliability-session-token-0123456789abcdef012345",
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/billing/i-0123456789abcdef0`,
};
/** Entra's tokens live 3599 s; the credential refreshes them 5 minutes before they expire. */
const PAST_REFRESH_POINT_MS = 3300_000;

let federation: FaultFederation;
let cluster: GatedKubernetes;
let sts: AwsSts;
let stsGate: TcpGate;
let certificate: SelfSignedCertificate;
let directory: string;

beforeAll(async () => {
  [cluster, sts, certificate, directory] = await Promise.all([
    startGatedKubernetes(),
    startAwsSts({
      region: REGION,
      accounts: [
        { accountId: ACCOUNT, outboundWebIdentityFederation: true, principals: [SESSION] },
      ],
    }),
    createSelfSignedCertificate({ commonName: "fedcred reliability app" }),
    mkdtemp(join(tmpdir(), "fedcred-provider-sources-")),
  ]);
  stsGate = await startTcpGate(sts.port);
  federation = await startFaultFederation({
    trustedCertificates: [cluster.tlsAuthority.caCertificate],
  });
  const { entra } = federation;
  entra.addApp(TENANT, {
    clientId: KUBERNETES_APP,
    federatedCredentials: [
      { issuer: cluster.kubernetes.issuer, subject: KUBERNETES_SUBJECT, audiences: [EXCHANGE] },
    ],
  });
  entra.addApp(TENANT, {
    clientId: AWS_APP,
    federatedCredentials: [
      { issuer: sts.issuer(ACCOUNT), subject: ROLE_ARN, audiences: [EXCHANGE] },
    ],
  });
  entra.addApp(TENANT, { clientId: CERTIFICATE_APP, certificates: [certificate.certificatePem] });
  entra.addApp(TENANT, {
    clientId: FILE_APP,
    federatedCredentials: [
      { issuer: federation.issuer.issuer, subject: SUBJECT, audiences: [EXCHANGE] },
    ],
  });
});

afterAll(async () => {
  await federation?.close();
  await Promise.all([cluster?.close(), stsGate?.close(), sts?.close()]);
  if (directory) await rm(directory, { recursive: true, force: true });
});

const credentials: ClientAssertionCredential[] = [];

beforeEach(() => {
  federation.entra.reset();
  cluster.kubernetes.faults.clear();
  cluster.gate.mode = "pass";
  sts.faults.clear();
  stsGate.mode = "pass";
});

afterEach(async () => {
  vi.useRealTimers();
  for (const credential of credentials.splice(0)) await credential.close();
});

function credential(clientId: string, getAssertion: AssertionFunc): ClientAssertionCredential {
  const created = new ClientAssertionCredential(TENANT, clientId, getAssertion, {
    authorityHost: federation.entra.authorityHost,
    retryOptions: { maxRetries: 0 },
  });
  credentials.push(created);
  return created;
}

async function expectToken(pending: Promise<{ token: string }>): Promise<string> {
  const { token } = await pending;
  expect(token.split(".")).toHaveLength(3);
  return token;
}

describe("the Kubernetes API (fromServiceAccountToken)", () => {
  const kubernetesCredential = (requestTimeoutInMs = 30_000): ClientAssertionCredential =>
    credential(
      KUBERNETES_APP,
      fromServiceAccountToken({
        serviceAccount: "billing",
        kubeConfig: cluster.kubeConfig(),
        requestTimeoutInMs,
      }),
    );
  let kubernetesBefore = 0;
  beforeEach(() => {
    kubernetesBefore = cluster.kubernetes.tokenRequestCount;
  });
  const tokenRequests = (): number => cluster.kubernetes.tokenRequestCount - kubernetesBefore;

  it("throttled twice (429): the provider asks again and the third TokenRequest gets the token", async () => {
    cluster.kubernetes.faults.push({ status: 429, retryAfter: 0 }, 2);
    await expectToken(kubernetesCredential().getToken(SCOPE));
    expect(tokenRequests()).toBe(3);
    expect(federation.entra.tokenRequestCount).toBe(1);
  });

  for (const status of [429, 500, 502, 503, 504]) {
    it(`${status} on every attempt: an assertion_failed error after 3 TokenRequests, nothing sent to Entra; then recovery`, async () => {
      const get = kubernetesCredential();
      cluster.kubernetes.faults.push({ status, retryAfter: 0 }, 3);
      const error = await rejectionOf(get.getToken(SCOPE));
      expect(AuthenticationError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ name: "AuthenticationError", code: "assertion_failed" });
      expect(error.message).toMatch(
        new RegExp(
          `^The Kubernetes API server at https://localhost:\\d+ refused the TokenRequest for service account "billing" in namespace "prod" \\(${status} (TooManyRequests|InternalError), after 3 attempts\\)\\. The API server said: `,
        ),
      );
      expect(tokenRequests()).toBe(3);
      expect(federation.entra.tokenRequestCount).toBe(0);
      await expectToken(get.getToken(SCOPE));
      expect(tokenRequests()).toBe(4);
      expect(federation.entra.tokenRequestCount).toBe(1);
    });
  }

  it("down (connections reset): a CredentialUnavailableError that names the server, one connection; then recovery", async () => {
    const { gate } = cluster;
    const get = kubernetesCredential();
    gate.mode = "reset";
    const before = gate.accepted;
    const error = await rejectionOf(get.getToken(SCOPE));
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "assertion_unavailable" });
    expect(error.message).toBe(
      `The Kubernetes API server at https://localhost:${gate.port} is not reachable (ECONNRESET): check the kubeconfig's server, or that this runs in the cluster.`,
    );
    expect(gate.accepted - before).toBe(1);
    expect(federation.entra.tokenRequestCount).toBe(0);
    gate.mode = "pass";
    await expectToken(get.getToken(SCOPE));
    expect(tokenRequests()).toBe(1);
  });

  it("hanging past requestTimeoutInMs: a CredentialUnavailableError naming the option, the connection closed; then recovery", async () => {
    const { gate } = cluster;
    const get = kubernetesCredential(300);
    gate.mode = "hold";
    const before = gate.accepted;
    const error = await rejectionOf(get.getToken(SCOPE));
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "assertion_unavailable" });
    expect(error.message).toBe(
      `No token for prod/billing within 300 ms (options.requestTimeoutInMs): neither the kubeconfig's credential plugin nor the Kubernetes API server at https://localhost:${gate.port} answered in time.`,
    );
    await until(() => gate.openSince(before) === 0);
    expect(gate.accepted - before).toBe(1);
    gate.mode = "pass";
    await expectToken(get.getToken(SCOPE));
    expect(tokenRequests()).toBe(1);
  });

  it("down while a valid token is cached: callers keep it, one attempt per 30 s, then the refresh succeeds", async () => {
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    const { gate } = cluster;
    const get = kubernetesCredential();
    const cached = await expectToken(get.getToken(SCOPE));
    gate.mode = "reset";
    const before = gate.accepted;
    // Past the refresh point, and past 80% of the service-account token's hour: both renew.
    vi.advanceTimersByTime(PAST_REFRESH_POINT_MS);
    for (let caller = 0; caller < 10; caller++) {
      expect((await get.getToken(SCOPE)).token).toBe(cached);
    }
    await until(() => gate.accepted === before + 1);
    await settle();
    vi.advanceTimersByTime(29_999);
    expect((await get.getToken(SCOPE)).token).toBe(cached);
    await settle();
    expect(gate.accepted).toBe(before + 1);
    expect(federation.entra.tokenRequestCount).toBe(1);

    gate.mode = "pass";
    vi.advanceTimersByTime(1);
    expect((await get.getToken(SCOPE)).token).toBe(cached);
    await until(() => federation.entra.tokenRequestCount === 2);
    expect(tokenRequests()).toBe(2);
  });
});

describe("AWS STS (fromAwsWebIdentityToken)", () => {
  const awsCredential = (requestTimeoutInMs = 30_000): ClientAssertionCredential =>
    credential(
      AWS_APP,
      fromAwsWebIdentityToken({
        requestTimeoutInMs,
        clientConfig: {
          endpoint: `http://127.0.0.1:${stsGate.port}`,
          region: REGION,
          credentials: {
            accessKeyId: SESSION.accessKeyId,
            secretAccessKey: SESSION.secretAccessKey,
            sessionToken: SESSION.sessionToken,
          },
          maxAttempts: 3,
        },
      }),
    );
  const webIdentityRequests = (): number =>
    sts.requests.filter((request) => request.action === "GetWebIdentityToken").length;
  let stsBefore = 0;
  beforeEach(() => {
    stsBefore = webIdentityRequests();
  });
  const stsRequests = (): number => webIdentityRequests() - stsBefore;

  it("throttled twice: the SDK's retries get the token on the third request", async () => {
    sts.injectFault({ code: "Throttling" }, { count: 2 });
    await expectToken(awsCredential().getToken(SCOPE));
    expect(stsRequests()).toBe(3);
    expect(federation.entra.tokenRequestCount).toBe(1);
  });

  it("throttled on every attempt: an assertion_failed error after maxAttempts requests; then recovery", async () => {
    const get = awsCredential();
    sts.injectFault({ code: "Throttling" }, { count: 3 });
    const error = await rejectionOf(get.getToken(SCOPE));
    expect(AuthenticationError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "assertion_failed", statusCode: 400 });
    expect(error.message).toBe(
      "AWS STS throttled GetWebIdentityToken (Throttling), also after the SDK's retries: the token is kept until 80% of its lifetime, so many processes or credentials share this account's STS quota. Try again later, or allow more retries (clientConfig.maxAttempts).",
    );
    expect(stsRequests()).toBe(3);
    expect(federation.entra.tokenRequestCount).toBe(0);
    await expectToken(get.getToken(SCOPE));
    expect(stsRequests()).toBe(4);
  });

  for (const [code, status] of [
    ["InternalFailure", 500],
    ["ServiceUnavailable", 503],
  ] as const) {
    it(`${code} (${status}) on every attempt: assertion_unavailable after maxAttempts requests; then recovery`, async () => {
      const get = awsCredential();
      sts.injectFault({ code }, { count: 3 });
      const error = await rejectionOf(get.getToken(SCOPE));
      expect(CredentialUnavailableError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ code: "assertion_unavailable" });
      expect(error.message).toMatch(
        new RegExp(
          `^AWS STS is unavailable \\(${status} ${code}, after 3 attempts\\): try again later; clientConfig\\.maxAttempts allows the SDK more retries\\. STS said: `,
        ),
      );
      expect(stsRequests()).toBe(3);
      expect(federation.entra.tokenRequestCount).toBe(0);
      await expectToken(get.getToken(SCOPE));
      expect(stsRequests()).toBe(4);
    });
  }

  it("down (connections reset): assertion_unavailable, at most maxAttempts connections; then recovery", async () => {
    const get = awsCredential();
    stsGate.mode = "reset";
    const before = stsGate.accepted;
    const error = await rejectionOf(get.getToken(SCOPE));
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "assertion_unavailable" });
    expect(error.message).toMatch(/ECONNRESET/);
    expect(error.message).toMatch(/check the network route to the regional STS endpoint/);
    expect(stsGate.accepted - before).toBeGreaterThanOrEqual(1);
    expect(stsGate.accepted - before).toBeLessThanOrEqual(3);
    expect(federation.entra.tokenRequestCount).toBe(0);
    stsGate.mode = "pass";
    await expectToken(get.getToken(SCOPE));
    expect(stsRequests()).toBe(1);
  });

  it("hanging past requestTimeoutInMs: assertion_unavailable naming the option, the connection closed; then recovery", async () => {
    const get = awsCredential(300);
    stsGate.mode = "hold";
    const before = stsGate.accepted;
    const error = await rejectionOf(get.getToken(SCOPE));
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "assertion_unavailable" });
    expect(error.message).toBe(
      "AWS STS did not answer GetWebIdentityToken within 300 ms (options.requestTimeoutInMs): check the network route to the regional STS endpoint, AWS_ENDPOINT_URL_STS or clientConfig.endpoint, and any proxy.",
    );
    // The SDK closed the connection it had opened to the hanging endpoint.
    await until(() => stsGate.openSince(before) === 0);
    expect(stsGate.accepted - before).toBe(1);
    stsGate.mode = "pass";
    await expectToken(get.getToken(SCOPE));
    expect(stsRequests()).toBe(1);
  });

  it("aborted while STS hangs: an AbortError at once, the connection closed, nothing sent to Entra", async () => {
    const get = awsCredential(600_000);
    stsGate.mode = "hold";
    const before = stsGate.accepted;
    const controller = new AbortController();
    const pending = get.getToken(SCOPE, { abortSignal: controller.signal });
    await until(() => stsGate.openSince(before) > 0);
    controller.abort();
    const error = await rejectionOf(pending);
    expect({ name: error.name, message: error.message }).toEqual({
      name: "AbortError",
      message: "The operation was aborted.",
    });
    await until(() => stsGate.openSince(before) === 0);
    expect(stsGate.accepted - before).toBe(1);
    expect(federation.entra.tokenRequestCount).toBe(0);
  });

  it("throttling while a valid token is cached: callers keep it, nothing thrown; the next refresh succeeds", async () => {
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    const get = awsCredential();
    const cached = await expectToken(get.getToken(SCOPE));
    sts.injectFault({ code: "Throttling" }, { count: 3 });
    vi.advanceTimersByTime(PAST_REFRESH_POINT_MS);
    for (let caller = 0; caller < 10; caller++) {
      expect((await get.getToken(SCOPE)).token).toBe(cached);
    }
    await until(() => stsRequests() === 4 && sts.faults.queued.length === 0);
    await settle();
    vi.advanceTimersByTime(29_999);
    expect((await get.getToken(SCOPE)).token).toBe(cached);
    await settle();
    expect(stsRequests()).toBe(4);
    expect(federation.entra.tokenRequestCount).toBe(1);
    vi.advanceTimersByTime(1);
    expect((await get.getToken(SCOPE)).token).toBe(cached);
    await until(() => federation.entra.tokenRequestCount === 2);
    expect(stsRequests()).toBe(5);
  });
});

describe("a token file (fromFile)", () => {
  const mint = (claims: Record<string, unknown> = {}, lifetimeSeconds = 3600): Promise<string> =>
    federation.issuer.mint({ subject: SUBJECT, audience: EXCHANGE, claims, lifetimeSeconds });

  it("missing, empty, then expired: typed errors naming the file, nothing sent; the file written: a token", async () => {
    const path = join(directory, "token-file-faults");
    const get = credential(FILE_APP, fromFile({ path, retryDelayInMs: 5 }));
    const missing = await rejectionOf(get.getToken(SCOPE));
    expect(CredentialUnavailableError.isInstance(missing)).toBe(true);
    expect(missing).toMatchObject({ code: "assertion_unavailable" });
    expect(missing.message).toBe(
      `The token file ${path} does not exist: check options.path or AZURE_FEDERATED_TOKEN_FILE, and that the volume is mounted.`,
    );

    await writeFile(path, " \n");
    const empty = await rejectionOf(get.getToken(SCOPE));
    expect(empty).toMatchObject({
      name: "CredentialUnavailableError",
      code: "assertion_unavailable",
    });
    expect(empty.message).toBe(
      `The token file ${path} is empty: whatever writes it has not written a token yet.`,
    );

    await writeFile(path, await mint({}, -60));
    const expired = await rejectionOf(get.getToken(SCOPE));
    expect(expired).toMatchObject({
      name: "CredentialUnavailableError",
      code: "assertion_expired",
    });
    expect(expired.message).toMatch(
      new RegExp(
        `^The token in ${path.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} expired at .+: whatever writes the file \\(the kubelet, a CI runner\\) has stopped refreshing it\\.$`,
      ),
    );
    expect(federation.entra.tokenRequestCount).toBe(0);

    await writeFile(path, await mint());
    await expectToken(get.getToken(SCOPE));
    expect(federation.entra.tokenRequestCount).toBe(1);
  });

  it("rotated by an atomic rename between token requests: each request sends the file's token of the moment", async () => {
    const path = join(directory, "token-file-rotating");
    const source = fromFile({ path });
    const written: string[] = [];
    for (let rotation = 0; rotation < 3; rotation++) {
      const token = await mint({ rotation });
      written.push(token);
      const staged = `${path}.${rotation}.tmp`;
      await writeFile(staged, token);
      await rename(staged, path);
      // A new credential has nothing cached: each one sends a token request.
      await expectToken(credential(FILE_APP, source).getToken(SCOPE));
    }
    expect(federation.entra.requests.map((request) => request.form.client_assertion)).toEqual(
      written,
    );
  });
});

describe("a certificate file (fromCertificate)", () => {
  it("missing: an invalid_configuration error at once, naming the option and the path, nothing sent", async () => {
    const path = join(directory, "no-such-certificate.pem");
    let thrown: unknown;
    try {
      fromCertificate({ certificatePath: path });
    } catch (error) {
      thrown = error;
    }
    expect(CredentialUnavailableError.isInstance(thrown)).toBe(true);
    expect(thrown).toMatchObject({ code: "invalid_configuration" });
    expect((thrown as Error).message).toBe(
      `options.certificatePath (${path}) cannot be read (ENOENT): check the path and this process's permission to read it.`,
    );
    expect(() => certificateCredential(TENANT, CERTIFICATE_APP, { certificatePath: path })).toThrow(
      CredentialUnavailableError,
    );
    expect(federation.entra.tokenRequestCount).toBe(0);
  });

  const half = (text: string): string => text.slice(0, Math.floor(text.length / 2));
  const notACertificate =
    "is not a certificate: neither PEM (-----BEGIN CERTIFICATE-----) nor a PKCS#12 (.pfx) file.";
  const corrupt: [string, () => string | Buffer, string][] = [
    [
      "random bytes",
      () => Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37) % 256)),
      notACertificate,
    ],
    [
      "a truncated certificate",
      () => half(certificate.certificatePem) + certificate.privateKeyPem,
      "holds no certificate (no complete -----BEGIN CERTIFICATE----- block).",
    ],
    [
      "a key without its certificate",
      () => certificate.privateKeyPem,
      "holds no certificate (no complete -----BEGIN CERTIFICATE----- block), only a private key: add the certificate.",
    ],
    [
      "a certificate without its key",
      () => certificate.certificatePem,
      "holds no private key: add it to the PEM file (-----BEGIN PRIVATE KEY-----), pass options.privateKey, or use a PKCS#12 (.pfx) file with the key.",
    ],
    ["an empty file", () => "", notACertificate],
  ];
  for (const [name, content, problem] of corrupt) {
    it(`${name}: an invalid_configuration error at once, saying what is wrong; the right file works`, async () => {
      const path = join(directory, `certificate-${name.replace(/\W+/g, "-")}.pem`);
      await writeFile(path, content());
      let thrown: unknown;
      try {
        fromCertificate({ certificatePath: path });
      } catch (error) {
        thrown = error;
      }
      expect(CredentialUnavailableError.isInstance(thrown)).toBe(true);
      expect(thrown).toMatchObject({ code: "invalid_configuration" });
      expect((thrown as Error).message).toBe(`options.certificatePath (${path}) ${problem}`);
      // Nothing of the key ever shows in the message.
      expect((thrown as Error).message).not.toContain(certificate.privateKeyPem.slice(40, 80));
      expect(federation.entra.tokenRequestCount).toBe(0);

      // The file fixed: the next credential made from it gets a token.
      await writeFile(path, certificate.certificatePem + certificate.privateKeyPem);
      await expectToken(
        credential(CERTIFICATE_APP, fromCertificate({ certificatePath: path })).getToken(SCOPE),
      );
      expect(federation.entra.tokenRequestCount).toBe(1);
    });
  }
});
