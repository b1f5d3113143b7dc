/**
 * The example front end: list petitions, show one with its live count, sign, and confirm from
 * this site's own confirm page. It talks to the Petitions API only through the typed client.
 *
 * The API's origin is `?api=` or the page's `data-api` (this page may live on another origin: the
 * site must list it in PETITIONS["ALLOWED_ORIGINS"]). Interface texts come translated from the
 * API (`texts` and every `detail`, in the browser's language: Accept-Language); the few of its own
 * are in OWN_TEXTS, in the plugin's languages, worded as its catalogs (cms/locale) word them.
 */
import { ApiError, type PetitionDetail, petitionsClient } from "./client";

const params = new URLSearchParams(location.search);
const apiBase = params.get("api") || document.documentElement.dataset.api || location.origin;
const pollSeconds = Number(document.documentElement.dataset.pollSeconds || 5);
const client = petitionsClient(apiBase);
const main = document.querySelector("main") as HTMLElement;

// Arabic and other right-to-left languages: the stylesheet uses logical properties only.
const language = navigator.language || "en";
document.documentElement.lang = language;
document.documentElement.dir = /^(ar|fa|he|ur)\b/.test(language) ? "rtl" : "ltr";

const EN = {
  petitions: "Petitions",
  none: "No petitions yet.",
  load_failed: "The petitions could not be loaded.",
  confirm_title: "Confirm your signature",
  confirm: "Confirm my signature",
  back: "Back to the petition",
  invalid_link: "This confirmation link is not valid.",
};
const OWN_TEXTS: Record<string, typeof EN> = {
  en: EN,
  fr: {
    petitions: "Pétitions",
    none: "Aucune pétition pour l’instant.",
    load_failed: "Les pétitions n’ont pas pu être chargées.",
    confirm_title: "Confirmez votre signature",
    confirm: "Confirmer ma signature",
    back: "Retour à la pétition",
    invalid_link: "Ce lien de confirmation n'est pas valide.",
  },
  ar: {
    petitions: "العرائض",
    none: "لا توجد عرائض بعد.",
    load_failed: "تعذّر تحميل العرائض.",
    confirm_title: "أكّد توقيعك",
    confirm: "تأكيد توقيعي",
    back: "العودة إلى العريضة",
    invalid_link: "رابط التأكيد هذا غير صالح.",
  },
};
const t = OWN_TEXTS[language.split("-")[0].toLowerCase()] ?? EN;

function el(tag: string, attrs: Record<string, string | number | boolean | null | undefined> = {}, text?: string) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, String(value));
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A link to another page of this front end, keeping the API's origin. */
function here(page: string, query: Record<string, string | number>) {
  const next = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
  if (params.get("api")) next.set("api", params.get("api") as string);
  return `${page}?${next}`;
}

function fill(template: string, values: Record<string, string>) {
  return template.replace(/%\((\w+)\)s/g, (_, name: string) => values[name] ?? "");
}

function failed(error: unknown) {
  const detail = error instanceof ApiError ? error.message : t.load_failed;
  main.replaceChildren(el("p", { role: "alert" }, detail));
}

async function showList() {
  const list = await client.list();
  document.title = t.petitions;
  main.replaceChildren(el("h1", {}, t.petitions));
  const items = main.appendChild(el("ul", { class: "petitions" }));
  for (const petition of list.items) {
    const item = items.appendChild(el("li"));
    item.append(el("a", { href: here("index.html", { petition: petition.id }) }, petition.title));
    item.append(" ", el("span", { class: "petitions__count" }, petition.count.toLocaleString()));
  }
  if (!list.items.length) main.append(el("p", {}, t.none));
}

