import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { STSClient } from "@aws-sdk/client-sts";
import {
  AuthenticationError,
  ClientAssertionCredential,
  CredentialUnavailableError,
} from "@fedcred/core";
import { createTlsAuthority } from "@fedcred/emulator";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type AwsWebIdentityTokenOptions, fromAwsWebIdentityToken } from "../src/index.js";
import { context, expectNoSecrets, expectUnavailable, failureOf } from "./failure-of.js";
import {
  APP,
  BILLING_SESSION,
  DISABLED_SESSION,
  EXPIRED_SESSION,
  type Federation,
  REGION,
  SCOPE,
  SHORT_SESSION,
  startFederation,
  TENANT,
  UNPERMITTED_SESSION,
  UNTAGGED_SESSION,
} from "./federation.js";
import { startLoopbackServer, unusedPort } from "./loopback-server.js";
import { scratchDirectory } from "./scratch-directory.js";

let federation: Federation;
const directory = scratchDirectory();

beforeAll(async () => {
  federation = await startFederation();
});
afterAll(() => federation?.close());
afterEach(() => {
  vi.unstubAllEnvs();
  federation.sts.faults.clear();
});

describe("STS refusals say what to fix", () => {
  it("federation disabled: names the one-time enablement and where to read the issuer URL", async () => {
    const before = federation.webIdentityRequests().length;
    const error = await failureOf({ clientConfig: federation.clientConfig(DISABLED_SESSION) });
    expect(AuthenticationError.isInstance(error)).toBe(true);
    expect(error.code).toBe("assertion_failed");
    expect((error as AuthenticationError).statusCode).toBe(403);
    expect(error.message).toContain("OutboundWebIdentityFederationDisabledException");
    expect(error.message).toContain("aws iam enable-outbound-web-identity-federation");
    expect(error.message).toContain("aws iam get-outbound-web-identity-federation-info");
    expect(error.message).toContain("https://{id}.tokens.sts.global.api.aws");
    expect(federation.webIdentityRequests().slice(before)).toMatchObject([
      {
        accessKeyId: DISABLED_SESSION.accessKeyId,
        status: 403,
        errorCode: "OutboundWebIdentityFederationDisabledException",
      },
    ]);
    expectNoSecrets(error, DISABLED_SESSION.secretAccessKey, DISABLED_SESSION.sessionToken);
  });

  it("a wrong secret key: SignatureDoesNotMatch names the secret to check, never the keys", async () => {
    const wrong = {
      ...BILLING_SESSION,
      secretAccessKey: "not-the-billing-secret-access-key-000000",
    };
    const error = await failureOf({ clientConfig: federation.clientConfig(wrong) });
    expect(AuthenticationError.isInstance(error)).toBe(true);
    expect(error.code).toBe("assertion_failed");
    expect(error.message).toContain("SignatureDoesNotMatch");
    expect(error.message).toContain("AWS_SECRET_ACCESS_KEY");
    expect(federation.sts.requests.at(-1)).toMatchObject({
      accessKeyId: BILLING_SESSION.accessKeyId,
      status: 403,
      errorCode: "SignatureDoesNotMatch",
    });
    expectNoSecrets(error, wrong.secretAccessKey, BILLING_SESSION.sessionToken);
  });

  it("keeps only the first line of what STS says: AWS may append the canonical request, session token included", async () => {
    federation.sts.injectFault({
      code: "SignatureDoesNotMatch",
      status: 403,
      message: [
        "The request signature we calculated does not match the signature you provided.",
        "",
        "The Canonical String for this request should have been",
        `'POST\n/\n\nhost:sts.eu-west-1.amazonaws.com\nx-amz-security-token:${BILLING_SESSION.sessionToken}\n'`,
      ].join("\n"),
    });
    const error = await failureOf({ clientConfig: federation.clientConfig(BILLING_SESSION) });
    expect(error.message).toContain(
      "STS said: The request signature we calculated does not match the signature you provided.",
    );
    expect(error.message).not.toContain("Canonical");
    expect(federation.webIdentityRequests().at(-1)).toMatchObject({
      status: 403,
      errorCode: "SignatureDoesNotMatch",
    });
    expectNoSecrets(error, BILLING_SESSION.secretAccessKey, BILLING_SESSION.sessionToken);
  });

  it("temporary keys without their session token: InvalidClientTokenId names AWS_SESSION_TOKEN", async () => {
    const { sessionToken: _sessionToken, ...withoutToken } = BILLING_SESSION;
    const error = await failureOf({ clientConfig: federation.clientConfig(withoutToken) });
    expect(error.code).toBe("assertion_failed");
    expect(error.message).toContain("InvalidClientTokenId");
    expect(error.message).toContain("AWS_SESSION_TOKEN");
    expect(federation.sts.requests.at(-1)?.errorCode).toBe("InvalidClientTokenId");
  });

  it("expired session keys: ExpiredToken says to renew them", async () => {
    const error = await failureOf({ clientConfig: federation.clientConfig(EXPIRED_SESSION) });
    expect(error.code).toBe("assertion_failed");
    expect(error.message).toContain("have expired (ExpiredToken)");
    expect(federation.sts.requests.at(-1)?.errorCode).toBe("ExpiredToken");
  });

  it("a token that would outlive the session: SessionDurationEscalationException names durationSeconds", async () => {
    const error = await failureOf({
      clientConfig: federation.clientConfig(SHORT_SESSION),
      durationSeconds: 3600,
    });
    expect(error.code).toBe("assertion_failed");
    expect(error.message).toContain("durationSeconds 3600");
    expect(federation.webIdentityRequests().at(-1)).toMatchObject({
      params: { DurationSeconds: "3600" },
      errorCode: "SessionDurationEscalationException",
    });
  });

  describe("access denied by the caller's IAM policies", () => {
    it("names the sts:GetWebIdentityToken permission and the audience condition", async () => {
      const before = federation.webIdentityRequests().length;
      const error = await failureOf({
        clientConfig: federation.clientConfig(UNPERMITTED_SESSION),
      });
      expect(AuthenticationError.isInstance(error)).toBe(true);
      expect(error.code).toBe("assertion_failed");
      expect(error.message).toContain(
        'must allow "sts:GetWebIdentityToken", for the audience "api://AzureADTokenExchange" (condition key sts:IdentityTokenAudience)',
      );
      expect(error.message).not.toContain("sts:TagGetWebIdentityToken");
      // STS's own words name the caller and the action.
      expect(error.message).toContain(
        `User: ${UNPERMITTED_SESSION.arn} is not authorized to perform: sts:GetWebIdentityToken`,
      );
      expect(federation.webIdentityRequests().slice(before)).toMatchObject([
        { accessKeyId: UNPERMITTED_SESSION.accessKeyId, status: 403, errorCode: "AccessDenied" },
      ]);
      expectNoSecrets(error, UNPERMITTED_SESSION.secretAccessKey, UNPERMITTED_SESSION.sessionToken);
    });

    it("with tags, names sts:TagGetWebIdentityToken too", async () => {
      const error = await failureOf({
        clientConfig: federation.clientConfig(UNTAGGED_SESSION),
        tags: { team: "billing" },
      });
      expect(error.message).toContain('"sts:GetWebIdentityToken" and "sts:TagGetWebIdentityToken"');
      expect(error.message).toContain(
        `User: ${UNTAGGED_SESSION.arn} is not authorized to perform: sts:TagGetWebIdentityToken`,
      );
      expect(federation.webIdentityRequests().at(-1)).toMatchObject({
        params: { "Tags.member.1.Key": "team", "Tags.member.1.Value": "billing" },
        status: 403,
        errorCode: "AccessDenied",
      });
    });
  });

  it("throttling, after the SDK's retries, says so", async () => {
    const before = federation.webIdentityRequests().length;
    federation.sts.injectFault({ code: "Throttling" }, { count: 2 });
    const error = await failureOf({
      clientConfig: federation.clientConfig(BILLING_SESSION, { maxAttempts: 2 }),
    });
    expect(error.code).toBe("assertion_failed");
    expect(error.message).toContain("AWS STS throttled GetWebIdentityToken (Throttling)");
    // The SDK retried once, as configured.
    expect(federation.webIdentityRequests().slice(before)).toMatchObject([
      { status: 400, errorCode: "Throttling" },
      { status: 400, errorCode: "Throttling" },
    ]);
  });
});

