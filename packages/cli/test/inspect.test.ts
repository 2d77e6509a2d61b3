import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Lab, startLab } from "@fedcred/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Report } from "../src/commands/inspect.js";
import { fedcred, labEnvironment, type Run, unsignedJwt } from "./fedcred.js";

const EXCHANGE = "api://AzureADTokenExchange";
let lab: Lab;

beforeAll(async () => {
  lab = await startLab();
});
afterAll(() => lab?.close());

const now = (): number => Math.floor(Date.now() / 1000);

/** A federated assertion as an issuer would sign it, with overrides. */
function assertion(payload: object = {}, header: object = {}): string {
  return unsignedJwt(
    { alg: "RS256", kid: "key-1", typ: "JWT", ...header },
    {
      iss: "https://issuer.example",
      sub: "system:serviceaccount:prod:billing",
      aud: [EXCHANGE],
      iat: now() - 60,
      nbf: now() - 60,
      exp: now() + 3540,
      ...payload,
    },
  );
}

async function inspectJson(
  token: string,
  ...args: string[]
): Promise<{ run: Run; report: Report }> {
  const run = await fedcred(["inspect", "-", "--json", ...args], {
    env: labEnvironment(lab),
    input: token,
  });
  expect(run.stderr).toBe("");
  return { run, report: JSON.parse(run.stdout) as Report };
}

function codes(report: Report): string[] {
  return report.findings.map((finding) => finding.code);
}

describe("fedcred inspect, on real tokens of the lab", () => {
  it("explains the projected assertion of AZURE_FEDERATED_TOKEN_FILE when given no argument", async () => {
    const run = await fedcred(["inspect"], { env: labEnvironment(lab) });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("A federated client assertion");
    expect(run.stdout).toContain(`(from ${lab.env.AZURE_FEDERATED_TOKEN_FILE})`);
    expect(run.stdout).toMatch(new RegExp(`^  sub +${lab.subjects.kubernetes}$`, "m"));
    expect(run.stdout).toMatch(/^ {2}exp +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in (59 min|1 h)\)$/m);
    expect(run.stdout).toContain("The header has no typ. Entra accepts that");
    // Not a TTY: no colour.
    expect(run.stdout).not.toContain("\u001b[");
  });

  it("explains an access token piped from fedcred token, in JSON", async () => {
    const token = await fedcred(
      ["token", "--source", "file", "--scope", lab.env.FEDCRED_RESOURCE_SCOPE],
      { env: labEnvironment(lab) },
    );
    expect(token.code).toBe(0);
    const { run, report } = await inspectJson(token.stdout);
    expect(run.code).toBe(0);
    expect(report.kind).toBe("access-token");
    expect(report.claims).toMatchObject({
      aud: "https://storage.azure.com",
      appid: lab.clientId,
      tid: lab.tenantId,
    });
    expect(report.findings).toEqual([]);
    expect(report.times.exp?.relative).toMatch(/^in /);
    expect(report.lifetimeSeconds).toBeGreaterThan(3500);
    // The raw token and "Bearer <token>" read the same.
    const raw = (JSON.parse(token.stdout) as { accessToken: string }).accessToken;
    expect((await inspectJson(`Bearer ${raw}\n`)).report.claims).toEqual(report.claims);
  });

  it("never prints the signature, and refuses a token given as an argument", async () => {
    const token = assertion();
    const path = join(lab.directory, "assertion.jwt");
    await writeFile(path, token);
    const run = await fedcred(["inspect", path], { env: labEnvironment(lab) });
    expect(run.stdout).not.toContain(token.split(".")[2]);
    const pasted = await fedcred(["inspect", token], { env: labEnvironment(lab) });
    expect(pasted.code).toBe(2);
    expect(pasted.stderr).toContain("pipe it on stdin");
    expect(pasted.stderr).not.toContain(token);
  });

  it("a certificate assertion is judged as one", async () => {
    const endpoint = `https://login.microsoftonline.com/${lab.tenantId}/oauth2/v2.0/token`;
    const token = unsignedJwt(
      { alg: "PS256", typ: "JWT", "x5t#S256": "abc" },
      {
        iss: lab.clientId,
        sub: lab.clientId,
        aud: endpoint,
        jti: "1",
        iat: now(),
        nbf: now(),
        exp: now() + 600,
      },
    );
    const { run, report } = await inspectJson(token);
    expect(run.code).toBe(0);
    expect(report.kind).toBe("certificate-assertion");
    expect(report.findings).toEqual([]);
    const wrong = unsignedJwt(
      { alg: "PS256", "x5t#S256": "abc" },
      { iss: lab.clientId, sub: "other", aud: "api://x", exp: now() + 600 },
    );
    const judged = await inspectJson(wrong);
    expect(judged.run.code).toBe(1);
    expect(codes(judged.report)).toEqual(["issuer_subject", "audience", "no_jti"]);
  });
});