async function showPetition(id: number) {
  const petition = await client.petition(id);
  const texts = petition.texts;
  document.title = petition.title;
  main.replaceChildren(el("h1", {}, petition.title));
  if (petition.intro) main.append(el("p", { class: "intro" }, petition.intro));
  const counter = main.appendChild(el("p", { class: "counter" }));
  const count = el("strong", { id: "count", "aria-live": "polite" }, petition.count.toLocaleString());
  counter.append(count, ` ${texts.signatures} · `, fill(texts.goal, { goal: petition.goal.toLocaleString() }));
  const progress = main.appendChild(el("progress", { max: petition.goal, value: petition.count })) as HTMLProgressElement;
  main.append(renderForm(petition));

  // The detail may be a cached copy for a few seconds; the count endpoint is cheap and fresh.
  const refresh = async () => {
    const live = await client.count(id).catch(() => null);
    if (!live) return;
    count.textContent = live.count.toLocaleString();
    count.dataset.count = String(live.count);
    Object.assign(progress, { max: live.goal, value: live.count });
  };
  await refresh();
  setInterval(refresh, pollSeconds * 1000);
}

function renderForm(petition: PetitionDetail) {
  const texts = petition.texts;
  const section = el("section", { id: "sign" });
  if (!petition.accepting_signatures) {
    section.append(el("p", { role: "alert" }, petition.refusal));
    return section;
  }
  const form = section.appendChild(el("form", { novalidate: true })) as HTMLFormElement;
  const inputs: Record<string, HTMLInputElement | HTMLSelectElement> = {};
  const errors: Record<string, HTMLElement> = {};
  for (const field of petition.form) {
    const id = `field-${field.name}`;
    const wrap = form.appendChild(el("div", { class: field.type === "boolean" ? "field check" : "field" }));
    const label = el("label", { for: id }, field.name === "share_with_officials" ? petition.consent_wording : field.label);
    let input: HTMLInputElement | HTMLSelectElement;
    if (field.type === "choice") {
      input = el("select", { id, name: field.name }) as HTMLSelectElement;
      if (field.initial === null) input.append(el("option", { value: "" }, texts.choose)); // the signer must pick
      for (const choice of field.choices ?? []) {
        const option = input.appendChild(el("option", { value: choice.value }, choice.label)) as HTMLOptionElement;
        option.selected = choice.value === field.initial;
      }
      wrap.append(label, input);
    } else if (field.type === "boolean") {
      input = el("input", { id, name: field.name, type: "checkbox" }) as HTMLInputElement;
      wrap.append(input, " ", label);
    } else {
      const type = field.type === "email" ? "email" : "text";
      input = el("input", { id, name: field.name, type, maxlength: field.max_length }) as HTMLInputElement;
      wrap.append(label, input);
    }
    inputs[field.name] = input;
    errors[field.name] = wrap.appendChild(el("p", { class: "error", hidden: true }));
  }
  const button = form.appendChild(el("button", { type: "submit" }, texts.sign)) as HTMLButtonElement;
  const notice = form.appendChild(el("p", { role: "alert" }));
  section.appendChild(el("p")).append(el("a", { href: petition.privacy_url }, texts.privacy));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values: Record<string, string | boolean> = {};
    for (const [name, input] of Object.entries(inputs)) {
      errors[name].hidden = true;
      if (input instanceof HTMLSelectElement && input.value === "") continue; // not picked: the API names it
      values[name] = input instanceof HTMLInputElement && input.type === "checkbox" ? input.checked : input.value;
    }
    button.disabled = true;
    try {
      // The page's own fields vary per petition (petition.form): the API validates them.
      const answer = await client.sign(petition.id, values as never, "typescript-client");
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

function showConfirm(token: string) {
  document.title = t.confirm_title;
  main.replaceChildren(el("h1", {}, t.confirm_title));
  const button = main.appendChild(el("button", { type: "button" }, t.confirm));
  // A click, not the page load, confirms: mail scanners open links without clicking.
  button.addEventListener("click", async () => {
    try {
      const confirmed = await client.confirm({ token });
      main.replaceChildren(el("h1", { role: "status" }, confirmed.detail));
      main.append(el("a", { href: here("index.html", { petition: confirmed.petition_id }) }, t.back));
    } catch (error) {
      failed(error);
    }
  });
}

const token = params.get("token");
const petition = Number(params.get("petition"));
if (document.body.dataset.page === "confirm") {
  if (token) showConfirm(token);
  else failed(new ApiError(400, "invalid_token", t.invalid_link));
} else if (petition > 0) {
  showPetition(petition).catch(failed);
} else {
  showList().catch(failed);
}