describe("STS unavailable, or something else answering: CredentialUnavailableError, so a chain moves on", () => {
  it.each([
    ["InternalFailure", 500],
    ["ServiceUnavailable", 503],
  ] as const)(
    "STS's %s, after the SDK's retries: unavailable, not a refusal",
    async (code, status) => {
      const before = federation.webIdentityRequests().length;
      federation.sts.injectFault({ code }, { count: 2 });
      const error = await failureOf({
        clientConfig: federation.clientConfig(BILLING_SESSION, { maxAttempts: 2 }),
      });
      expectUnavailable(
        error,
        "assertion_unavailable",
        `AWS STS is unavailable (${status} ${code}, after 2 attempts)`,
        "clientConfig.maxAttempts",
      );
      expect(federation.webIdentityRequests().slice(before)).toMatchObject([
        { status, errorCode: code },
        { status, errorCode: code },
      ]);
    },
  );

  it.each([
    ["a proxy's 502 page", 502, "text/html", "<html><body>Bad Gateway</body></html>"],
    ["a 404 page at a wrong endpoint", 404, "text/html", "<html><body>Not Found</body></html>"],
    ["a 200 that is not XML", 200, "text/xml", "hello"],
    ["a 200 of another XML document", 200, "text/xml", "<Status><Ok>true</Ok></Status>"],
    ["a 403 in JSON", 403, "application/json", '{"message":"Forbidden"}'],
  ])("%s: not STS's answer, and said so", async (_label, status, type, body) => {
    const impostor = await startLoopbackServer(() => ({
      status,
      headers: { "content-type": type },
      body,
    }));
    try {
      const error = await failureOf({
        clientConfig: federation.clientConfig(BILLING_SESSION, {
          endpoint: impostor.url,
          maxAttempts: 2,
        }),
      });
      expectUnavailable(
        error,
        "assertion_unavailable",
        `(HTTP ${status}) is not AWS STS's`,
        "AWS_ENDPOINT_URL_STS",
      );
      expect(error.message).not.toContain("refused");
      expect(impostor.requests[0]?.form.Action).toBe("GetWebIdentityToken");
    } finally {
      await impostor.close();
    }
  });
});

