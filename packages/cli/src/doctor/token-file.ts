import { lstat, readFile, readlink, stat } from "node:fs/promises";
import { type DecodedJwt, decodeJwt, extractToken } from "../jwt.js";
import { MAX_TOKEN_BYTES } from "../read-token.js";
import type { Check } from "./checks.js";

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

/** The file checks: present, readable, one JWT. Stops at the first that fails. */
export async function checkTokenFile(path: string): Promise<{ checks: Check[]; jwt?: DecodedJwt }> {
  const checks: Check[] = [];
  const mounted =
    "The projected volume is not mounted at this path: check the pod's volumes and volumeMounts (the webhook mounts azure-identity-token at /var/run/secrets/azure/tokens), and that AZURE_FEDERATED_TOKEN_FILE names the file in it.";
  let link = "";
  try {
    const entry = await lstat(path);
    if (entry.isSymbolicLink()) link = `, a symlink to ${await readlink(path)}`;
  } catch (error) {
    checks.push({
      check: "token file present",
      ok: false,
      detail: `${path}: ${errorCode(error)}`,
      fix: mounted,
    });
    return { checks };
  }
  let size: number;
  try {
    const target = await stat(path);
    if (target.isDirectory()) {
      checks.push({
        check: "token file present",
        ok: false,
        detail: `${path} is a directory`,
        fix: "AZURE_FEDERATED_TOKEN_FILE must name the token file itself, such as /var/run/secrets/azure/tokens/azure-identity-token.",
      });
      return { checks };
    }
    size = target.size;
  } catch (error) {
    checks.push({
      check: "token file present",
      ok: false,
      detail: `${path}${link}, whose target is missing (${errorCode(error)})`,
      fix: `A projected volume's symlinks (token -> ..data/token) point at a folder the kubelet replaced: ${mounted}`,
    });
    return { checks };
  }
  checks.push({
    check: "token file present",
    ok: true,
    detail: `${path} (${size} bytes${link})`,
    fix: null,
  });

  let text: string;
  try {
    if (size > MAX_TOKEN_BYTES)
      throw Object.assign(new Error("larger than 1 MiB"), { code: "EFBIG" });
    text = await readFile(path, "utf8");
  } catch (error) {
    checks.push({
      check: "token file readable",
      ok: false,
      detail: `${path}: ${errorCode(error)}`,
      fix:
        errorCode(error) === "EACCES"
          ? "This process's user cannot read the file: run the container as a user or group that can (securityContext.runAsUser, or fsGroup for projected volumes), or give the projection a readable mode."
          : "Point AZURE_FEDERATED_TOKEN_FILE at the token file.",
    });
    return { checks };
  }
  if (text.trim() === "") {
    checks.push({
      check: "token file readable",
      ok: false,
      detail: `${path} is empty`,
      fix: "The kubelet writes the token when the volume is set up: an empty file means the projection failed (kubectl describe pod shows why), or the file is written by something else that has not run yet.",
    });
    return { checks };
  }
  checks.push({
    check: "token file readable",
    ok: true,
    detail: `${text.trim().length} characters`,
    fix: null,
  });

  try {
    const jwt = decodeJwt(extractToken(text));
    checks.push({
      check: "token decodes",
      ok: true,
      detail: `a JWT${typeof jwt.header.kid === "string" ? ` (kid ${jwt.header.kid})` : ""}`,
      fix: null,
    });
    return { checks, jwt };
  } catch (error) {
    checks.push({
      check: "token decodes",
      ok: false,
      detail: (error as Error).message,
      fix: "The file must hold exactly one JWT: three base64url parts joined by dots, nothing else.",
    });
    return { checks };
  }
}
