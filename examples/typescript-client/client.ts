/**
 * A typed client for the Petitions API: openapi-fetch over the types that openapi-typescript
 * generates from the site's OpenAPI schema (schema.d.ts, from openapi.json; `make ts-client`).
 *
 * Every call returns the answer's data or throws an ApiError carrying the API's error body
 * (`code` for programs, `detail` for people, `errors` per field for a 400), so callers handle
 * one shape. The paths, parameters and bodies are checked by the compiler against the schema.
 */
import createClient from "openapi-fetch";
import type { components, operations, paths } from "./schema";

type Schemas = components["schemas"];
export type PetitionList = Schemas["PetitionList"];
export type PetitionSummary = Schemas["PetitionSummary"];
export type PetitionDetail = Schemas["PetitionDetail"];
export type Count = Schemas["Count"];
/** The sign request's body (inlined in the schema, so taken from the operation). */
export type SignatureIn = NonNullable<operations["petitions_sign"]["requestBody"]>["content"]["application/json"];
export type Accepted = Schemas["Accepted"];
export type ConfirmIn = Schemas["ConfirmIn"];
export type Confirmed = Schemas["Confirmed"];

/** An answer other than success, with the API's error body when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly errors: Record<string, string[]> = {},
  ) {
    super(detail);
  }
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

function unwrap<T>({ data, error, response }: Answer<T>): T {
  if (response.ok && data !== undefined) return data;
  const body = (error ?? {}) as { code?: string; detail?: string; errors?: Record<string, string[]> };
  throw new ApiError(response.status, body.code ?? "error", body.detail ?? response.statusText, body.errors);
}

/** The client for the site at `baseUrl` (its origin: the schema's paths start with /api/). */
export function petitionsClient(baseUrl: string, init: { fetch?: typeof fetch; language?: string } = {}) {
  const headers: Record<string, string> = init.language ? { "Accept-Language": init.language } : {};
  const api = createClient<paths>({ baseUrl: baseUrl.replace(/\/$/, ""), fetch: init.fetch, headers });
  return {
    raw: api,
    async list(limit = 20, offset = 0): Promise<PetitionList> {
      return unwrap(await api.GET("/api/petitions/", { params: { query: { limit, offset } } }));
    },
    async petition(id: number): Promise<PetitionDetail> {
      const query = { rich_text_format: "html" as const };
      return unwrap(await api.GET("/api/petitions/{id}/", { params: { path: { id }, query } }));
    },
    /** The live count; `no-cache` revalidates the browser's copy (its ETag answers 304 cheaply). */
    async count(id: number): Promise<Count> {
      return unwrap(await api.GET("/api/petitions/{id}/count.json", { params: { path: { id } }, cache: "no-cache" }));
    },
    async sign(id: number, signature: SignatureIn, source?: string): Promise<Accepted> {
      const params = { path: { id }, query: source ? { source } : {} };
      return unwrap(await api.POST("/api/petitions/{id}/signatures/", { params, body: signature }));
    },
    async confirm(confirmation: ConfirmIn): Promise<Confirmed> {
      return unwrap(await api.POST("/api/signatures/confirm/", { body: confirmation }));
    },
  };
}

export type PetitionsClient = ReturnType<typeof petitionsClient>;