describe("fedcred inspect warnings", () => {
  it("a good assertion has nothing to say but the missing typ, and exits 0", async () => {
    const { run, report } = await inspectJson(assertion({}, { typ: undefined }));
    expect(run.code).toBe(0);
    expect(report.kind).toBe("federated-assertion");
    expect(report.findings).toEqual([
      expect.objectContaining({ level: "note", code: "typ_missing" }),
    ]);
  });

  it.each([
    ["expired", { exp: now() - 120 }, {}, "error", 700024, /expired 2 min ago/],
    ["not_yet_valid", { nbf: now() + 600 }, {}, "error", 700024, /not valid for another 10 min/],
    [
      "audience",
      { aud: "api://my-app" },
      {},
      "warning",
      700212,
      /not api:\/\/AzureADTokenExchange/,
    ],
    [
      "identity_binding_audience",
      { aud: ["api://AKSIdentityBinding"] },
      {},
      "warning",
      700212,
      /AKS identity binding/,
    ],
    ["typ", {}, { typ: "at+jwt" }, "error", 5002727, /typ is "at\+jwt"/],
    [
      "lifetime",
      { iat: now(), nbf: now(), exp: now() + 26 * 3600 },
      {},
      "error",
      70023,
      /lives 26 h/,
    ],
    ["algorithm", {}, { alg: "ES384" }, "error", 5002730, /accepts only RS256/],
  ])("%s", async (code, payload, header, level, aadsts, message) => {
    const { run, report } = await inspectJson(assertion(payload, header));
    const finding = report.findings.find((found) => found.code === code);
    expect(finding).toMatchObject({ level, aadsts });
    expect(finding?.message).toMatch(message);
    expect(run.code).toBe(level === "error" ? 1 : 0);
    expect(report.ok).toBe(level !== "error");
  });

  it("prints findings for people, most serious first", async () => {
    const token = assertion({ exp: now() - 60, aud: "api://my-app" }, { typ: undefined });
    const run = await fedcred(["inspect", "-"], { env: labEnvironment(lab), input: token });
    expect(run.code).toBe(1);
    const lines = run.stdout.split("\n").filter((line) => /^ {2}(✗|!|·) /.test(line));
    expect(lines.map((line) => line.slice(2, 11))).toEqual(["✗ error  ", "! warning", "· note   "]);
  });
});

