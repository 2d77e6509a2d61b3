import { describe, expect, it } from "vitest";
import { exchangeAudienceFor, PUBLIC_EXCHANGE_AUDIENCE } from "../src/index.js";

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

  it("the public audience is the one Entra documents", () => {
    expect(PUBLIC_EXCHANGE_AUDIENCE).toBe("api://AzureADTokenExchange");
  });
});
