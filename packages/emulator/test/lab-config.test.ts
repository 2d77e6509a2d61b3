import { describe, expect, it } from "vitest";
import { LabConfigError, parseLabConfig } from "../src/lab-config.js";

const TENANT = "8f0e2a6c-1d5b-4c3e-9a7f-2b6d4e8c0a1f";
const CLIENT = "0b7c3f1e-5a2d-4e8b-9c6f-1d3a5b7c9e2f";
const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

function problemsOf(config: unknown): readonly string[] {
  try {
    parseLabConfig(JSON.stringify(config), "lab.json");
  } catch (error) {
    if (error instanceof LabConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("parseLabConfig", () => {
  it("accepts every field the lab takes from JSON, and returns them as they are", () => {
    const config = {
      tenantId: TENANT,
      clientId: CLIENT,
      roles: ["Lab.Read", "Lab.Write"],
      resourceAudience: "api://billing",
      kubernetes: {
        namespace: "prod",
        serviceAccount: "billing.worker",
        tokenExpirationSeconds: 600,
      },
      aws: { accountId: "123456789012", roleName: "billing@prod", region: "us-gov-west-1" },
      issuerSubject: "repo:acme/app:ref:refs/heads/main",
      accessTokenLifetimeSeconds: 60,
      refreshInSeconds: 30,
      apps: [
        {
          clientId: CLIENT.toUpperCase(),
          objectId: TENANT,
          federatedCredentials: [
            { issuer: "https://127.0.0.1:1", subject: "s", audiences: ["a"], name: "n" },
          ],
          certificates: [PEM],
          trustedCertificateSubjects: [{ subject: "CN=billing", caCertificate: PEM }],
          roles: [],
        },
      ],
      directory: "/tmp/lab",
    };
    expect(parseLabConfig(JSON.stringify(config), "lab.json")).toEqual(config);
    expect(parseLabConfig("{}", "lab.json")).toEqual({});
    expect(problemsOf({ tenantId: "contoso.onmicrosoft.com" })).toEqual([]);
  });

  it("names the file, the field path, what was expected and what came, for every problem at once", () => {
    let caught: unknown;
    try {
      parseLabConfig(
        JSON.stringify({ tenantId: 5, apps: [{ clientId: CLIENT }, { clientId: "billing" }] }),
        "config/lab.json",
      );
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(LabConfigError);
    expect((caught as Error).message).toBe(
      "config/lab.json: tenantId must be a string (a GUID or a domain name), got the number 5\n" +
        'config/lab.json: apps[1].clientId must be a GUID, got the string "billing"',
    );
  });

  it.each([
    [
      { tenantId: "not a tenant" },
      'tenantId must be a GUID or a domain name, got the string "not a tenant"',
    ],
    [{ clientId: null }, "clientId must be a string (a GUID), got null"],
    [{ roles: "Lab.Read" }, 'roles must be an array, got the string "Lab.Read"'],
    [{ roles: ["ok", ""] }, 'roles[1] must be a non-empty string, got the string ""'],
    [
      { kubernetes: { namespace: "Prod" } },
      'kubernetes.namespace must be a Kubernetes namespace name (lower-case letters, digits and -), got the string "Prod"',
    ],
    [
      { kubernetes: { tokenExpirationSeconds: 1.5 } },
      "kubernetes.tokenExpirationSeconds must be a whole number of seconds, at least 1, got the number 1.5",
    ],
    [{ kubernetes: [] }, "kubernetes must be an object, got an array"],
    [
      { aws: { accountId: 123456789012 } },
      "aws.accountId must be a string (12 digits), got the number 123456789012",
    ],
    [
      { aws: { region: "Europe" } },
      'aws.region must be a region name such as eu-west-1, got the string "Europe"',
    ],
    [
      { accessTokenLifetimeSeconds: "3600" },
      'accessTokenLifetimeSeconds must be a whole number of seconds, at least 1, got the string "3600"',
    ],
    [
      { refreshInSeconds: 0 },
      "refreshInSeconds must be a whole number of seconds, at least 1, got the number 0",
    ],
    [{ apps: [{}] }, "apps[0].clientId is required"],
    [
      {
        apps: [
          {
            clientId: CLIENT,
            federatedCredentials: [{ issuer: "https://x", subject: "s", audiences: [] }],
          },
        ],
      },
      "apps[0].federatedCredentials[0].audiences must hold at least 1, got 0",
    ],
    [
      { apps: [{ clientId: CLIENT, certificates: ["MIIB"] }] },
      'apps[0].certificates[0] must be a PEM certificate, got the string "MIIB"',
    ],
    [{ issuerSubject: 1 }, "issuerSubject must be a non-empty string, got the number 1"],
  ])("refuses %j", (config, problem) => {
    expect(problemsOf(config)).toEqual([problem]);
  });

  it("shows at most 40 characters of a string it refuses", () => {
    expect(problemsOf({ clientId: "x".repeat(50) })).toEqual([
      `clientId must be a GUID, got the string "${"x".repeat(40)}"…`,
    ]);
  });

  it("holds apps to Entra's 20 federated credentials", () => {
    const credential = { issuer: "https://x", subject: "s", audiences: ["a"] };
    expect(
      problemsOf({
        apps: [{ clientId: CLIENT, federatedCredentials: Array(21).fill(credential) }],
      }),
    ).toEqual(["apps[0].federatedCredentials must hold at most 20 (Entra's limit), got 21"]);
  });

  it("names unknown fields, where they are, what the object takes, and a near miss in letter case", () => {
    expect(problemsOf({ tenantID: TENANT, kubernetes: { serviceaccount: "x" } })).toEqual([
      "unknown field tenantID (did you mean tenantId?); a lab configuration takes tenantId, clientId, roles, resourceAudience, kubernetes, aws, issuerSubject, accessTokenLifetimeSeconds, refreshInSeconds, apps, directory",
      "unknown field kubernetes.serviceaccount (did you mean kubernetes.serviceAccount?); kubernetes takes namespace, serviceAccount, tokenExpirationSeconds",
    ]);
    expect(problemsOf({ apps: [{ clientId: CLIENT, secret: "x" }] })).toEqual([
      "unknown field apps[0].secret; apps[0] takes clientId, objectId, federatedCredentials, certificates, trustedCertificateSubjects, roles",
    ]);
    // tlsAuthority is a LabConfig field, but not one a JSON file gives.
    expect(problemsOf({ tlsAuthority: {} })[0]).toMatch(/^unknown field tlsAuthority; /);
  });

  it("says where JSON syntax breaks, and what a file that is not an object holds", () => {
    expect(() => parseLabConfig('{\n  "tenantId": "x",\n}', "lab.json")).toThrow(
      /^lab\.json: not JSON: .*\(line 3 column 1\)$/,
    );
    expect(problemsOf([TENANT])).toEqual([
      "must hold a JSON object (a lab configuration), got an array",
    ]);
    expect(problemsOf(null)).toEqual(["must hold a JSON object (a lab configuration), got null"]);
  });
});
