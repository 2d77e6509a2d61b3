import {
  isTokenCredential,
  type AccessToken as TheirAccessToken,
  type TokenCredential as TheirCredential,
  type GetTokenOptions as TheirOptions,
} from "@azure/core-auth";
import { describe, expect, it } from "vitest";
import {
  type AccessToken,
  ClientAssertionCredential,
  type GetTokenOptions,
  type TokenCredential,
} from "../src/index.js";
import { CLIENT, TENANT } from "./token-server.js";

// fedcred declares @azure/core-auth's shapes itself (no runtime dependency for types): these
// assignments are checked by `tsc` in both directions, and the credential passes the SDK's own test.
describe("the shapes of @azure/core-auth", () => {
  it("a credential is a TokenCredential of @azure/core-auth, and the options and tokens pass both ways", () => {
    const credential = new ClientAssertionCredential(TENANT, CLIENT, () => "a.b.c", {
      authorityHost: "http://127.0.0.1:9",
    });
    const asTheirs: TheirCredential = credential;
    const ours: TokenCredential = asTheirs;
    const theirOptions: TheirOptions = {
      abortSignal: new AbortController().signal,
      enableCae: true,
      tracingOptions: {},
    };
    const ourOptions: GetTokenOptions = theirOptions;
    const backToTheirs: TheirOptions = { ...ourOptions, proofOfPossessionOptions: undefined };
    const token: AccessToken = { token: "t", expiresOnTimestamp: 1 };
    const theirToken: TheirAccessToken = token;
    const ourToken: AccessToken = theirToken;
    expect(isTokenCredential(credential)).toBe(true);
    expect([ours, backToTheirs, ourToken]).toHaveLength(3);
  });
});
