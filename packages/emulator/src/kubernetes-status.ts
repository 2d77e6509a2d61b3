/** A `metav1.Status` failure body, as the API server writes it. */
export interface KubernetesStatus {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure";
  message: string;
  reason: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { reason: string; message: string; field: string }[];
  };
  code: number;
}

function status(
  code: number,
  reason: string,
  message: string,
  details?: KubernetesStatus["details"],
): KubernetesStatus {
  // Key order follows the API server's JSON encoding of metav1.Status.
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

export function unauthorized(): KubernetesStatus {
  return status(401, "Unauthorized", "Unauthorized");
}

export function forbidden(user: string, namespace: string, name: string): KubernetesStatus {
  return status(
    403,
    "Forbidden",
    `serviceaccounts "${name}" is forbidden: User "${user}" cannot create resource "serviceaccounts/token" in API group "" in the namespace "${namespace}"`,
    { name, kind: "serviceaccounts" },
  );
}

export function serviceAccountNotFound(name: string): KubernetesStatus {
  return status(404, "NotFound", `serviceaccounts "${name}" not found`, {
    name,
    kind: "serviceaccounts",
  });
}

export function podNotFound(name: string): KubernetesStatus {
  return status(404, "NotFound", `pods "${name}" not found`, { name, kind: "pods" });
}

export function conflict(kind: string, name: string, message: string): KubernetesStatus {
  return status(409, "Conflict", `Operation cannot be fulfilled on ${kind} "${name}": ${message}`, {
    name,
    kind,
  });
}

export function resourceNotFound(): KubernetesStatus {
  return status(404, "NotFound", "the server could not find the requested resource", {});
}

export function methodNotAllowed(): KubernetesStatus {
  return status(
    405,
    "MethodNotAllowed",
    "the server does not allow this method on the requested resource",
    {},
  );
}

export function badRequest(message: string): KubernetesStatus {
  return status(400, "BadRequest", message);
}

export function unsupportedMediaType(contentType: string): KubernetesStatus {
  return status(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`,
    { kind: contentType },
  );
}

/**
 * A 422 for a TokenRequest. The API server validates the TokenRequest after it has cleared the
 * object name, so the quoted name is empty (`TokenRequest.authentication.k8s.io "" is invalid`)
 * unless the error is about metadata, where the URL's name is used.
 */
export function tokenRequestInvalid(
  name: string,
  field: string,
  value: string | number,
  detail: string,
): KubernetesStatus {
  const causeMessage = `Invalid value: ${typeof value === "string" ? JSON.stringify(value) : value}: ${detail}`;
  return status(
    422,
    "Invalid",
    `TokenRequest.authentication.k8s.io "${name}" is invalid: ${field}: ${causeMessage}`,
    {
      ...(name ? { name } : {}),
      group: "authentication.k8s.io",
      kind: "TokenRequest",
      causes: [{ reason: "FieldValueInvalid", message: causeMessage, field }],
    },
  );
}

/** A refusal as the handler answers it: the HTTP status is the Status body's own `code`. */
export function failed(body: KubernetesStatus): { status: number; body: KubernetesStatus } {
  return { status: body.code, body };
}
