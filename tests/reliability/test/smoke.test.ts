import { ClientAssertionCredential } from "@fedcred/core";
import { expect, it } from "vitest";

it("loads the packages under test", () => {
  expect(typeof ClientAssertionCredential).toBe("function");
});