describe("no region, no credentials, no STS: CredentialUnavailableError, before any request", () => {
  it.each([
    ["no region anywhere", "region", ["options.region, AWS_REGION", "regional STS endpoints"]],
    [
      "no AWS credentials in the default chain",
      "credentials",
      ["No AWS credentials were found", "clientConfig.credentials"],
    ],
  ] as const)("%s: missing_configuration, saying what to set", async (_label, left, phrases) => {
    const before = federation.sts.requests.length;
    const { [left]: _left, ...config } = federation.clientConfig();
    const error = await failureOf({ clientConfig: config });
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error.code).toBe("missing_configuration");
    for (const phrase of phrases) expect(error.message).toContain(phrase);
    expect(federation.sts.requests.length).toBe(before);
  });

  it("a getToken without AWS credentials is a CredentialUnavailableError too, so a chain moves on", async () => {
    vi.stubEnv("AWS_REGION", REGION);
    vi.stubEnv("AWS_ENDPOINT_URL_STS", federation.sts.url);
    const credential = new ClientAssertionCredential(TENANT, APP, fromAwsWebIdentityToken(), {
      authorityHost: federation.entra.url,
    });
    try {
      const error = await credential.getToken(SCOPE).catch((caught: unknown) => caught);
      expect(CredentialUnavailableError.isInstance(error)).toBe(true);
      expect((error as Error).name).toBe("CredentialUnavailableError");
    } finally {
      await credential.close();
    }
  });

  it("STS not reachable: assertion_unavailable naming the endpoint settings", async () => {
    const closed = await unusedPort();
    const error = await failureOf({
      clientConfig: federation.clientConfig(BILLING_SESSION, {
        endpoint: `http://127.0.0.1:${closed}`,
      }),
    });
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error.code).toBe("assertion_unavailable");
    expect(error.message).toContain(`ECONNREFUSED 127.0.0.1:${closed}`);
    expect(error.message).toContain("AWS_ENDPOINT_URL_STS");
  });

  it("a silent STS: requestTimeoutInMs ends the call; a caller's abort ends it sooner", async () => {
    const silent = await startLoopbackServer(() => "silent");
    try {
      const clientConfig = federation.clientConfig(BILLING_SESSION, { endpoint: silent.url });
      const timedOut = await failureOf({ clientConfig, requestTimeoutInMs: 300 });
      expect(timedOut.code).toBe("assertion_unavailable");
      expect(timedOut.message).toContain("did not answer GetWebIdentityToken within 300 ms");

      const controller = new AbortController();
      const call = Promise.resolve(
        fromAwsWebIdentityToken({ clientConfig })({ ...context, abortSignal: controller.signal }),
      );
      setTimeout(() => controller.abort(), 100);
      await expect(call).rejects.toMatchObject({ name: "AbortError" });
    } finally {
      await silent.close();
    }
  });
});

/** The emulated STS's client configuration without a region: the SDK reads the environment's. */
function configWithoutRegion(): Record<string, unknown> {
  const { region: _region, ...config } = federation.clientConfig();
  return config;
}

