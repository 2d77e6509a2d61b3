import { describe, expect, it, vi } from "vitest";
import {
  type AssertionContext,
  exchangeAudienceFor,
  memoizeAssertionPerAudience,
  PUBLIC_EXCHANGE_AUDIENCE,
} from "../src/index.js";
import { fakeJwt } from "./token-server.js";

describe("exchangeAudienceFor", () => {
  it.each([
    [undefined, "api://AzureADTokenExchange"],
    ["https://login.microsoftonline.com", "api://AzureADTokenExchange"],
    ["https://login.microsoftonline.us", "api://AzureADTokenExchangeUSGov"],
    ["https://LOGIN.usgovcloudapi.net/", "api://AzureADTokenExchangeUSGov"],
    ["https://login.chinacloudapi.cn", "api://AzureADTokenExchangeChina"],
    ["https://login.partner.microsoftonline.cn/", "api://AzureADTokenExchangeChina"],
    ["http://127.0.0.1:8443", "api://AzureADTokenExchange"],
    ["login.microsoftonline.us", "api://AzureADTokenExchange"],
    ["not a url", "api://AzureADTokenExchange"],
  ])("%s -> %s", (authorityHost, audience) => {
    expect(exchangeAudienceFor(authorityHost)).toBe(audience);
  });

  it("without an authority host (a caller that passes no context), follows AZURE_AUTHORITY_HOST", async () => {
    vi.stubEnv("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us");
    try {
      expect(exchangeAudienceFor(undefined)).toBe("api://AzureADTokenExchangeUSGov");
      // A context's own authority host still decides.
      expect(exchangeAudienceFor("https://login.microsoftonline.com")).toBe(
        PUBLIC_EXCHANGE_AUDIENCE,
      );
      const asked: string[] = [];
      const getAssertion = memoizeAssertionPerAudience(undefined, (audience) => () => {
        asked.push(audience);
        return fakeJwt({ exp: Math.floor(Date.now() / 1000) + 3600 });
      });
      await (getAssertion as () => Promise<string>)();
      expect(asked).toEqual(["api://AzureADTokenExchangeUSGov"]);
      vi.stubEnv("AZURE_AUTHORITY_HOST", "");
      expect(exchangeAudienceFor(undefined)).toBe(PUBLIC_EXCHANGE_AUDIENCE);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("the public audience is the one Entra documents", () => {
    expect(PUBLIC_EXCHANGE_AUDIENCE).toBe("api://AzureADTokenExchange");
  });
});

describe("memoizeAssertionPerAudience", () => {
  const context = (authorityHost: string): AssertionContext => ({
    clientId: "c",
    tenantId: "t",
    authorityHost,
    tokenEndpoint: `${authorityHost}/t/oauth2/v2.0/token`,
  });

  it("keeps one token per cloud's audience, or only the audience given", async () => {
    const fetched: string[] = [];
    const fetchFor = (audience: string) => () => {
      fetched.push(audience);
      return fakeJwt({ aud: audience, n: fetched.length, exp: Date.now() / 1000 + 3600 });
    };
    const byCloud = memoizeAssertionPerAudience(undefined, fetchFor);
    const publicToken = await byCloud(context("https://login.microsoftonline.com"));
    const usGovToken = await byCloud(context("https://login.microsoftonline.us"));
    expect(await byCloud(context("https://login.microsoftonline.com"))).toBe(publicToken);
    expect(await byCloud(context("https://login.usgovcloudapi.net"))).toBe(usGovToken);
    expect(usGovToken).not.toBe(publicToken);
    const given = memoizeAssertionPerAudience("api://custom", fetchFor);
    await given(context("https://login.microsoftonline.us"));
    await given(context("https://login.chinacloudapi.cn"));
    expect(fetched).toEqual([
      "api://AzureADTokenExchange",
      "api://AzureADTokenExchangeUSGov",
      "api://custom",
    ]);
  });
});
