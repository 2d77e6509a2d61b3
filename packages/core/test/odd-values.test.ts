import { describe, expect, it } from "vitest";
import { AuthenticationError, ClientAssertionCredential } from "../src/index.js";
import { buildClaims } from "../src/token-request.js";

// Found by the reliability suite's property tests (tests/reliability/test/properties.test.ts).
describe("odd values from callers", () => {
  it("an assertion function that throws a value with no string form fails with assertion_failed, not a TypeError", async () => {
    const credential = new ClientAssertionCredential(
      "tenant",
      "11111111-2222-3333-4444-555555555555",
      () => {
        throw Object.create(null);
      },
    );
    const error = await credential.getToken("https://storage.azure.com/.default").catch((e) => e);
    expect(AuthenticationError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "assertion_failed" });
    expect(error.message).toBe("The assertion function failed: an object that has no string form");
    await credential.close();
  });

  it("CAE keeps a claim named __proto__ (or like any Object.prototype member) as a claim", () => {
    const merged = JSON.parse(
      buildClaims('{"__proto__":{"polluted":true},"constructor":{"x":1}}', true) ?? "",
    );
    expect(Object.keys(merged).sort()).toEqual(["__proto__", "access_token", "constructor"]);
    expect(merged.constructor).toEqual({ x: 1 });
    expect(merged.access_token).toEqual({ xms_cc: { values: ["cp1"] } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
