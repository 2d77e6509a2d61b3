import { writeFileSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import { STSClient, type STSClientConfig } from "@aws-sdk/client-sts";
import { AuthenticationError } from "@fedcred/core";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { fromAwsWebIdentityToken } from "../src/index.js";
import { context, expectNoSecrets, expectUnavailable, failureOf } from "./failure-of.js";
import {
  BILLING_SESSION,
  claimsOf,
  type Federation,
  REGION,
  startFederation,
} from "./federation.js";
import { type LoopbackServer, startLoopbackServer, stsErrorXml } from "./loopback-server.js";
import { scratchDirectory } from "./scratch-directory.js";

let federation: Federation;
const directory = scratchDirectory();

beforeAll(async () => {
  federation = await startFederation();
});
afterAll(() => federation?.close());
afterEach(() => {
  vi.unstubAllEnvs();
});

/** The billing session's keys, as a credentials provider returns them. */
const BILLING_KEYS = {
  accessKeyId: BILLING_SESSION.accessKeyId,
  secretAccessKey: BILLING_SESSION.secretAccessKey,
  sessionToken: BILLING_SESSION.sessionToken,
};

/** A credentials provider that answers with the billing session's keys after `delayMs`. */
function keysAfter(delayMs: number): () => Promise<typeof BILLING_KEYS> {
  return () =>
    new Promise((resolve) => {
      setTimeout(resolve, delayMs, BILLING_KEYS).unref();
    });
}

/** The emulated STS's client configuration with `credentials` in place of the session's keys. */
function configWith(credentials: unknown, extra: Record<string, unknown> = {}): STSClientConfig {
  return { ...federation.clientConfig(BILLING_SESSION, extra), credentials } as STSClientConfig;
}

describe("the AWS credentials are obtained first, and their failures are theirs", () => {
  it("EKS IRSA: a refused AssumeRoleWithWebIdentity names the role's trust policy and the token file, not sts:GetWebIdentityToken", async () => {
    // The default chain's web identity step: the token file and role from the pod's environment,
    // exchanged at STS (here a loopback stand-in that refuses as STS does).
    const irsaToken =
      "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6cHJvZDpiaWxsaW5nIn0.c2ln";
    const tokenFile = join(directory, "irsa-token");
    writeFileSync(tokenFile, irsaToken);
    const sts = await startLoopbackServer(() => ({
      status: 403,
      headers: { "content-type": "text/xml", "x-amzn-requestid": "c6104cbe" },
      body: stsErrorXml("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"),
    }));
    try {
      vi.stubEnv("AWS_REGION", REGION);
      vi.stubEnv("AWS_ENDPOINT_URL_STS", sts.url);
      vi.stubEnv("AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile);
      vi.stubEnv("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/billing");
      const error = await failureOf({ clientConfig: { maxAttempts: 1 } });
      expectUnavailable(
        error,
        "assertion_unavailable",
        "The AWS credentials could not be obtained from the SDK's default provider chain (AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity)",
      );
      expect(error.message).toContain("AWS_WEB_IDENTITY_TOKEN_FILE");
      expect(error.message).toContain("trust policy");
      expect(error.message).not.toContain('sts:GetWebIdentityToken"');
      // GetWebIdentityToken was never sent: nothing to sign it with.
      expect(sts.requests.map((request) => request.form.Action)).toEqual([
        "AssumeRoleWithWebIdentity",
      ]);
      expectNoSecrets(error, irsaToken);
    } finally {
      await sts.close();
    }
  });

  it("a throwing clientConfig.credentials: names it and what it said (its first line only), and calls no STS", async () => {
    const before = federation.sts.requests.length;
    const error = await failureOf({
      clientConfig: configWith(async () => {
        throw new Error(
          `vault refused the lease for role billing\nlease: ${BILLING_SESSION.secretAccessKey}`,
        );
      }),
    });
    expectUnavailable(
      error,
      "assertion_unavailable",
      "The AWS credentials could not be obtained from options.clientConfig.credentials (Error: vault refused the lease for role billing)",
    );
    expect(error.message).not.toContain("AWS STS");
    expect(federation.sts.requests.length).toBe(before);
    expectNoSecrets(error, BILLING_SESSION.secretAccessKey);
  });

  it.each([
    ["no secret access key", { accessKeyId: BILLING_SESSION.accessKeyId }, "secretAccessKey"],
    ["an empty access key id", { accessKeyId: "", secretAccessKey: "x" }, "accessKeyId"],
  ])(
    "incomplete credentials (%s): invalid_configuration naming what is missing",
    async (_label, credentials, missing) => {
      const before = federation.sts.requests.length;
      const error = await failureOf({ clientConfig: configWith(credentials) });
      expectUnavailable(
        error,
        "invalid_configuration",
        "The AWS credentials from options.clientConfig.credentials are incomplete",
      );
      expect(error.message).toContain(missing);
      expect(federation.sts.requests.length).toBe(before);
    },
  );

  it("a given STSClient's credentials are obtained first too", async () => {
    const client = new STSClient(
      configWith(async () => {
        throw new Error("the credential broker is down");
      }),
    );
    const error = await failureOf({ client });
    expect(error.code).toBe("assertion_unavailable");
    expect(error.message).toContain(
      "could not be obtained from options.client's credentials provider (Error: the credential broker is down)",
    );
  });

  it("the SDK asks the provider once: fedcred's early call and the signature share its answer", async () => {
    let calls = 0;
    const jwt = await fromAwsWebIdentityToken({
      clientConfig: configWith(async () => {
        calls++;
        return { ...BILLING_KEYS, expiration: new Date(Date.now() + 3_600_000) };
      }),
    })(context);
    expect(claimsOf(jwt).sub).toBe("arn:aws:iam::111122223333:role/billing");
    expect(calls).toBe(1);
  });
});

describe("one deadline covers the credentials and the STS call", () => {
  let hung: LoopbackServer;
  beforeAll(async () => {
    hung = await startLoopbackServer(() => "silent");
  });
  afterAll(() => hung?.close());

  it("a credentials provider that hangs on an HTTP GET is cut off, and the message names it, not STS", async () => {
    const before = federation.sts.requests.length;
    // Like the container credentials provider, reading from an endpoint that never answers.
    const credentials = () =>
      new Promise((resolve, reject) => {
        get(`${hung.url}/credentials`, (response) => {
          let body = "";
          response.on("data", (chunk) => {
            body += chunk;
          });
          response.on("end", () => resolve(JSON.parse(body)));
        }).on("error", reject);
      });
    const startedAt = performance.now();
    const error = await failureOf({
      clientConfig: configWith(credentials),
      requestTimeoutInMs: 300,
    });
    expect(performance.now() - startedAt).toBeLessThan(5_000);
    expectUnavailable(
      error,
      "assertion_unavailable",
      "No AWS credentials within 300 ms (options.requestTimeoutInMs): options.clientConfig.credentials did not answer in time",
    );
    expect(error.message).not.toContain("AWS STS did not answer");
    expect(federation.sts.requests.length).toBe(before);
  });

  it("a provider that answers after 3 s is not waited for past a 300 ms deadline", async () => {
    const before = federation.sts.requests.length;
    const error = await failureOf({
      clientConfig: configWith(keysAfter(3_000)),
      requestTimeoutInMs: 300,
    });
    expect(error.message).toContain("No AWS credentials within 300 ms");
    expect(federation.sts.requests.length).toBe(before);
  });

  it("time spent on the credentials counts against the STS call", async () => {
    // 3 s for the credentials, then a silent STS: one 5 s deadline ends it near 5 s, where a
    // fresh deadline per step would wait until 8 s. A loaded machine has 2 s to call STS after
    // the credentials, and 2 s more to report.
    const startedAt = performance.now();
    const error = await failureOf({
      clientConfig: configWith(keysAfter(3_000), { endpoint: hung.url }),
      requestTimeoutInMs: 5_000,
    });
    const elapsed = performance.now() - startedAt;
    expect(error.message).toContain("AWS STS did not answer GetWebIdentityToken within 5000 ms");
    expect(elapsed).toBeGreaterThanOrEqual(4_900);
    expect(elapsed).toBeLessThan(7_000);
  });
});

describe("STS answers are still STS's", () => {
  it("with the credentials in hand, a refusal of GetWebIdentityToken is still an AuthenticationError", async () => {
    const error = await failureOf({
      clientConfig: configWith({
        accessKeyId: BILLING_SESSION.accessKeyId,
        secretAccessKey: "wrong-secret",
      }),
    });
    expect(AuthenticationError.isInstance(error)).toBe(true);
    expect(error.message).toContain("SignatureDoesNotMatch");
  });
});
