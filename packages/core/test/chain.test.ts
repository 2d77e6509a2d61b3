import { inspect } from "node:util";
import { describe, expect, it, vi } from "vitest";
import {
  type AssertionContext,
  type AssertionFunc,
  AuthenticationError,
  CredentialUnavailableError,
  chainAssertions,
} from "../src/index.js";

const context: AssertionContext = {
  clientId: "c",
  tenantId: "t",
  authorityHost: "https://login.microsoftonline.com",
  tokenEndpoint: "https://login.microsoftonline.com/t/oauth2/v2.0/token",
};

function unavailable(message: string): AssertionFunc {
  return vi.fn(async () => {
    throw new CredentialUnavailableError(message, "assertion_unavailable");
  });
}

async function rejection(promise: unknown): Promise<Error> {
  return Promise.resolve(promise).then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error as Error,
  );
}

describe("chainAssertions", () => {
  it("uses the first source that is present, moving on only past unavailable ones", async () => {
    const first = unavailable("no token file");
    const second = vi.fn(async () => "assertion-2");
    const third = vi.fn(async () => "assertion-3");
    const chained = chainAssertions(first, second, third);
    expect(await chained(context)).toBe("assertion-2");
    expect(first).toHaveBeenCalledTimes(1);
    expect(second).toHaveBeenCalledWith(context);
    expect(third).not.toHaveBeenCalled();
  });

  it("moves on past a source that throws synchronously, and accepts plain string results", async () => {
    const chained = chainAssertions(
      () => {
        throw new CredentialUnavailableError("sync", "missing_configuration");
      },
      () => "plain",
    );
    expect(await chained(context)).toBe("plain");
  });

  it("keeps the source that worked: later calls go to it alone and its errors propagate", async () => {
    let fileThere = false;
    const file: AssertionFunc = vi.fn(async () => {
      if (!fileThere) throw new CredentialUnavailableError("no file yet", "assertion_unavailable");
      return "from-file";
    });
    let serial = 0;
    const ci: AssertionFunc = vi.fn(async () => {
      serial++;
      if (serial === 3) throw new CredentialUnavailableError("ci down", "assertion_unavailable");
      return `from-ci-${serial}`;
    });
    const chained = chainAssertions(file, ci);
    expect(await chained(context)).toBe("from-ci-1");
    fileThere = true;
    expect(await chained(context)).toBe("from-ci-2");
    expect(file).toHaveBeenCalledTimes(1);
    const error = await rejection(chained(context));
    expect(error.message).toBe("ci down");
    expect(file).toHaveBeenCalledTimes(1);
  });

  it("stops at the first error that is not CredentialUnavailableError, and propagates it as is", async () => {
    const refused = new AuthenticationError("STS refused", "assertion_failed");
    const later = vi.fn(async () => "never");
    const chained = chainAssertions(unavailable("a"), async () => Promise.reject(refused), later);
    expect(await rejection(chained(context))).toBe(refused);
    expect(later).not.toHaveBeenCalled();
    const plain = new TypeError("bug in a source");
    expect(
      await rejection(chainAssertions(async () => Promise.reject(plain), later)(context)),
    ).toBe(plain);
  });

  it("lists each source's one-line reason when all are unavailable", async () => {
    const named = Object.assign(unavailable("No assertion source detected: checked X."), {
      source: "token file",
    });
    const chained = chainAssertions(
      unavailable("The token file /x does not exist: check it.\nsecond line"),
      named,
      unavailable("GitHub Actions: no id-token permission"),
    );
    const error = await rejection(chained(context));
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "assertion_unavailable" });
    expect(error.message).toBe(
      [
        "No assertion source is available:",
        "- source 1: The token file /x does not exist: check it.",
        "- token file: No assertion source detected: checked X.",
        "- source 3: GitHub Actions: no id-token permission",
      ].join("\n"),
    );
    expect(error.cause).toBeInstanceOf(AggregateError);
    expect((error.cause as AggregateError).errors).toHaveLength(3);
    expect(inspect(error)).not.toContain("second line");
  });

  it("honours the abort signal between sources and passes it to each", async () => {
    const controller = new AbortController();
    const seen: (AbortSignal | undefined)[] = [];
    const first: AssertionFunc = async (ctx) => {
      seen.push(ctx.abortSignal);
      controller.abort();
      throw new CredentialUnavailableError("gone", "assertion_unavailable");
    };
    const second = vi.fn(async () => "never");
    const error = await rejection(
      chainAssertions(first, second)({ ...context, abortSignal: controller.signal }),
    );
    expect(error.name).toBe("AbortError");
    expect(second).not.toHaveBeenCalled();
    expect(seen).toEqual([controller.signal]);
    const already = AbortSignal.abort();
    const untouched = vi.fn(async () => "never");
    expect(
      (await rejection(chainAssertions(untouched)({ ...context, abortSignal: already }))).name,
    ).toBe("AbortError");
    expect(untouched).not.toHaveBeenCalled();
  });

  it("forwards describeRefusal to the source in use", async () => {
    const source: AssertionFunc = Object.assign(async () => "a", {
      describeRefusal: (codes: readonly number[]) => `codes ${codes.join(",")}`,
    });
    const chained = chainAssertions(unavailable("x"), source);
    expect(chained.describeRefusal?.([700027], undefined)).toBeUndefined();
    await chained(context);
    expect(chained.describeRefusal?.([700027], undefined)).toBe("codes 700027");
  });

  it("refuses no sources and non-functions at once", () => {
    expect(() => chainAssertions()).toThrow(/at least one/);
    expect(() => chainAssertions(async () => "a", "b" as never)).toThrow(
      "chainAssertions takes assertion functions: argument 2 is string.",
    );
    expect(() => chainAssertions(null as never)).toThrow(CredentialUnavailableError);
  });
});
