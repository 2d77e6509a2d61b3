import { describe, expect, it } from "vitest";
import { CredentialUnavailableError, checkTimeoutInMs } from "../src/index.js";

describe("checkTimeoutInMs", () => {
  it("returns whole numbers of milliseconds in range", () => {
    expect(checkTimeoutInMs(1, "options.timeoutInMs", 10)).toBe(1);
    expect(checkTimeoutInMs(10, "options.timeoutInMs", 10)).toBe(10);
    expect(checkTimeoutInMs(2_147_483_647, "options.requestTimeoutInMs")).toBe(2_147_483_647);
  });

  it.each([
    [0, "got 0."],
    [10.5, "got 10.5."],
    [11, "got 11."],
    [Number.NaN, "got NaN."],
    ["5000", 'got "5000".'],
    [null, "got object."],
    [undefined, "got undefined."],
  ])("refuses %s as invalid_configuration, saying what it got", (value, got) => {
    let error: unknown;
    try {
      checkTimeoutInMs(value, "options.timeoutInMs", 10);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    expect((error as CredentialUnavailableError).code).toBe("invalid_configuration");
    expect((error as Error).message).toBe(
      `options.timeoutInMs must be a whole number of milliseconds from 1 to 10, ${got}`,
    );
  });
});
