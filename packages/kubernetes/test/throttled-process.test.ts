// A process whose only work is a TokenRequest must wait out the API server's Retry-After:
// the pause between attempts holds the process open, or it would exit mid-call (code 13,
// an unsettled top-level await) without a token or an error.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { startKubernetes } from "@fedcred/emulator";
import { expect, it } from "vitest";

const CHILD = `
import { KubeConfig } from "@kubernetes/client-node";
import { fromServiceAccountToken } from "@fedcred/kubernetes";
const kubeConfig = new KubeConfig();
kubeConfig.loadFromString(process.env.FEDCRED_KUBECONFIG);
const getAssertion = fromServiceAccountToken({ serviceAccount: "billing", kubeConfig });
const token = await getAssertion({ clientId: "c", tenantId: "t", authorityHost: "https://login.microsoftonline.com", tokenEndpoint: "https://login.microsoftonline.com/t/oauth2/v2.0/token" });
console.log(token.split(".").length);
`;

it("a process throttled by the API server (429, Retry-After: 1) waits, retries and gets its token", async () => {
  const kubernetes = await startKubernetes({
    serviceAccounts: [{ namespace: "prod", name: "billing" }],
    callers: [{ token: "throttled-caller-token-0123456789", user: "throttled", allow: "*" }],
  });
  try {
    kubernetes.faults.push({ status: 429, retryAfter: 1 }, 2);
    const kubeconfig = kubernetes.kubeconfig({
      token: "throttled-caller-token-0123456789",
      namespace: "prod",
    });
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>(
      (resolve) => {
        const child = execFile(
          process.execPath,
          ["--input-type=module", "--eval", CHILD],
          {
            cwd: join(import.meta.dirname, ".."),
            timeout: 30_000,
            env: { ...process.env, FEDCRED_KUBECONFIG: JSON.stringify(kubeconfig) },
          },
          (error, out) => resolve({ code: error ? child.exitCode : 0, stdout: out }),
        );
      },
    );
    expect({ code, stdout: stdout.trim() }).toEqual({ code: 0, stdout: "3" });
    expect(kubernetes.tokenRequestCount).toBe(3);
  } finally {
    await kubernetes.close();
  }
});
