import { afterEach, describe, expect, it, vi } from "vitest";

// @azure/logger is an optional peer: without it, fedcred's lines still reach stderr, in its format.
vi.mock("@azure/logger", () => {
  throw Object.assign(new Error("Cannot find package '@azure/logger'"), {
    code: "ERR_MODULE_NOT_FOUND",
  });
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe("the logger without @azure/logger", () => {
  it("writes the lines AZURE_LOG_LEVEL asks for to stderr, as @azure/logger formats them", async () => {
    vi.stubEnv("AZURE_LOG_LEVEL", "warning");
    const written: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const { logger, loadLogger } = await import("../src/logger.js");
    loadLogger();
    logger.warning("held while the import fails");
    await vi.waitFor(() => expect(written).toHaveLength(1), { timeout: 10_000 });
    logger.error("an error");
    logger.info("not at this level");
    logger.verbose("nor this");
    expect(written).toEqual([
      "azure:fedcred:warning held while the import fails\n",
      "azure:fedcred:error an error\n",
    ]);
  });
});