describe("fedcred inspect --issuer --subject --audience", () => {
  const fic = [
    "--issuer",
    "https://issuer.example",
    "--subject",
    "system:serviceaccount:prod:billing",
    "--audience",
    EXCHANGE,
  ];

  it("a token that matches the FIC exits 0", async () => {
    const { run, report } = await inspectJson(assertion(), ...fic);
    expect(run.code).toBe(0);
    expect(report.fic).toEqual({
      match: true,
      fields: [
        expect.objectContaining({ field: "issuer", match: true }),
        expect.objectContaining({ field: "audience", match: true }),
        expect.objectContaining({ field: "subject", match: true }),
      ],
    });
    const human = await fedcred(["inspect", "-", ...fic], {
      env: labEnvironment(lab),
      input: assertion(),
    });
    expect(human.stdout).toContain("Entra would match this federated credential.");
  });

  it.each([
    ["issuer", { iss: "https://issuer.example/" }, 700211, "differs only by a trailing slash"],
    ["issuer", { iss: "https://Issuer.example" }, 700211, "differs only in letter case"],
    ["audience", { aud: "api://AzureADTokenExchangeX" }, 700212, undefined],
    ["audience", { aud: "api://AKSIdentityBinding" }, 700212, "AKS identity binding"],
    ["subject", { sub: "system:serviceaccount:prod:reports" }, 700213, undefined],
    [
      "subject",
      { sub: "system:serviceaccount:prod:Billing" },
      7002138,
      "differs only in letter case",
    ],
  ])("%s mismatch %j: AADSTS%i", async (field, payload, aadsts, reason) => {
    const { run, report } = await inspectJson(assertion(payload), ...fic);
    expect(run.code).toBe(1);
    expect(report.fic?.match).toBe(false);
    expect(report.fic?.aadsts).toBe(aadsts);
    const failed = report.fic?.fields.find((entry) => !entry.match);
    expect(failed?.field).toBe(field);
    if (reason !== undefined) expect(failed?.reason).toContain(reason);
    const human = await fedcred(["inspect", "-", ...fic], {
      env: labEnvironment(lab),
      input: assertion(payload),
    });
    expect(human.stdout).toContain(`Entra would refuse the token with AADSTS${aadsts}.`);
  });

  it("Entra's order decides the code: a wrong issuer is reported before a wrong subject", async () => {
    const { report } = await inspectJson(
      assertion({ iss: "https://elsewhere.example", sub: "x" }),
      ...fic,
    );
    expect(report.fic?.aadsts).toBe(700211);
    expect(report.fic?.fields.map((field) => field.match)).toEqual([false, true, false]);
  });

  it("compares only the fields given", async () => {
    const { run, report } = await inspectJson(
      assertion({ sub: "system:serviceaccount:prod:BILLING" }),
      "--subject",
      "system:serviceaccount:prod:billing",
    );
    expect(run.code).toBe(1);
    expect(report.fic?.fields).toHaveLength(1);
    expect(report.fic?.aadsts).toBe(7002138);
  });
});

describe("fedcred inspect input errors", () => {
  it("something that is not a JWT exits 1 without quoting it", async () => {
    const run = await fedcred(["inspect", "-"], {
      env: labEnvironment(lab),
      input: "not-a-token secret-value",
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("error (invalid_jwt): The value is not a compact JWT");
    expect(run.stderr).not.toContain("secret-value");
  });

  it("empty stdin and an empty file exit 1 saying so", async () => {
    const stdin = await fedcred(["inspect", "-"], { env: labEnvironment(lab), input: "\n" });
    expect(stdin.code).toBe(1);
    expect(stdin.stderr).toContain("stdin was empty: pipe the token in");
    const dir = mkdtempSync(join(tmpdir(), "fedcred-inspect-empty-"));
    try {
      const empty = join(dir, "token");
      writeFileSync(empty, "");
      const file = await fedcred(["inspect", empty], { env: labEnvironment(lab) });
      expect(file.code).toBe(1);
      expect(file.stderr).toContain(`${empty} is empty: no token to inspect.`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a missing file exits 1 naming it; no argument and no AZURE_FEDERATED_TOKEN_FILE exits 2", async () => {
    const missing = await fedcred(["inspect", "/no/such/token"], { env: labEnvironment(lab) });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("Cannot read /no/such/token: ENOENT.");
    const env = labEnvironment(lab);
    delete env.AZURE_FEDERATED_TOKEN_FILE;
    const none = await fedcred(["inspect"], { env });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(
      "pass a FILE, - to read stdin, or set AZURE_FEDERATED_TOKEN_FILE",
    );
  });

  it("colours only when asked: FORCE_COLOR on a pipe, never with NO_COLOR alone", async () => {
    const forced = await fedcred(["inspect", "-"], {
      env: labEnvironment(lab, { FORCE_COLOR: "1" }),
      input: assertion(),
    });
    expect(forced.stdout).toContain("\u001b[1m");
    const plain = await fedcred(["inspect", "-"], {
      env: labEnvironment(lab, { NO_COLOR: "1" }),
      input: assertion(),
    });
    expect(plain.stdout).not.toContain("\u001b[");
  });
});
