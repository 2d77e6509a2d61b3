// A process whose only work is one identity token must wait out the metadata server's 503s:
// the pause between attempts holds the process open, or it would exit mid-call (code 13, an
// unsettled top-level await) without a token or an error.
import { join } from "node:path";
import { startGcpMetadata } from "@fedcred/emulator";
import { runModule } from "@fedcred/test-support";
import { expect, it } from "vitest";

const CHILD = `
import { fromGcpMetadata } from "@fedcred/gcp";
const token = await fromGcpMetadata()({ clientId: "c", tenantId: "t", authorityHost: "https://login.microsoftonline.com", tokenEndpoint: "https://login.microsoftonline.com/t/oauth2/v2.0/token" });
console.log(token.split(".").length);
`;

it("a process answered 503 twice waits, retries and gets its token", async () => {
  const metadata = await startGcpMetadata();
  try {
    metadata.faults.push({ status: 503, body: "busy" }, 2);
    const { code, stdout } = await runModule(CHILD, {
      cwd: join(import.meta.dirname, ".."),
      env: { ...process.env, GCE_METADATA_HOST: metadata.host },
    });
    expect({ code, stdout: stdout.trim() }).toEqual({ code: 0, stdout: "3" });
    expect(metadata.requests).toHaveLength(3);
  } finally {
    await metadata.close();
  }
});
