"use strict";
(() => {
  // node_modules/openapi-fetch/dist/index.mjs
  var PATH_PARAM_RE = /\{[^{}]+\}/g;
  var supportsRequestInitExt = () => {
    return typeof process === "object" && Number.parseInt(process?.versions?.node?.substring(0, 2)) >= 18 && process.versions.undici;
  };
  function randomID() {
    return Math.random().toString(36).slice(2, 11);
  }
  function createClient(clientOptions) {
    let {
      baseUrl = "",
      Request: CustomRequest = globalThis.Request,
      fetch: baseFetch = globalThis.fetch,
      querySerializer: globalQuerySerializer,
      bodySerializer: globalBodySerializer,
      pathSerializer: globalPathSerializer,
      headers: baseHeaders,
      requestInitExt = void 0,
      ...baseOptions
    } = { ...clientOptions };
    requestInitExt = supportsRequestInitExt() ? requestInitExt : void 0;
    baseUrl = removeTrailingSlash(baseUrl);
    const globalMiddlewares = [];
    async function coreFetch(schemaPath, fetchOptions) {
      const {
        baseUrl: localBaseUrl,
        fetch = baseFetch,
        Request = CustomRequest,
        headers,
        params: params2 = {},
        parseAs = "json",
        querySerializer: requestQuerySerializer,
        bodySerializer = globalBodySerializer ?? defaultBodySerializer,
        pathSerializer: requestPathSerializer,
        body,
        middleware: requestMiddlewares = [],
        ...init
      } = fetchOptions || {};
      let finalBaseUrl = baseUrl;
      if (localBaseUrl) {
        finalBaseUrl = removeTrailingSlash(localBaseUrl) ?? baseUrl;
      }
      let querySerializer = typeof globalQuerySerializer === "function" ? globalQuerySerializer : createQuerySerializer(globalQuerySerializer);
      if (requestQuerySerializer) {
        querySerializer = typeof requestQuerySerializer === "function" ? requestQuerySerializer : createQuerySerializer({
          ...typeof globalQuerySerializer === "object" ? globalQuerySerializer : {},
          ...requestQuerySerializer
        });
      }
      const pathSerializer = requestPathSerializer || globalPathSerializer || defaultPathSerializer;
      const serializedBody = body === void 0 ? void 0 : bodySerializer(
        body,
        // Note: we declare mergeHeaders() both here and below because it’s a bit of a chicken-or-egg situation:
        // bodySerializer() needs all headers so we aren’t dropping ones set by the user, however,
        // the result of this ALSO sets the lowest-priority content-type header. So we re-merge below,
        // setting the content-type at the very beginning to be overwritten.
        // Lastly, based on the way headers work, it’s not a simple “present-or-not” check becauase null intentionally un-sets headers.
        mergeHeaders(baseHeaders, headers, params2.header)
      );
      const finalHeaders = mergeHeaders(
        // with no body, we should not to set Content-Type
        serializedBody === void 0 || // if serialized body is FormData; browser will correctly set Content-Type & boundary expression
        serializedBody instanceof FormData ? {} : {
          "Content-Type": "application/json"
        },
        baseHeaders,
        headers,
        params2.header
      );
      const finalMiddlewares = [...globalMiddlewares, ...requestMiddlewares];
      const requestInit = {
        redirect: "follow",
        ...baseOptions,
        ...init,
        body: serializedBody,
        headers: finalHeaders
      };
      let id;
      let options;
      let request = new Request(
        createFinalURL(schemaPath, { baseUrl: finalBaseUrl, params: params2, querySerializer, pathSerializer }),
        requestInit
      );
      let response;
      for (const key in init) {
        if (!(key in request)) {
          request[key] = init[key];
        }
      }
      if (finalMiddlewares.length) {
        id = randomID();
        options = Object.freeze({
          baseUrl: finalBaseUrl,
          fetch,
          parseAs,
          querySerializer,
          bodySerializer,
          pathSerializer
        });
        for (const m of finalMiddlewares) {
          if (m && typeof m === "object" && typeof m.onRequest === "function") {
            const result = await m.onRequest({
              request,
              schemaPath,
              params: params2,
              options,
              id
            });
            if (result) {
              if (result instanceof Request) {
                request = result;
              } else if (result instanceof Response) {
                response = result;
                break;
              } else {
                throw new Error("onRequest: must return new Request() or Response() when modifying the request");
              }
            }
          }
        }
      }
      if (!response) {
        try {
          response = await fetch(request, requestInitExt);
        } catch (error2) {
          let errorAfterMiddleware = error2;
          if (finalMiddlewares.length) {
            for (let i = finalMiddlewares.length - 1; i >= 0; i--) {
              const m = finalMiddlewares[i];
              if (m && typeof m === "object" && typeof m.onError === "function") {
                const result = await m.onError({
                  request,
                  error: errorAfterMiddleware,
                  schemaPath,
                  params: params2,
                  options,
                  id
                });
                if (result) {
                  if (result instanceof Response) {
                    errorAfterMiddleware = void 0;
                    response = result;
                    break;
                  }
                  if (result instanceof Error) {
                    errorAfterMiddleware = result;
                    continue;
                  }
                  throw new Error("onError: must return new Response() or instance of Error");
                }
              }
            }
          }
          if (errorAfterMiddleware) {
            throw errorAfterMiddleware;
          }
        }
        if (finalMiddlewares.length) {
          for (let i = finalMiddlewares.length - 1; i >= 0; i--) {
            const m = finalMiddlewares[i];
            if (m && typeof m === "object" && typeof m.onResponse === "function") {
              const result = await m.onResponse({
                request,
                response,
                schemaPath,
                params: params2,
                options,
                id
              });
              if (result) {
                if (!(result instanceof Response)) {
                  throw new Error("onResponse: must return new Response() when modifying the response");
                }
                response = result;
              }
            }
          }
        }
      }
      const contentLength = response.headers.get("Content-Length");
      if (response.status === 204 || request.method === "HEAD" || contentLength === "0" && !response.headers.get("Transfer-Encoding")?.includes("chunked")) {
        return response.ok ? { data: void 0, response } : { error: void 0, response };
      }
      if (response.ok) {
        const getResponseData = async () => {
          if (parseAs === "stream") {
            return response.body;
          }
          if (parseAs === "json" && !contentLength) {
            const raw = await response.text();
            return raw ? JSON.parse(raw) : void 0;
          }
          return await response[parseAs]();
        };
        return { data: await getResponseData(), response };
      }
      let error = await response.text();
      try {
        error = JSON.parse(error);
      } catch {
      }
      return { error, response };
    }
    return {
      request(method, url, init) {
        return coreFetch(url, { ...init, method: method.toUpperCase() });
      },
      /** Call a GET endpoint */
      GET(url, init) {
        return coreFetch(url, { ...init, method: "GET" });
      },
      /** Call a PUT endpoint */
      PUT(url, init) {
        return coreFetch(url, { ...init, method: "PUT" });
      },
      /** Call a POST endpoint */
      POST(url, init) {
        return coreFetch(url, { ...init, method: "POST" });
      },
      /** Call a DELETE endpoint */
      DELETE(url, init) {
        return coreFetch(url, { ...init, method: "DELETE" });
      },
      /** Call a OPTIONS endpoint */
      OPTIONS(url, init) {
        return coreFetch(url, { ...init, method: "OPTIONS" });
      },
      /** Call a HEAD endpoint */
      HEAD(url, init) {
        return coreFetch(url, { ...init, method: "HEAD" });
      },
      /** Call a PATCH endpoint */
      PATCH(url, init) {
        return coreFetch(url, { ...init, method: "PATCH" });
      },
      /** Call a TRACE endpoint */
      TRACE(url, init) {
        return coreFetch(url, { ...init, method: "TRACE" });
      },
      /** Register middleware */
      use(...middleware) {
        for (const m of middleware) {
          if (!m) {
            continue;
          }
          if (typeof m !== "object" || !("onRequest" in m || "onResponse" in m || "onError" in m)) {
            throw new Error("Middleware must be an object with one of `onRequest()`, `onResponse() or `onError()`");
          }
          globalMiddlewares.push(m);
        }
      },
      /** Unregister middleware */
      eject(...middleware) {
        for (const m of middleware) {
          const i = globalMiddlewares.indexOf(m);
          if (i !== -1) {
            globalMiddlewares.splice(i, 1);
          }
        }
      }
    };
  }
  function serializePrimitiveParam(name, value, options) {
    if (value === void 0 || value === null) {
      return "";
    }
    if (typeof value === "object") {
      throw new Error(
        "Deeply-nested arrays/objects aren\u2019t supported. Provide your own `querySerializer()` to handle these."
      );
    }
    return `${name}=${options?.allowReserved === true ? value : encodeURIComponent(value)}`;
  }
  function serializeObjectParam(name, value, options) {
    if (!value || typeof value !== "object") {
      return "";
    }
    const values = [];
    const joiner = {
      simple: ",",
      label: ".",
      matrix: ";"
    }[options.style] || "&";
    if (options.style !== "deepObject" && options.explode === false) {
      for (const k in value) {
        values.push(k, options.allowReserved === true ? value[k] : encodeURIComponent(value[k]));
      }
      const final2 = values.join(",");
      switch (options.style) {
        case "form": {
          return `${name}=${final2}`;
        }
        case "label": {
          return `.${final2}`;
        }
        case "matrix": {
          return `;${name}=${final2}`;
        }
        default: {
          return final2;
        }
      }
    }
    for (const k in value) {
      const finalName = options.style === "deepObject" ? `${name}[${k}]` : k;
      values.push(serializePrimitiveParam(finalName, value[k], options));
    }
    const final = values.join(joiner);
    return options.style === "label" || options.style === "matrix" ? `${joiner}${final}` : final;
  }
  function serializeArrayParam(name, value, options) {
    if (!Array.isArray(value)) {
      return "";
    }
    if (options.explode === false) {
      const joiner2 = { form: ",", spaceDelimited: "%20", pipeDelimited: "|" }[options.style] || ",";
      const final = (options.allowReserved === true ? value : value.map((v) => encodeURIComponent(v))).join(joiner2);
      switch (options.style) {
        case "simple": {
          return final;
        }
        case "label": {
          return `.${final}`;
        }
        case "matrix": {
          return `;${name}=${final}`;
        }
        // case "spaceDelimited":
        // case "pipeDelimited":
        default: {
          return `${name}=${final}`;
        }
      }
    }
    const joiner = { simple: ",", label: ".", matrix: ";" }[options.style] || "&";
    const values = [];
    for (const v of value) {
      if (options.style === "simple" || options.style === "label") {
        values.push(options.allowReserved === true ? v : encodeURIComponent(v));
      } else {
        values.push(serializePrimitiveParam(name, v, options));
      }
    }
    return options.style === "label" || options.style === "matrix" ? `${joiner}${values.join(joiner)}` : values.join(joiner);
  }
  function createQuerySerializer(options) {
    return function querySerializer(queryParams) {
      const search = [];
      if (queryParams && typeof queryParams === "object") {
        for (const name in queryParams) {
          const value = queryParams[name];
          if (value === void 0 || value === null) {
            continue;
          }
          if (Array.isArray(value)) {
            if (value.length === 0) {
              continue;
            }
            search.push(
              serializeArrayParam(name, value, {
                style: "form",
                explode: true,
                ...options?.array,
                allowReserved: options?.allowReserved || false
              })
            );
            continue;
          }
          if (typeof value === "object") {
            search.push(
              serializeObjectParam(name, value, {
                style: "deepObject",
                explode: true,
                ...options?.object,
                allowReserved: options?.allowReserved || false
              })
            );
            continue;
          }
          search.push(serializePrimitiveParam(name, value, options));
        }
      }
      return search.join("&");
    };
  }
  function defaultPathSerializer(pathname, pathParams) {
    let nextURL = pathname;
    for (const match of pathname.match(PATH_PARAM_RE) ?? []) {
      let name = match.substring(1, match.length - 1);
      let explode = false;
      let style = "simple";
      if (name.endsWith("*")) {
        explode = true;
        name = name.substring(0, name.length - 1);
      }
      if (name.startsWith(".")) {
        style = "label";
        name = name.substring(1);
      } else if (name.startsWith(";")) {
        style = "matrix";
        name = name.substring(1);
      }
      if (!pathParams || pathParams[name] === void 0 || pathParams[name] === null) {
        continue;
      }
      const value = pathParams[name];
      if (Array.isArray(value)) {
        nextURL = nextURL.replace(match, serializeArrayParam(name, value, { style, explode }));
        continue;
      }
      if (typeof value === "object") {
        nextURL = nextURL.replace(match, serializeObjectParam(name, value, { style, explode }));
        continue;
      }
      if (style === "matrix") {
        nextURL = nextURL.replace(match, `;${serializePrimitiveParam(name, value)}`);
        continue;
      }
      nextURL = nextURL.replace(match, style === "label" ? `.${encodeURIComponent(value)}` : encodeURIComponent(value));
    }
    return nextURL;
  }
  function defaultBodySerializer(body, headers) {
    if (body instanceof FormData) {
      return body;
    }
    if (headers) {
      const contentType = headers.get instanceof Function ? headers.get("Content-Type") ?? headers.get("content-type") : headers["Content-Type"] ?? headers["content-type"];
      if (contentType === "application/x-www-form-urlencoded") {
        return new URLSearchParams(body).toString();
      }
    }
    return JSON.stringify(body);
  }
  function createFinalURL(pathname, options) {
    let finalURL = `${options.baseUrl}${pathname}`;
    if (options.params?.path) {
      finalURL = options.pathSerializer(finalURL, options.params.path);
    }
    let search = options.querySerializer(options.params.query ?? {});
    if (search.startsWith("?")) {
      search = search.substring(1);
    }
    if (search) {
      finalURL += `?${search}`;
    }
    return finalURL;
  }
  function mergeHeaders(...allHeaders) {
    const finalHeaders = new Headers();
    for (const h of allHeaders) {
      if (!h || typeof h !== "object") {
        continue;
      }
      const iterator = h instanceof Headers ? h.entries() : Object.entries(h);
      for (const [k, v] of iterator) {
        if (v === null) {
          finalHeaders.delete(k);
        } else if (Array.isArray(v)) {
          for (const v2 of v) {
            finalHeaders.append(k, v2);
          }
        } else if (v !== void 0) {
          finalHeaders.set(k, v);
        }
      }
    }
    return finalHeaders;
  }
  function removeTrailingSlash(url) {
    if (url.endsWith("/")) {
      return url.substring(0, url.length - 1);
    }
    return url;
  }

  // client.ts
  var ApiError = class extends Error {
    constructor(status, code, detail, errors = {}) {
      super(detail);
      this.status = status;
      this.code = code;
      this.errors = errors;
    }
  };
  function unwrap({ data, error, response }) {
    if (response.ok && data !== void 0) return data;
    const body = error ?? {};
    throw new ApiError(response.status, body.code ?? "error", body.detail ?? response.statusText, body.errors);
  }
  function petitionsClient(baseUrl, init = {}) {
    const headers = init.language ? { "Accept-Language": init.language } : {};
    const api = createClient({ baseUrl: baseUrl.replace(/\/$/, ""), fetch: init.fetch, headers });
    return {
      raw: api,
      async list(limit = 20, offset = 0) {
        return unwrap(await api.GET("/api/petitions/", { params: { query: { limit, offset } } }));
      },
      async petition(id) {
        const query = { rich_text_format: "html" };
        return unwrap(await api.GET("/api/petitions/{id}/", { params: { path: { id }, query } }));
      },
      /** The live count; `no-cache` revalidates the browser's copy (its ETag answers 304 cheaply). */
      async count(id) {
        return unwrap(await api.GET("/api/petitions/{id}/count.json", { params: { path: { id } }, cache: "no-cache" }));
      },
      async sign(id, signature, source) {
        const params2 = { path: { id }, query: source ? { source } : {} };
        return unwrap(await api.POST("/api/petitions/{id}/signatures/", { params: params2, body: signature }));
      },
      async confirm(confirmation) {
        return unwrap(await api.POST("/api/signatures/confirm/", { body: confirmation }));
      }
    };
  }

  // app.ts
  var params = new URLSearchParams(location.search);
  var apiBase = params.get("api") || document.documentElement.dataset.api || location.origin;
  var pollSeconds = Number(document.documentElement.dataset.pollSeconds || 5);
  var client = petitionsClient(apiBase);
  var main = document.querySelector("main");
  var language = navigator.language || "en";
  document.documentElement.lang = language;
  document.documentElement.dir = /^(ar|fa|he|ur)\b/.test(language) ? "rtl" : "ltr";
  var EN = {
    petitions: "Petitions",
    none: "No petitions yet.",
    load_failed: "The petitions could not be loaded.",
    confirm_title: "Confirm your signature",
    confirm: "Confirm my signature",
    back: "Back to the petition",
    invalid_link: "This confirmation link is not valid."
  };
  var OWN_TEXTS = {
    en: EN,
    fr: {
      petitions: "P\xE9titions",
      none: "Aucune p\xE9tition pour l\u2019instant.",
      load_failed: "Les p\xE9titions n\u2019ont pas pu \xEAtre charg\xE9es.",
      confirm_title: "Confirmez votre signature",
      confirm: "Confirmer ma signature",
      back: "Retour \xE0 la p\xE9tition",
      invalid_link: "Ce lien de confirmation n'est pas valide."
    },
    ar: {
      petitions: "\u0627\u0644\u0639\u0631\u0627\u0626\u0636",
      none: "\u0644\u0627 \u062A\u0648\u062C\u062F \u0639\u0631\u0627\u0626\u0636 \u0628\u0639\u062F.",
      load_failed: "\u062A\u0639\u0630\u0651\u0631 \u062A\u062D\u0645\u064A\u0644 \u0627\u0644\u0639\u0631\u0627\u0626\u0636.",
      confirm_title: "\u0623\u0643\u0651\u062F \u062A\u0648\u0642\u064A\u0639\u0643",
      confirm: "\u062A\u0623\u0643\u064A\u062F \u062A\u0648\u0642\u064A\u0639\u064A",
      back: "\u0627\u0644\u0639\u0648\u062F\u0629 \u0625\u0644\u0649 \u0627\u0644\u0639\u0631\u064A\u0636\u0629",
      invalid_link: "\u0631\u0627\u0628\u0637 \u0627\u0644\u062A\u0623\u0643\u064A\u062F \u0647\u0630\u0627 \u063A\u064A\u0631 \u0635\u0627\u0644\u062D."
    }
  };
  var t = OWN_TEXTS[language.split("-")[0].toLowerCase()] ?? EN;
  function el(tag, attrs = {}, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value !== null && value !== void 0 && value !== false) node.setAttribute(name, String(value));
    }
    if (text !== void 0) node.textContent = text;
    return node;
  }
  function here(page, query) {
    const next = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
    if (params.get("api")) next.set("api", params.get("api"));
    return `${page}?${next}`;
  }
  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, (_, name) => values[name] ?? "");
  }
  function failed(error) {
    const detail = error instanceof ApiError ? error.message : t.load_failed;
    main.replaceChildren(el("p", { role: "alert" }, detail));
  }
  async function showList() {
    const list = await client.list();
    document.title = t.petitions;
    main.replaceChildren(el("h1", {}, t.petitions));
    const items = main.appendChild(el("ul", { class: "petitions" }));
    for (const petition2 of list.items) {
      const item = items.appendChild(el("li"));
      item.append(el("a", { href: here("index.html", { petition: petition2.id }) }, petition2.title));
      item.append(" ", el("span", { class: "petitions__count" }, petition2.count.toLocaleString()));
    }
    if (!list.items.length) main.append(el("p", {}, t.none));
  }
  async function showPetition(id) {
    const petition2 = await client.petition(id);
    const texts = petition2.texts;
    document.title = petition2.title;
    main.replaceChildren(el("h1", {}, petition2.title));
    if (petition2.intro) main.append(el("p", { class: "intro" }, petition2.intro));
    const counter = main.appendChild(el("p", { class: "counter" }));
    const count = el("strong", { id: "count", "aria-live": "polite" }, petition2.count.toLocaleString());
    counter.append(count, ` ${texts.signatures} \xB7 `, fill(texts.goal, { goal: petition2.goal.toLocaleString() }));
    const progress = main.appendChild(el("progress", { max: petition2.goal, value: petition2.count }));
    main.append(renderForm(petition2));
    const refresh = async () => {
      const live = await client.count(id).catch(() => null);
      if (!live) return;
      count.textContent = live.count.toLocaleString();
      count.dataset.count = String(live.count);
      Object.assign(progress, { max: live.goal, value: live.count });
    };
    await refresh();
    setInterval(refresh, pollSeconds * 1e3);
  }
  function renderForm(petition2) {
    const texts = petition2.texts;
    const section = el("section", { id: "sign" });
    if (!petition2.accepting_signatures) {
      section.append(el("p", { role: "alert" }, petition2.refusal));
      return section;
    }
    const form = section.appendChild(el("form", { novalidate: true }));
    const inputs = {};
    const errors = {};
    for (const field of petition2.form) {
      const id = `field-${field.name}`;
      const wrap = form.appendChild(el("div", { class: field.type === "boolean" ? "field check" : "field" }));
      const label = el("label", { for: id }, field.name === "share_with_officials" ? petition2.consent_wording : field.label);
      let input;
      if (field.type === "choice") {
        input = el("select", { id, name: field.name });
        if (field.initial === null) input.append(el("option", { value: "" }, texts.choose));
        for (const choice of field.choices ?? []) {
          const option = input.appendChild(el("option", { value: choice.value }, choice.label));
          option.selected = choice.value === field.initial;
        }
        wrap.append(label, input);
      } else if (field.type === "boolean") {
        input = el("input", { id, name: field.name, type: "checkbox" });
        wrap.append(input, " ", label);
      } else {
        const type = field.type === "email" ? "email" : "text";
        input = el("input", { id, name: field.name, type, maxlength: field.max_length });
        wrap.append(label, input);
      }
      inputs[field.name] = input;
      errors[field.name] = wrap.appendChild(el("p", { class: "error", hidden: true }));
    }
    const button = form.appendChild(el("button", { type: "submit" }, texts.sign));
    const notice = form.appendChild(el("p", { role: "alert" }));
    section.appendChild(el("p")).append(el("a", { href: petition2.privacy_url }, texts.privacy));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = {};
      for (const [name, input] of Object.entries(inputs)) {
        errors[name].hidden = true;
        if (input instanceof HTMLSelectElement && input.value === "") continue;
        values[name] = input instanceof HTMLInputElement && input.type === "checkbox" ? input.checked : input.value;
      }
      button.disabled = true;
      try {
        const answer = await client.sign(petition2.id, values, "typescript-client");
        section.replaceChildren(el("h2", { role: "status" }, fill(texts.check_email, { detail: answer.detail })));
      } catch (error) {
        if (!(error instanceof ApiError)) return void (notice.textContent = texts.send_failed);
        for (const [name, messages] of Object.entries(error.errors)) {
          if (errors[name]) Object.assign(errors[name], { textContent: messages.join(" "), hidden: false });
        }
        notice.textContent = error.code === "invalid" ? texts.correct_fields : error.message;
      } finally {
        button.disabled = false;
      }
    });
    return section;
  }
  function showConfirm(token2) {
    document.title = t.confirm_title;
    main.replaceChildren(el("h1", {}, t.confirm_title));
    const button = main.appendChild(el("button", { type: "button" }, t.confirm));
    button.addEventListener("click", async () => {
      try {
        const confirmed = await client.confirm({ token: token2 });
        main.replaceChildren(el("h1", { role: "status" }, confirmed.detail));
        main.append(el("a", { href: here("index.html", { petition: confirmed.petition_id }) }, t.back));
      } catch (error) {
        failed(error);
      }
    });
  }
  var token = params.get("token");
  var petition = Number(params.get("petition"));
  if (document.body.dataset.page === "confirm") {
    if (token) showConfirm(token);
    else failed(new ApiError(400, "invalid_token", t.invalid_link));
  } else if (petition > 0) {
    showPetition(petition).catch(failed);
  } else {
    showList().catch(failed);
  }
})();
