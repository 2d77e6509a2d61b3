import { randomUUID } from "node:crypto";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEntra } from "../src/entra.js";
import { type GitHubActionsTokenService, startGitHubActions } from "../src/github-actions.js";
import { ASSERTION_TYPE, postToken } from "./support/token-request.js";

const EXCHANGE = "api://AzureADTokenExchange";

async function requestToken(
  actions: GitHubActionsTokenService,
  options: { audience?: string; token?: string | null; method?: string; url?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const url =
    (options.url ?? actions.requestUrl) +
    (options.audience === undefined ? "" : `&audience=${encodeURIComponent(options.audience)}`);
  const headers: Record<string, string> = { accept: "application/json" };
  const token = options.token === undefined ? actions.requestToken : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const response = await fetch(url, { method: options.method ?? "GET", headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("startGitHubActions", () => {
  let actions: GitHubActionsTokenService;

  beforeAll(async () => {
    actions = await startGitHubActions({ job: { repository: "octo-org/octo-repo" } });
  });
  afterAll(() => actions.close());

  it("answers { value } with a token of GitHub's claims for the audience asked, verifiable through its discovery document", async () => {
    expect(actions.requestUrl).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/.+\/_apis\/distributedtask\/hubs\/Actions\/plans\/[0-9a-f-]+\/jobs\/[0-9a-f-]+\/idtoken\?api-version=2\.0$/,
    );
    const { status, body } = await requestToken(actions, { audience: EXCHANGE });
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(["value"]);
    const discovery = (await (
      await fetch(`${actions.issuer}/.well-known/openid-configuration`)
    ).json()) as { issuer: string; jwks_uri: string };
    expect(discovery.issuer).toBe(actions.issuer);
    const { payload } = await jwtVerify(
      body.value as string,
      createRemoteJWKSet(new URL(discovery.jwks_uri)),
      { issuer: actions.issuer, audience: EXCHANGE },
    );
    expect(payload).toMatchObject({
      sub: "repo:octo-org/octo-repo:ref:refs/heads/main",
      repository: "octo-org/octo-repo",
      repository_owner: "octo-org",
      ref: "refs/heads/main",
      ref_type: "branch",
      event_name: "push",
      job_workflow_ref: "octo-org/octo-repo/.github/workflows/ci.yml@refs/heads/main",
      runner_environment: "github-hosted",
    });
    expect((payload.exp as number) - (payload.iat as number)).toBe(300);
    expect((payload.iat as number) - (payload.nbf as number)).toBe(600);
    expect(actions.requests.at(-1)).toMatchObject({
      method: "GET",
      audience: EXCHANGE,
      apiVersion: "2.0",
      authorized: true,
      status: 200,
    });
  });

  it("gives a token asked without audience the owner's URL as its aud, as GitHub does", async () => {
    const { status, body } = await requestToken(actions);
    expect(status).toBe(200);
    expect(decodeJwt(body.value as string).aud).toBe("https://github.com/octo-org");
  });

  it("refuses a request without the bearer token, with a wrong one, and after the job ended, with 401", async () => {
    const before = actions.tokenCount;
    for (const token of [null, "not-the-runtime-token"]) {
      const { status, body } = await requestToken(actions, { audience: EXCHANGE, token });
      expect(status).toBe(401);
      expect(body).toMatchObject({ typeKey: "UnauthorizedRequestException" });
      expect(String(body.message)).toMatch(/^TF400813/);
    }
    expect(actions.tokenCount).toBe(before);
    expect(actions.requests.at(-1)?.authorized).toBe(false);
  });

  it("refuses another method (405), a request without api-version (400) and another path (404)", async () => {
    expect((await requestToken(actions, { method: "POST", audience: EXCHANGE })).status).toBe(405);
    const withoutVersion = actions.requestUrl.replace("?api-version=2.0", "?x=1");
    const missing = await requestToken(actions, { url: withoutVersion, audience: EXCHANGE });
    expect(missing.status).toBe(400);
    expect(missing.body.typeKey).toBe("VssVersionNotSpecifiedException");
    expect(
      (await requestToken(actions, { url: `${actions.url}/elsewhere?api-version=2.0` })).status,
    ).toBe(404);
  });

  it("plays queued answers before any check, then answers normally again", async () => {
    actions.injectFault({ status: 503, body: "unavailable" }, { count: 2 });
    for (let i = 0; i < 2; i++) {
      const response = await fetch(actions.requestUrl);
      expect(response.status).toBe(503);
      expect(await response.text()).toBe("unavailable");
    }
    expect((await requestToken(actions, { audience: EXCHANGE })).status).toBe(200);
    expect(() => actions.injectFault({ status: 42 })).toThrow(RangeError);
  });

  it("names subjects by environment and pull request, and refuses a job's token once it ended", async () => {
    const deploy = await startGitHubActions({
      job: { repository: "octo-org/octo-repo", environment: "prod" },
    });
    const pull = await startGitHubActions({
      job: {
        repository: "octo-org/octo-repo",
        eventName: "pull_request",
        ref: "refs/pull/7/merge",
      },
    });
    try {
      expect(deploy.subject).toBe("repo:octo-org/octo-repo:environment:prod");
      const token = (await requestToken(deploy, { audience: EXCHANGE })).body.value as string;
      expect(decodeJwt(token)).toMatchObject({ sub: deploy.subject, environment: "prod" });
      expect(pull.subject).toBe("repo:octo-org/octo-repo:pull_request");
      deploy.endJob();
      expect((await requestToken(deploy, { audience: EXCHANGE })).status).toBe(401);
    } finally {
      await Promise.all([deploy.close(), pull.close()]);
    }
  });

  it("mints tokens the emulated Entra accepts through a FIC for GitHub's issuer and subject, and refuses once expired", async () => {
    const shortLived = await startGitHubActions({
      job: { repository: "octo-org/octo-repo", environment: "prod" },
      tokenLifetimeSeconds: -1,
    });
    const tenantId = randomUUID();
    const clientId = randomUUID();
    const entra = await startEntra({
      clockSkewSeconds: 0,
      tenants: [
        {
          tenantId,
          apps: [
            {
              clientId,
              federatedCredentials: [
                { issuer: actions.issuer, subject: actions.subject, audiences: [EXCHANGE] },
                { issuer: shortLived.issuer, subject: shortLived.subject, audiences: [EXCHANGE] },
              ],
            },
          ],
        },
      ],
    });
    const exchange = (assertion: string) =>
      postToken(entra.tokenEndpoint(tenantId), {
        grant_type: "client_credentials",
        client_id: clientId,
        scope: "https://storage.azure.com/.default",
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: assertion,
      });
    try {
      const good = await exchange(
        (await requestToken(actions, { audience: EXCHANGE })).body.value as string,
      );
      expect(good.status).toBe(200);
      const expired = await exchange(
        (await requestToken(shortLived, { audience: EXCHANGE })).body.value as string,
      );
      expect(expired.status).toBe(401);
      expect(expired.body.error_codes).toEqual([700024]);
      const wrongAudience = await exchange((await requestToken(actions)).body.value as string);
      expect(wrongAudience.body.error_codes).toEqual([700212]);
    } finally {
      await Promise.all([entra.close(), shortLived.close()]);
    }
  });
});
