import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTlsAuthority } from "@fedcred/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLIENT, fakeJwt, SCOPE, TENANT } from "./token-server.js";

const DIST = fileURLToPath(new URL("../dist/index.mjs", import.meta.url));
const ASSERTION = fakeJwt({ iss: "https://issuer.example", sub: "s", exp: 4_000_000_000 });

let directory: string;
let caFile: string;
let ca: string;
let server: Server;
let url: string;
let handshakes = 0;
let tokenRequests = 0;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "fedcred-shared-connections-"));
  const authority = await createTlsAuthority();
  ca = authority.caCertificate;
  caFile = join(directory, "ca.pem");
  await writeFile(caFile, ca);
  server = createServer(
    { cert: authority.serverCertificate, key: authority.serverKey },
    (request, response) => {
      request.resume();
      request.on("end", () => {
        tokenRequests += 1;
        response.writeHead(200, { "content-type": "application/json" });
        response.end(
          JSON.stringify({
            token_type: "Bearer",
            expires_in: 3599,
            access_token: fakeJwt({ n: tokenRequests }),
          }),
        );
      });
    },
  );
  server.on("secureConnection", () => {
    handshakes += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await rm(directory, { recursive: true, force: true });
});

/** Runs `body` in a child process that trusts the server's CA from its start, as users do. */
function runChild(body: string): Promise<string> {
  const script = `
    import { ClientAssertionCredential } from ${JSON.stringify(DIST)};
    const make = (options = {}) => new ClientAssertionCredential(${JSON.stringify(TENANT)}, ${JSON.stringify(CLIENT)}, () => ${JSON.stringify(ASSERTION)}, { authorityHost: ${JSON.stringify(url)}, ...options });
    const scope = ${JSON.stringify(SCOPE)};
    ${body}
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let errors = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      errors += chunk;
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(killer);
      if (code === 0) resolve(output.trim());
      else reject(new Error(`child exited ${code}: ${errors}`));
    });
  });
}

describe.skipIf(!existsSync(DIST))("connections shared by credentials", () => {
  it("a new credential reuses the connection of the ones before it (Node's default TLS settings)", async () => {
    handshakes = 0;
    tokenRequests = 0;
    const output = await runChild(`
      for (let i = 0; i < 3; i++) await make().getToken(scope);
      console.log("ok");
    `);
    expect(output).toBe("ok");
    expect(tokenRequests).toBe(3);
    expect(handshakes).toBe(1);
  });

  it("close() closes the idle connections the credential used; TLS settings of its own get their own", async () => {
    handshakes = 0;
    tokenRequests = 0;
    const output = await runChild(`
      const first = make();
      await first.getToken(scope);
      await first.close();
      await make().getToken(scope);
      await make({ tlsOptions: { ca: ${JSON.stringify(ca)} } }).getToken(scope);
      console.log("ok");
    `);
    expect(output).toBe("ok");
    expect(tokenRequests).toBe(3);
    expect(handshakes).toBe(3);
  });
});
