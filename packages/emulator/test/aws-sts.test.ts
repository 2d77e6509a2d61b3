import {
  GetCallerIdentityCommand,
  GetWebIdentityTokenCommand,
  type GetWebIdentityTokenCommandInput,
  JWTPayloadSizeExceededException,
  OutboundWebIdentityFederationDisabledException,
  RegionDisabledException,
  STSClient,
  type STSClientConfig,
} from "@aws-sdk/client-sts";
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AwsPrincipal, type AwsSts, startAwsSts } from "../src/aws-sts.js";

const ACCOUNT = "123456789012";
const DISABLED_ACCOUNT = "210987654321";
const DORMANT_ACCOUNT = "333344445555";
const ROLE_SESSION = {
  accessKeyId: "ASIAEMULATORROLE0001",
  secretAccessKey: "role-secret-access-key",
  sessionToken: "role-session-token",
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/billing/job-42`,
  userId: "AROAEMULATORROLE0001:job-42",
  principalTags: { team: "billing" },
};
const USER = {
  accessKeyId: "AKIAEMULATORUSER0001",
  secretAccessKey: "user-secret-access-key",
  arn: `arn:aws:iam::${ACCOUNT}:user/alice`,
};
const DISABLED_USER = {
  accessKeyId: "AKIAEMULATORUSER0002",
  secretAccessKey: "other-secret-access-key",
  arn: `arn:aws:iam::${DISABLED_ACCOUNT}:role/other`,
};
/** A role session whose policies allow no `sts:GetWebIdentityToken`. */
const UNPERMITTED_SESSION: AwsPrincipal = {
  accessKeyId: "ASIAEMULATORNOPOLICY",
  secretAccessKey: "unpermitted-secret",
  sessionToken: "unpermitted-session-token",
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/reports/job-7`,
  permissions: { getWebIdentityToken: false },
};
/** May get tokens, but not tag them. */
const UNTAGGED_SESSION: AwsPrincipal = {
  accessKeyId: "ASIAEMULATORNOTAGS01",
  secretAccessKey: "untagged-secret",
  sessionToken: "untagged-session-token",
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/billing/untagged`,
  permissions: { tagGetWebIdentityToken: false },
};
/** May get RS256 tokens for Entra, for at most 15 minutes. */
const CONDITIONED_SESSION: AwsPrincipal = {
  accessKeyId: "ASIAEMULATORCONDITIO",
  secretAccessKey: "conditioned-secret",
  sessionToken: "conditioned-session-token",
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/billing/conditioned`,
  permissions: {
    audiences: ["api://AzureADTokenExchange"],
    signingAlgorithms: ["RS256"],
    maxDurationSeconds: 900,
  },
};
/** No permission, in an account that never enabled outbound federation. */
const DORMANT_UNPERMITTED_USER: AwsPrincipal = {
  accessKeyId: "AKIAEMULATORDORMANT1",
  secretAccessKey: "dormant-secret",
  arn: `arn:aws:iam::${DORMANT_ACCOUNT}:user/bob`,
  permissions: { getWebIdentityToken: false },
};
const EXPIRED_SESSION = {
  accessKeyId: "ASIAEMULATOREXPIRED1",
  secretAccessKey: "expired-secret",
  sessionToken: "expired-session-token",
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/billing/old`,
  expiresAt: new Date(Date.now() - 60_000),
};

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function refusal(
  promise: Promise<unknown>,
): Promise<Error & { $metadata: { httpStatusCode?: number } }> {
  const error = await promise.then(
    () => {
      throw new Error("expected STS to refuse");
    },
    (caught: unknown) => caught,
  );
  return error as Error & { $metadata: { httpStatusCode?: number } };
}

describe("startAwsSts", () => {
  let sts: AwsSts;
  const client = (credentials: Credentials, config: Partial<STSClientConfig> = {}): STSClient =>
    new STSClient({
      endpoint: sts.url,
      region: sts.region,
      credentials,
      maxAttempts: 1,
      ...config,
    });
  const webIdentityToken = (
    credentials: Credentials,
    input: Partial<GetWebIdentityTokenCommandInput>,
    config: Partial<STSClientConfig> = {},
  ) =>
    client(credentials, config).send(
      new GetWebIdentityTokenCommand({
        Audience: ["api://AzureADTokenExchange"],
        SigningAlgorithm: "RS256",
        ...input,
      } as GetWebIdentityTokenCommandInput),
    );

  beforeAll(async () => {
    sts = await startAwsSts({
      region: "eu-west-1",
      accounts: [
        {
          accountId: ACCOUNT,
          outboundWebIdentityFederation: true,
          organizationId: "o-emulator01",
          principals: [
            ROLE_SESSION,
            USER,
            EXPIRED_SESSION,
            UNPERMITTED_SESSION,
            UNTAGGED_SESSION,
            CONDITIONED_SESSION,
          ],
        },
        { accountId: DISABLED_ACCOUNT, principals: [DISABLED_USER] },
        { accountId: DORMANT_ACCOUNT, principals: [DORMANT_UNPERMITTED_USER] },
      ],
    });
  });
  afterAll(async () => {
    await sts.close();
  });
  afterEach(() => {
    sts.faults.clear();
  });

  it("answers GetCallerIdentity for permanent and temporary keys", async () => {
    const role = await client(ROLE_SESSION).send(new GetCallerIdentityCommand({}));
    expect(role).toMatchObject({
      Account: ACCOUNT,
      Arn: ROLE_SESSION.arn,
      UserId: ROLE_SESSION.userId,
    });
    const user = await client(USER).send(new GetCallerIdentityCommand({}));
    expect(user.Arn).toBe(USER.arn);
    expect(user.UserId).toMatch(/^AIDA[A-Z2-7]{17}$/);
    expect(sts.requests.at(-1)).toMatchObject({
      action: "GetCallerIdentity",
      accessKeyId: USER.accessKeyId,
      params: { Action: "GetCallerIdentity", Version: "2011-06-15" },
      status: 200,
    });
  });

  it("issues an RS256 web identity token verifiable with the issuer's discovery and JWKS", async () => {
    const before = sts.requests.length;
    const answer = await webIdentityToken(ROLE_SESSION, {});
    expect(sts.requests.length).toBe(before + 1);
    // The query-protocol wire shape the SDK sends, as the emulator received it.
    expect(sts.requests.at(-1)?.params).toEqual({
      Action: "GetWebIdentityToken",
      Version: "2011-06-15",
      "Audience.member.1": "api://AzureADTokenExchange",
      SigningAlgorithm: "RS256",
    });
    const token = answer.WebIdentityToken ?? "";
    const issuer = sts.issuer(ACCOUNT);
    const discovery = await getJson(`${issuer}/.well-known/openid-configuration`);
    expect(discovery).toEqual({
      status: 200,
      body: {
        issuer,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        response_types_supported: ["id_token"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256", "ES384"],
      },
    });
    const keys = await getJson(discovery.body.jwks_uri as string);
    const { payload, protectedHeader } = await jwtVerify(
      token,
      createLocalJWKSet(keys.body as unknown as JSONWebKeySet),
      {
        issuer,
        audience: "api://AzureADTokenExchange",
        algorithms: ["RS256"],
      },
    );
    expect(protectedHeader).toMatchObject({ alg: "RS256", typ: "JWT", kid: expect.any(String) });
    expect(payload.sub).toBe(`arn:aws:iam::${ACCOUNT}:role/billing`);
    expect(payload.aud).toBe("api://AzureADTokenExchange");
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(payload.jti).toEqual(expect.any(String));
    expect(payload["https://sts.amazonaws.com/"]).toEqual({
      aws_account: ACCOUNT,
      source_region: "eu-west-1",
      principal_id: ROLE_SESSION.arn,
      org_id: "o-emulator01",
      principal_tags: { team: "billing" },
    });
    expect(answer.Expiration?.getTime()).toBe(payload.exp! * 1000);
  });

  it("signs with ES384, keeps several audiences as an array and copies request tags", async () => {
    const answer = await webIdentityToken(USER, {
      Audience: ["api://AzureADTokenExchange", "https://api.example.com"],
      SigningAlgorithm: "ES384",
      DurationSeconds: 3600,
      Tags: [
        { Key: "job-id", Value: "job-2026-001" },
        { Key: "priority", Value: "high" },
      ],
    });
    const token = answer.WebIdentityToken ?? "";
    expect(decodeProtectedHeader(token).alg).toBe("ES384");
    expect(sts.requests.at(-1)?.params).toMatchObject({
      "Audience.member.2": "https://api.example.com",
      DurationSeconds: "3600",
      "Tags.member.1.Key": "job-id",
      "Tags.member.1.Value": "job-2026-001",
      "Tags.member.2.Key": "priority",
    });
    const { payload } = await jwtVerify(
      token,
      createLocalJWKSet(sts.jwks(ACCOUNT) as JSONWebKeySet),
      {
        issuer: sts.issuer(ACCOUNT),
        algorithms: ["ES384"],
      },
    );
    expect(payload.aud).toEqual(["api://AzureADTokenExchange", "https://api.example.com"]);
    expect(payload.sub).toBe(USER.arn);
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect((payload["https://sts.amazonaws.com/"] as Record<string, unknown>).request_tags).toEqual(
      {
        "job-id": "job-2026-001",
        priority: "high",
      },
    );
  });

  it("refuses a wrong secret with SignatureDoesNotMatch and an unknown key with InvalidClientTokenId", async () => {
    const badSecret = await refusal(
      client({ ...USER, secretAccessKey: "wrong" }).send(new GetCallerIdentityCommand({})),
    );
    expect(badSecret.name).toBe("SignatureDoesNotMatch");
    expect(badSecret.$metadata.httpStatusCode).toBe(403);
    expect(badSecret.message).toMatch(/^The request signature we calculated does not match/);
    expect(sts.requests.at(-1)).toMatchObject({
      accessKeyId: USER.accessKeyId,
      status: 403,
      errorCode: "SignatureDoesNotMatch",
    });

    const unknownKey = await refusal(
      client({ accessKeyId: "AKIAUNKNOWN000000000", secretAccessKey: "x" }).send(
        new GetCallerIdentityCommand({}),
      ),
    );
    expect(unknownKey.name).toBe("InvalidClientTokenId");
    expect(unknownKey.$metadata.httpStatusCode).toBe(403);
    expect(unknownKey.message).toBe("The security token included in the request is invalid.");
  });

  it("requires the right session token for temporary keys, and refuses expired ones", async () => {
    const missing = await refusal(
      client({
        accessKeyId: ROLE_SESSION.accessKeyId,
        secretAccessKey: ROLE_SESSION.secretAccessKey,
      }).send(new GetCallerIdentityCommand({})),
    );
    expect(missing.name).toBe("InvalidClientTokenId");
    const wrong = await refusal(
      client({ ...ROLE_SESSION, sessionToken: "other" }).send(new GetCallerIdentityCommand({})),
    );
    expect(wrong.name).toBe("InvalidClientTokenId");
    const expired = await refusal(client(EXPIRED_SESSION).send(new GetCallerIdentityCommand({})));
    expect(expired.name).toBe("ExpiredToken");
  });

  it("checks the credential scope's region", async () => {
    const error = await refusal(
      client(USER, { region: "us-east-1" }).send(new GetCallerIdentityCommand({})),
    );
    expect(error.name).toBe("SignatureDoesNotMatch");
    expect(error.message).toBe("Credential should be scoped to a valid region. ");
  });

  it("refuses requests signed over 15 minutes off; the SDK corrects its clock from the answer's Date", async () => {
    const skewedClient = client(USER, { systemClockOffset: -20 * 60_000 });
    const skewed = await refusal(skewedClient.send(new GetCallerIdentityCommand({})));
    expect(skewed.name).toBe("SignatureDoesNotMatch");
    expect(skewed.message).toMatch(
      /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/,
    );
    const recovered = await skewedClient.send(new GetCallerIdentityCommand({}));
    expect(recovered.Arn).toBe(USER.arn);
    expect(sts.requests.slice(-2).map((entry) => entry.status)).toEqual([403, 200]);
  });

  it("answers MissingAuthenticationToken with a real STS XML error body", async () => {
    const response = await fetch(sts.url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "Action=GetCallerIdentity&Version=2011-06-15",
    });
    expect(response.status).toBe(403);
    const requestId = response.headers.get("x-amzn-requestid");
    expect(await response.text()).toBe(
      [
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">',
        "  <Error>",
        "    <Type>Sender</Type>",
        "    <Code>MissingAuthenticationToken</Code>",
        "    <Message>Request is missing Authentication Token</Message>",
        "  </Error>",
        `  <RequestId>${requestId}</RequestId>`,
        "</ErrorResponse>\n",
      ].join("\n"),
    );
  });

  it("answers OutboundWebIdentityFederationDisabledException until the account enables federation", async () => {
    const issuer = sts.issuer(DISABLED_ACCOUNT);
    expect((await fetch(`${issuer}/.well-known/openid-configuration`)).status).toBe(404);
    const error = await refusal(webIdentityToken(DISABLED_USER, {}));
    expect(error).toBeInstanceOf(OutboundWebIdentityFederationDisabledException);
    expect(error.name).toBe("OutboundWebIdentityFederationDisabledException");
    expect(error.$metadata.httpStatusCode).toBe(403);

    expect(sts.enableOutboundWebIdentityFederation(DISABLED_ACCOUNT)).toBe(issuer);
    const answer = await webIdentityToken(DISABLED_USER, {});
    const keys = await getJson(`${issuer}/.well-known/jwks.json`);
    const { payload } = await jwtVerify(
      answer.WebIdentityToken ?? "",
      createLocalJWKSet(keys.body as unknown as JSONWebKeySet),
      {
        issuer,
      },
    );
    expect(payload.sub).toBe(DISABLED_USER.arn);
  });

  it.each([
    ["no audience", { Audience: [] }, "Member must have length greater than or equal to 1"],
    [
      "eleven audiences",
      { Audience: Array.from({ length: 11 }, (_, index) => `aud-${index}`) },
      "Member must have length less than or equal to 10",
    ],
    [
      "a 59 s duration",
      { DurationSeconds: 59 },
      "Member must have value greater than or equal to 60",
    ],
    [
      "a 3601 s duration",
      { DurationSeconds: 3601 },
      "Member must have value less than or equal to 3600",
    ],
    [
      "an unknown algorithm",
      { SigningAlgorithm: "HS256" },
      "Member must satisfy enum value set: [RS256, ES384]",
    ],
    [
      "no algorithm",
      { SigningAlgorithm: undefined },
      "Value null at 'signingAlgorithm' failed to satisfy constraint",
    ],
  ])("refuses %s with ValidationError", async (_label, input, message) => {
    const error = await refusal(
      webIdentityToken(USER, input as Partial<GetWebIdentityTokenCommandInput>),
    );
    expect(error.name).toBe("ValidationError");
    expect(error.$metadata.httpStatusCode).toBe(400);
    expect(error.message).toContain(message);
    expect(sts.requests.at(-1)).toMatchObject({
      action: "GetWebIdentityToken",
      status: 400,
      errorCode: "ValidationError",
    });
  });

  describe("IAM permissions", () => {
    const denial = (arn: string, action: string) =>
      `User: ${arn} is not authorized to perform: ${action} because no identity-based policy allows the ${action} action`;

    it("refuses AccessDenied, in AWS's words, without sts:GetWebIdentityToken; GetCallerIdentity needs no permission", async () => {
      const error = await refusal(webIdentityToken(UNPERMITTED_SESSION, {}));
      expect(error.name).toBe("AccessDenied");
      expect(error.$metadata.httpStatusCode).toBe(403);
      expect(error.message).toBe(denial(UNPERMITTED_SESSION.arn, "sts:GetWebIdentityToken"));
      expect(sts.requests.at(-1)).toMatchObject({
        action: "GetWebIdentityToken",
        accessKeyId: UNPERMITTED_SESSION.accessKeyId,
        status: 403,
        errorCode: "AccessDenied",
      });
      const identity = await client(UNPERMITTED_SESSION).send(new GetCallerIdentityCommand({}));
      expect(identity.Arn).toBe(UNPERMITTED_SESSION.arn);
    });

    it("needs sts:TagGetWebIdentityToken only for a request with tags", async () => {
      const untagged = await webIdentityToken(UNTAGGED_SESSION, {});
      expect(untagged.WebIdentityToken).toEqual(expect.any(String));
      const error = await refusal(
        webIdentityToken(UNTAGGED_SESSION, { Tags: [{ Key: "team", Value: "billing" }] }),
      );
      expect(error.name).toBe("AccessDenied");
      expect(error.message).toBe(denial(UNTAGGED_SESSION.arn, "sts:TagGetWebIdentityToken"));
      expect(sts.requests.at(-1)).toMatchObject({
        params: { "Tags.member.1.Key": "team" },
        status: 403,
        errorCode: "AccessDenied",
      });
    });

    it.each([
      [
        "an audience outside sts:IdentityTokenAudience (every audience must be allowed)",
        { Audience: ["api://AzureADTokenExchange", "https://api.example.com"] },
      ],
      ["an algorithm outside sts:SigningAlgorithm", { SigningAlgorithm: "ES384" }],
      ["a duration above sts:DurationSeconds", { DurationSeconds: 901 }],
    ])("refuses %s with AccessDenied for sts:GetWebIdentityToken", async (_label, input) => {
      const error = await refusal(
        webIdentityToken(CONDITIONED_SESSION, input as Partial<GetWebIdentityTokenCommandInput>),
      );
      expect(error.name).toBe("AccessDenied");
      expect(error.message).toBe(denial(CONDITIONED_SESSION.arn, "sts:GetWebIdentityToken"));
    });

    it("grants a request inside the conditions", async () => {
      const answer = await webIdentityToken(CONDITIONED_SESSION, { DurationSeconds: 900 });
      const { payload } = await jwtVerify(
        answer.WebIdentityToken ?? "",
        createLocalJWKSet(sts.jwks(ACCOUNT) as JSONWebKeySet),
        { issuer: sts.issuer(ACCOUNT), audience: "api://AzureADTokenExchange" },
      );
      expect(payload.exp! - payload.iat!).toBe(900);
    });

    it("checks SigV4, then the parameters, then IAM, then the account's federation setting", async () => {
      const badSignature = await refusal(
        webIdentityToken({ ...DORMANT_UNPERMITTED_USER, secretAccessKey: "wrong" }, {}),
      );
      expect(badSignature.name).toBe("SignatureDoesNotMatch");
      const invalid = await refusal(webIdentityToken(DORMANT_UNPERMITTED_USER, { Audience: [] }));
      expect(invalid.name).toBe("ValidationError");
      const denied = await refusal(webIdentityToken(DORMANT_UNPERMITTED_USER, {}));
      expect(denied.name).toBe("AccessDenied");
      expect(denied.message).toBe(denial(DORMANT_UNPERMITTED_USER.arn, "sts:GetWebIdentityToken"));
    });
  });

  describe("faults", () => {
    it.each([
      ["Throttling", 400, "Rate exceeded", undefined],
      [
        "InternalFailure",
        500,
        "The request processing has failed because of an unknown error, exception or failure.",
        undefined,
      ],
      [
        "ServiceUnavailable",
        503,
        "The request has failed due to a temporary failure of the server.",
        undefined,
      ],
      [
        "JWTPayloadSizeExceededException",
        400,
        "The requested token payload size exceeds the maximum allowed size. Reduce the number of request tags included in the GetWebIdentityToken API call to reduce the token payload size.",
        JWTPayloadSizeExceededException,
      ],
      [
        "RegionDisabledException",
        403,
        `STS is not activated in this region for account:${ACCOUNT}. Your account administrator can activate STS in this region using the IAM Console.`,
        RegionDisabledException,
      ],
    ] as const)(
      "plays %s with AWS's status and words, recorded like any answer",
      async (code, status, message, type) => {
        const before = sts.requests.length;
        sts.injectFault({ code });
        const error = await refusal(webIdentityToken(ROLE_SESSION, {}));
        expect(error.name).toBe(code);
        if (type) expect(error).toBeInstanceOf(type);
        expect(error.$metadata.httpStatusCode).toBe(status);
        expect(error.message).toBe(message);
        expect(sts.requests.slice(before)).toEqual([
          {
            action: "GetWebIdentityToken",
            accessKeyId: ROLE_SESSION.accessKeyId,
            params: expect.objectContaining({ Action: "GetWebIdentityToken" }),
            status,
            errorCode: code,
          },
        ]);
        expect(sts.faults.queued).toEqual([]);
        expect((await webIdentityToken(ROLE_SESSION, {})).WebIdentityToken).toEqual(
          expect.any(String),
        );
      },
    );

    it("plays a fault on the next `count` requests SigV4 accepts, whatever their action", async () => {
      const before = sts.requests.length;
      sts.injectFault({ code: "Throttling" }, { count: 2 });
      const unsigned = await refusal(
        client({ ...USER, secretAccessKey: "wrong" }).send(new GetCallerIdentityCommand({})),
      );
      expect(unsigned.name).toBe("SignatureDoesNotMatch");
      expect(sts.faults.queued).toMatchObject([{ code: "Throttling", remaining: 2 }]);
      expect((await refusal(client(USER).send(new GetCallerIdentityCommand({})))).name).toBe(
        "Throttling",
      );
      expect((await refusal(webIdentityToken(USER, {}))).name).toBe("Throttling");
      expect((await client(USER).send(new GetCallerIdentityCommand({}))).Arn).toBe(USER.arn);
      expect(
        sts.requests.slice(before).map((request) => request.errorCode ?? request.status),
      ).toEqual(["SignatureDoesNotMatch", "Throttling", "Throttling", 200]);
    });

    it("lets the SDK retry throttling and 5xx answers: each attempt is a request", async () => {
      const before = sts.requests.length;
      sts.injectFault({ code: "Throttling" });
      sts.injectFault({ code: "ServiceUnavailable" });
      const answer = await webIdentityToken(ROLE_SESSION, {}, { maxAttempts: 3 });
      expect(answer.WebIdentityToken).toEqual(expect.any(String));
      expect(sts.requests.slice(before).map((request) => request.status)).toEqual([400, 503, 200]);
    });

    it("plays another code with the status and message given, and needs both", async () => {
      expect(() => sts.injectFault({ code: "SignatureDoesNotMatch" })).toThrow(
        "the STS fault SignatureDoesNotMatch needs a status and a message",
      );
      expect(() => sts.faults.push({ code: "Throttling" }, 0)).toThrow(
        "count must be a positive integer",
      );
      const message = [
        "The request signature we calculated does not match the signature you provided.",
        "",
        "The Canonical String for this request should have been",
        "'POST\n/\n'",
      ].join("\n");
      sts.injectFault({ code: "SignatureDoesNotMatch", status: 403, message });
      const error = await refusal(client(USER).send(new GetCallerIdentityCommand({})));
      expect(error.name).toBe("SignatureDoesNotMatch");
      expect(error.$metadata.httpStatusCode).toBe(403);
      expect(error.message).toBe(message);
    });
  });
});

describe("startAwsSts over HTTPS", () => {
  it("serves the query protocol and the issuer over TLS with a given authority", async () => {
    const { createTlsAuthority } = await import("../src/tls.js");
    const authority = await createTlsAuthority();
    const sts = await startAwsSts({
      tlsAuthority: authority,
      accounts: [{ accountId: ACCOUNT, outboundWebIdentityFederation: true, principals: [USER] }],
    });
    try {
      expect(sts.url).toMatch(/^https:\/\/localhost:\d+$/);
      expect(sts.issuer(ACCOUNT).startsWith(`${sts.url}/issuers/`)).toBe(true);
      const { Agent } = await import("node:https");
      const client = new STSClient({
        endpoint: sts.url,
        region: sts.region,
        credentials: USER,
        requestHandler: { httpsAgent: new Agent({ ca: authority.caCertificate }) },
      });
      const identity = await client.send(new GetCallerIdentityCommand({}));
      expect(identity.Account).toBe(ACCOUNT);
      expect(sts.region).toBe("us-east-1");
    } finally {
      await sts.close();
    }
  });
});