describe("a region the SDK does not accept is a configuration error, found before any request", () => {
  it("AWS_REGION: invalid_configuration naming AWS_REGION", async () => {
    vi.stubEnv("AWS_REGION", "EU WEST");
    const before = federation.sts.requests.length;
    const error = await failureOf({ clientConfig: configWithoutRegion() });
    expectUnavailable(
      error,
      "invalid_configuration",
      "AWS_REGION",
      'region="EU WEST"',
      "eu-west-1",
    );
    expect(error.message).not.toContain("not reachable");
    expect(federation.sts.requests.length).toBe(before);
  });

  it("the profile's region: invalid_configuration naming the profile", async () => {
    const config = join(directory, "config-eu-west");
    writeFileSync(config, "[profile billing]\nregion = EU WEST\n");
    vi.stubEnv("AWS_CONFIG_FILE", config);
    vi.stubEnv("AWS_PROFILE", "billing");
    const before = federation.sts.requests.length;
    const error = await failureOf({ clientConfig: configWithoutRegion() });
    expectUnavailable(error, "invalid_configuration", 'the region of the AWS profile "billing"');
    expect(error.message).not.toContain("AWS_REGION");
    expect(federation.sts.requests.length).toBe(before);
  });
});

describe("only network failures say STS is not reachable", () => {
  it("a reset connection: not reachable (ECONNRESET)", async () => {
    const reset = await startLoopbackServer(() => "reset");
    try {
      const error = await failureOf({
        clientConfig: federation.clientConfig(BILLING_SESSION, { endpoint: reset.url }),
      });
      expectUnavailable(error, "assertion_unavailable", "AWS STS is not reachable", "ECONNRESET");
    } finally {
      await reset.close();
    }
  });

  it("the SDK's own socket timeout (a TimeoutError without a code): not reachable", async () => {
    const silent = await startLoopbackServer(() => "silent");
    try {
      const error = await failureOf({
        clientConfig: federation.clientConfig(BILLING_SESSION, {
          endpoint: silent.url,
          requestHandler: { socketTimeout: 200 },
        }),
      });
      expectUnavailable(error, "assertion_unavailable", "AWS STS is not reachable", "timed out");
    } finally {
      await silent.close();
    }
  });

  it("a certificate this machine does not trust: a TLS failure, naming the CA settings", async () => {
    const authority = await createTlsAuthority("untrusted STS CA");
    const tls = await startLoopbackServer(() => ({ status: 500, body: "" }), {
      tls: { cert: authority.serverCertificate, key: authority.serverKey },
    });
    try {
      const error = await failureOf({
        clientConfig: federation.clientConfig(BILLING_SESSION, { endpoint: tls.url }),
      });
      expectUnavailable(
        error,
        "assertion_unavailable",
        "The TLS connection to AWS STS failed",
        "NODE_EXTRA_CA_CERTS",
      );
      expect(error.message).not.toContain("not reachable");
      // The handshake failed: no request was read.
      expect(tls.requests).toEqual([]);
    } finally {
      await tls.close();
    }
  });

  it("a failure before anything is sent that is not the network's: says so, and quotes it", async () => {
    const before = federation.sts.requests.length;
    const error = await failureOf({
      clientConfig: federation.clientConfig(BILLING_SESSION, {
        requestHandler: {
          handle: async () => {
            throw new Error("the request handler is not configured");
          },
        },
      }),
    });
    expectUnavailable(
      error,
      "assertion_unavailable",
      "GetWebIdentityToken could not be sent (Error: the request handler is not configured)",
    );
    expect(error.message).not.toContain("not reachable");
    expect(federation.sts.requests.length).toBe(before);
  });
});

