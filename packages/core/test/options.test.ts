import { describe, expect, it } from "vitest";
import { type ClientAssertionCredentialOptions, ignoredOptionWarnings } from "../src/options.js";

const httpClient: NonNullable<ClientAssertionCredentialOptions["httpClient"]> = {
  sendRequest: () => Promise.reject(new Error("not sent in these tests")),
};

function optionsWarnedAbout(options: ClientAssertionCredentialOptions): string[] {
  return ignoredOptionWarnings(options).map(
    (message) => /^options\.([\w.]+) has no effect: \S/.exec(message)?.[1] ?? message,
  );
}

describe("ignoredOptionWarnings", () => {
  it("says nothing without options", () => {
    expect(ignoredOptionWarnings({})).toEqual([]);
  });

  it("says nothing about the options fedcred honours, nor about its own", () => {
    const honoured: ClientAssertionCredentialOptions = {
      authorityHost: "https://login.microsoftonline.us",
      additionallyAllowedTenants: ["*"],
      retryOptions: { maxRetries: 5, retryDelayInMs: 100, maxRetryDelayInMs: 2000 },
      proxyOptions: { host: "http://proxy.corp.example", port: 3128, username: "u", password: "p" },
      tlsOptions: { ca: "-----BEGIN CERTIFICATE-----", cert: "c", key: [{ pem: "k" }] },
      userAgentOptions: { userAgentPrefix: "billing/1.0" },
      loggingOptions: { allowLoggingAccountIdentifiers: true },
      httpClient,
      disableInstanceDiscovery: false,
      fetch: globalThis.fetch,
      requestTimeoutInMs: 5000,
      maxCacheEntries: 100,
    };
    expect(ignoredOptionWarnings(honoured)).toEqual([]);
    expect(ignoredOptionWarnings({ ...honoured, disableInstanceDiscovery: true })).toEqual([]);
  });

  it("warns once about each ignored option that is set, in the order of the options type", () => {
    const options: ClientAssertionCredentialOptions = {
      tokenCachePersistenceOptions: { enabled: true, name: "cache-name" },
      additionalPolicies: [{ policy: { name: "my-policy" }, position: "perCall" }],
      redirectOptions: { maxRetries: 5, allowCrossOriginRedirects: true },
      telemetryOptions: { clientRequestIdHeaderName: "x-my-request-id" },
      agent: { destroy: () => undefined },
      allowInsecureConnection: true,
      loggingOptions: {
        allowLoggingAccountIdentifiers: true,
        enableUnsafeSupportLogging: true,
        additionalAllowedHeaderNames: ["x-my-header"],
        additionalAllowedQueryParameters: ["my-query"],
        logger: () => undefined,
      },
    };
    expect(optionsWarnedAbout(options)).toEqual([
      "loggingOptions.enableUnsafeSupportLogging",
      "loggingOptions.additionalAllowedHeaderNames",
      "loggingOptions.additionalAllowedQueryParameters",
      "loggingOptions.logger",
      "tokenCachePersistenceOptions",
      "additionalPolicies",
      "redirectOptions",
      "telemetryOptions",
      "agent",
      "allowInsecureConnection",
    ]);
    const messages = ignoredOptionWarnings(options);
    expect(messages).toContain(
      "options.redirectOptions has no effect: fedcred never follows redirects, so the token request cannot carry the client assertion elsewhere.",
    );
    for (const message of messages) {
      expect(message).toMatch(/\.$/);
      // The option is named, never its value.
      for (const value of [
        "cache-name",
        "my-policy",
        "x-my-request-id",
        "x-my-header",
        "my-query",
      ]) {
        expect(message).not.toContain(value);
      }
    }
  });

  it("says nothing when an ignored option asks for what fedcred does anyway", () => {
    expect(
      ignoredOptionWarnings({
        tokenCachePersistenceOptions: { enabled: false, name: "cache-name" },
        additionalPolicies: [],
        redirectOptions: { maxRetries: 0, allowCrossOriginRedirects: true },
        telemetryOptions: {},
        allowInsecureConnection: false,
        loggingOptions: {
          enableUnsafeSupportLogging: false,
          additionalAllowedHeaderNames: [],
          additionalAllowedQueryParameters: [],
        },
      }),
    ).toEqual([]);
  });

  it("warns about redirectOptions that keep the default of following redirects", () => {
    expect(optionsWarnedAbout({ redirectOptions: {} })).toEqual(["redirectOptions"]);
    expect(optionsWarnedAbout({ redirectOptions: { allowCrossOriginRedirects: false } })).toEqual([
      "redirectOptions",
    ]);
  });

  it("treats null from JavaScript callers as not set", () => {
    const fromJavaScript = {
      agent: null,
      redirectOptions: null,
      telemetryOptions: { clientRequestIdHeaderName: null },
      loggingOptions: { logger: null, additionalAllowedHeaderNames: null },
      tokenCachePersistenceOptions: null,
      additionalPolicies: null,
    } as unknown as ClientAssertionCredentialOptions;
    expect(ignoredOptionWarnings(fromJavaScript)).toEqual([]);
  });
});
