// A process whose only work is one managed identity token must wait out IMDS's 503s: the
// pause between attempts holds the process open, or it would exit mid-call (code 13, an
// unsettled top-level await) without a token or an error.
import { join } from "node:path";
import { startImds } from "@fedcred/emulator";
import { runModule } from "@fedcred/test-support";
import { expect, it } from "vitest";

const CHILD = `
import { fromManagedIdentity } from "@fedcred/managed-identity";
const token = await fromManagedIdentity()({ clientId: "c", tenantId: "t", authorityHost: "https://login.microsoftonline.com", tokenEndpoint: "https://login.microsoftonline.com/t/oauth2/v2.0/token" });
console.log(token.split(".").length);
`;

it("a process answered 503 twice waits, retries and gets its token", async () => {
  const imds = await startImds();
  try {
    imds.faults.push({ status: 503, body: "{}" }, 2);
    const { code, stdout } = await runModule(CHILD, {
      cwd: join(import.meta.dirname, ".."),
      env: {
        ...process.env,
        AZURE_POD_IDENTITY_AUTHORITY_HOST: imds.url,
        IDENTITY_ENDPOINT: "",
        IDENTITY_HEADER: "",
      },
    });
    expect({ code, stdout: stdout.trim() }).toEqual({ code: 0, stdout: "3" });
    expect(imds.requests).toHaveLength(3);
  } finally {
    await imds.close();
  }
});