describe("options are checked at the factory", () => {
  it.each([
    [
      "durationSeconds below 60",
      { durationSeconds: 59 },
      "options.durationSeconds must be a whole number of seconds from 60 to 3600",
    ],
    ["durationSeconds above 3600", { durationSeconds: 3601 }, "got 3601"],
    ["a fractional durationSeconds", { durationSeconds: 300.5 }, "got 300.5"],
    [
      "durationSeconds as a string",
      { durationSeconds: "300" },
      'from 60 to 3600 (what GetWebIdentityToken allows), got "300".',
    ],
    ["durationSeconds as a bigint", { durationSeconds: 300n }, "got 300n (a bigint)."],
    ["requestTimeoutInMs as a string", { requestTimeoutInMs: "1000" }, 'got "1000".'],
    ["a signingAlgorithm that is a bigint", { signingAlgorithm: 256n }, "got 256n (a bigint)."],
    ["no audience", { audience: [] }, "options.audience must be a non-empty string"],
    [
      "eleven audiences",
      { audience: Array.from({ length: 11 }, (_, index) => `aud-${index}`) },
      "1 to 10 of them",
    ],
    ["an empty audience", { audience: " " }, "options.audience"],
    [
      "another algorithm",
      { signingAlgorithm: "HS256" },
      'options.signingAlgorithm must be "RS256"',
    ],
    ["tags as a list", { tags: [{ Key: "a", Value: "b" }] }, "options.tags must be a plain object"],
    [
      "tags as a Map",
      { tags: new Map([["team", "billing"]]) },
      "options.tags must be a plain object",
    ],
    [
      "tags as a class instance",
      {
        tags: new (class Tags {
          team = "billing";
        })(),
      },
      "options.tags must be a plain object",
    ],
    ["a tag key of aws:", { tags: { "aws:team": "billing" } }, 'may not start with "aws:"'],
    [
      "a tag key of AWS: in capitals",
      { tags: { "AWS:Team": "billing" } },
      'may not start with "aws:"',
    ],
    [
      "tag keys that differ only in case",
      { tags: { Team: "billing", team: "reports" } },
      'options.tags["team"] and options.tags["Team"] differ only in letter case',
    ],
    ["an empty tag key", { tags: { "": "billing" } }, "keys have 1 to 128 characters"],
    ["a tag key of 129 characters", { tags: { ["k".repeat(129)]: "v" } }, "keys have 1 to 128"],
    ["a tag value of 257 characters", { tags: { team: "v".repeat(257) } }, "values 0 to 256"],
    [
      "a tag key with a character tags may not hold",
      { tags: { "cost#center": "4711" } },
      'options.tags["cost#center"] is not a valid tag',
    ],
    [
      "a tag value with a character tags may not hold",
      { tags: { team: "billing;ops" } },
      "letters, digits, spaces and _ . : / = + - @",
    ],
    [
      "a tag value that is not a string",
      { tags: { team: 7 } },
      'options.tags["team"] is not a valid tag',
    ],
    [
      "51 tags",
      { tags: Object.fromEntries(Array.from({ length: 51 }, (_, index) => [`k${index}`, "v"])) },
      "at most 50 tags",
    ],
    [
      "a region that is not a name",
      { region: "eu-west-1/../x" },
      "options.region must be an AWS region name",
    ],
    ["a client that is not one", { client: {} }, "options.client must be an STSClient"],
    [
      "a client with a region",
      { client: new STSClient({}), region: REGION },
      "options.client is configured already",
    ],
    ["region twice", { region: REGION, clientConfig: { region: "us-east-1" } }, "set one"],
    [
      "a clientConfig.region that is not a name",
      { clientConfig: { region: "EU WEST" } },
      'options.clientConfig.region must be an AWS region name such as "eu-west-1", got "EU WEST"',
    ],
    ["options that are not an object", "eu-west-1", "takes an options object"],
    [
      "options that are an array",
      [],
      "takes an options object (a plain object), or nothing, got an array.",
    ],
    [
      "options that are a Map",
      new Map([["region", REGION]]),
      "takes an options object (a plain object)",
    ],
    [
      "a region of a dash",
      { region: "-" },
      'options.region must be an AWS region name such as "eu-west-1", got "-".',
    ],
    [
      "a region without its number",
      { region: "eu-west" },
      "options.region must be an AWS region name",
    ],
    ["a region in capitals", { region: "EU-WEST-1" }, "options.region must be an AWS region name"],
  ])("refuses %s", (_label, options, message) => {
    const before = federation.sts.requests.length;
    let thrown: unknown;
    try {
      fromAwsWebIdentityToken(options as AwsWebIdentityTokenOptions);
    } catch (error) {
      thrown = error;
    }
    expect(CredentialUnavailableError.isInstance(thrown)).toBe(true);
    expect((thrown as CredentialUnavailableError).code).toBe("invalid_configuration");
    expect((thrown as Error).message).toContain(message);
    expect(federation.sts.requests.length).toBe(before);
  });

  it.each([
    "us-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "eu-central-2",
    "il-central-1",
    "us-isob-east-1",
    "ap-southeast-5",
  ])("accepts the region %s", (region) => {
    expect(typeof fromAwsWebIdentityToken({ region })).toBe("function");
    expect(typeof fromAwsWebIdentityToken({ clientConfig: { region } })).toBe("function");
  });
});
