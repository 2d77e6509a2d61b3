import type { ServerResponse } from "node:http";

export const STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/";

export function escapeXml(value: string): string {
  return value
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** Answers an AWS query-protocol XML document with the request id headers AWS sends. */
export function sendXml(
  response: ServerResponse,
  status: number,
  xml: string,
  requestId: string,
): void {
  const body = `${xml}\n`;
  response.writeHead(status, {
    "content-type": "text/xml",
    "content-length": String(Buffer.byteLength(body)),
    "x-amzn-requestid": requestId,
    // The clock signatures are checked against (Node's own Date header ignores a faked clock):
    // the SDK corrects its clock skew from this header, as it does with STS's.
    date: new Date().toUTCString(),
  });
  response.end(body);
}

/** `<ErrorResponse>` as STS writes it: Sender faults for 4xx, Receiver for 5xx. */
export function errorXml(status: number, code: string, message: string, requestId: string): string {
  return [
    `<ErrorResponse xmlns="${STS_NAMESPACE}">`,
    "  <Error>",
    `    <Type>${status >= 500 ? "Receiver" : "Sender"}</Type>`,
    `    <Code>${escapeXml(code)}</Code>`,
    `    <Message>${escapeXml(message)}</Message>`,
    "  </Error>",
    `  <RequestId>${requestId}</RequestId>`,
    "</ErrorResponse>",
  ].join("\n");
}

/** `<{Action}Response><{Action}Result>...</{Action}Result><ResponseMetadata>...` */
export function resultXml(
  action: string,
  fields: Record<string, string>,
  requestId: string,
): string {
  const members = Object.entries(fields).map(
    ([name, value]) => `    <${name}>${escapeXml(value)}</${name}>`,
  );
  return [
    `<${action}Response xmlns="${STS_NAMESPACE}">`,
    `  <${action}Result>`,
    ...members,
    `  </${action}Result>`,
    "  <ResponseMetadata>",
    `    <RequestId>${requestId}</RequestId>`,
    "  </ResponseMetadata>",
    `</${action}Response>`,
  ].join("\n");
}

/** Values of a query-protocol list `{name}.member.N` in member order; `undefined` if absent. */
export function memberList(params: URLSearchParams, name: string): string[] | undefined {
  const entries: [number, string][] = [];
  const prefix = `${name}.member.`;
  let present = params.has(name);
  for (const [key, value] of params) {
    if (!key.startsWith(prefix)) continue;
    const index = Number(key.slice(prefix.length));
    if (Number.isInteger(index) && index > 0) {
      entries.push([index, value]);
      present = true;
    }
  }
  if (!present) return undefined;
  return entries.sort(([a], [b]) => a - b).map(([, value]) => value);
}

/** Structures of a query-protocol list `{name}.member.N.{Field}`, keyed by N, in member order. */
export function memberStructures(
  params: URLSearchParams,
  name: string,
): Record<string, string>[] | undefined {
  const byIndex = new Map<number, Record<string, string>>();
  const pattern = new RegExp(`^${name}\\.member\\.(\\d+)\\.(\\w+)$`);
  for (const [key, value] of params) {
    const match = pattern.exec(key);
    if (!match) continue;
    const index = Number(match[1]);
    const structure = byIndex.get(index) ?? {};
    structure[match[2]!] = value;
    byIndex.set(index, structure);
  }
  if (byIndex.size === 0) return params.has(name) ? [] : undefined;
  return [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, structure]) => structure);
}
