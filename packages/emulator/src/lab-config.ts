import type { LabConfig } from "./lab.js";

/**
 * A lab configuration file the emulator cannot use. The message names the file, and each
 * problem the field path, what it must be and what it is.
 */
export class LabConfigError extends Error {
  override readonly name = "LabConfigError";
  /** One line per problem, each starting with the field path. */
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super(problems.map((problem) => `${source}: ${problem}`).join("\n"));
    this.problems = problems;
  }
}

type Check = (value: unknown, path: string, problems: string[]) => void;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const DNS_LABEL = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----/;
const MAX_FEDERATED_CREDENTIALS = 20;

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") {
    const shown =
      value.length > 40 ? `${JSON.stringify(value.slice(0, 40))}…` : JSON.stringify(value);
    return `the string ${shown}`;
  }
  if (typeof value === "number") return `the number ${value}`;
  if (typeof value === "object") return "an object";
  return String(value);
}

/** A non-empty string; `rule` (which `description` says in words) narrows it further. */
function text(description: string, rule?: RegExp): Check {
  return (value, path, problems) => {
    if (typeof value !== "string") {
      const expected = rule ? `a string (${description})` : description;
      problems.push(`${path} must be ${expected}, got ${describe(value)}`);
    } else if (rule ? !rule.test(value) : value.trim() === "") {
      problems.push(`${path} must be ${description}, got ${describe(value)}`);
    }
  };
}

function wholeNumber(minimum: number): Check {
  return (value, path, problems) => {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < minimum) {
      problems.push(
        `${path} must be a whole number of seconds, at least ${minimum}, got ${describe(value)}`,
      );
    }
  };
}

function list(
  item: Check,
  limits: { minimum?: number; maximum?: number; why?: string } = {},
): Check {
  return (value, path, problems) => {
    if (!Array.isArray(value)) {
      problems.push(`${path} must be an array, got ${describe(value)}`);
      return;
    }
    if (limits.minimum !== undefined && value.length < limits.minimum) {
      problems.push(`${path} must hold at least ${limits.minimum}, got ${value.length}`);
    }
    if (limits.maximum !== undefined && value.length > limits.maximum) {
      problems.push(
        `${path} must hold at most ${limits.maximum}${limits.why ?? ""}, got ${value.length}`,
      );
    }
    for (const [index, element] of value.entries()) item(element, `${path}[${index}]`, problems);
  };
}

/** An object with these fields (the `required` ones must be present), and no others. */
function record(fields: Record<string, Check>, required: readonly string[] = []): Check {
  const known = Object.keys(fields);
  return (value, path, problems) => {
    const where = path === "" ? "" : `${path}.`;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      problems.push(
        path === ""
          ? `must hold a JSON object (a lab configuration), got ${describe(value)}`
          : `${path} must be an object, got ${describe(value)}`,
      );
      return;
    }
    for (const name of required) {
      if (!Object.hasOwn(value, name)) problems.push(`${where}${name} is required`);
    }
    for (const [name, field] of Object.entries(value)) {
      const check = fields[name];
      if (check) {
        check(field, `${where}${name}`, problems);
        continue;
      }
      const likely = known.find((candidate) => candidate.toLowerCase() === name.toLowerCase());
      problems.push(
        `unknown field ${where}${name}${likely ? ` (did you mean ${where}${likely}?)` : ""}; ` +
          `${path === "" ? "a lab configuration" : path} takes ${known.join(", ")}`,
      );
    }
  };
}

const strings = list(text("a non-empty string"));

const federatedCredential = record(
  {
    issuer: text("the issuer URL, exactly as in the token's iss"),
    subject: text("the token's sub, exactly"),
    audiences: list(text("a non-empty string"), { minimum: 1 }),
    name: text("a non-empty string"),
  },
  ["issuer", "subject", "audiences"],
);

const app = record(
  {
    clientId: text("a GUID", GUID),
    objectId: text("a GUID", GUID),
    federatedCredentials: list(federatedCredential, {
      maximum: MAX_FEDERATED_CREDENTIALS,
      why: " (Entra's limit)",
    }),
    certificates: list(text("a PEM certificate", PEM_CERTIFICATE)),
    trustedCertificateSubjects: list(
      record(
        {
          subject: text("a subject DN such as CN=billing.contoso.com, O=Contoso"),
          caCertificate: text("a PEM certificate", PEM_CERTIFICATE),
        },
        ["subject", "caCertificate"],
      ),
    ),
    roles: strings,
  },
  ["clientId"],
);

/** What the emulator's bin accepts: every {@link LabConfig} field but `tlsAuthority`. */
const labConfig = record({
  tenantId: text("a GUID or a domain name", new RegExp(`${GUID.source}|${DNS_NAME.source}`, "i")),
  clientId: text("a GUID", GUID),
  roles: strings,
  resourceAudience: text("an application ID URI such as https://storage.azure.com"),
  kubernetes: record({
    namespace: text("a Kubernetes namespace name (lower-case letters, digits and -)", DNS_LABEL),
    serviceAccount: text(
      "a Kubernetes service account name (lower-case letters, digits, - and .)",
      DNS_SUBDOMAIN,
    ),
    tokenExpirationSeconds: wholeNumber(1),
  }),
  aws: record({
    accountId: text("12 digits", /^\d{12}$/),
    roleName: text(
      "an IAM role name (letters, digits and +=,.@_-, at most 64)",
      /^[\w+=,.@-]{1,64}$/,
    ),
    region: text("a region name such as eu-west-1", /^[a-z]{2}(-[a-z]+)+-\d+$/),
  }),
  issuerSubject: text("a non-empty string"),
  accessTokenLifetimeSeconds: wholeNumber(1),
  refreshInSeconds: wholeNumber(1),
  apps: list(app),
  directory: text("a folder path"),
});

/** Where a JSON syntax error is, as line and column, when the parser gives only a position. */
function locate(message: string, json: string): string {
  const position = /at position (\d+)/.exec(message);
  if (!position || /line \d+/.test(message)) return message;
  const before = json.slice(0, Number(position[1]));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return `${message} (line ${line} column ${column})`;
}

/**
 * Parses and checks a lab configuration file's text before anything starts. Throws a
 * {@link LabConfigError} naming `source` and every field that is wrong or unknown.
 */
export function parseLabConfig(json: string, source: string): LabConfig {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new LabConfigError(source, [
      `not JSON: ${locate(error instanceof Error ? error.message : String(error), json)}`,
    ]);
  }
  const problems: string[] = [];
  labConfig(value, "", problems);
  if (problems.length > 0) throw new LabConfigError(source, problems);
  return value as LabConfig;
}
