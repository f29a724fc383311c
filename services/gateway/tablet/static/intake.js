// Clinic intake tablet: one question at a time over FHIR SDC $next-question.
// Privacy on a shared tablet: answers live only in this page's memory (no localStorage,
// sessionStorage, cookies or URL), every fetch is no-store, and an idle timeout, "Finish"
// or leaving the page wipes them. The patient never sees a differential or a probability:
// the gateway sends none.
"use strict";
(() => {
  const ANSWER_SYSTEM = "urn:footcds:intake-answer";
  const BODY_MAP = "urn:footcds:fhir:extension:body-map";
  const ALERT = "urn:footcds:fhir:extension:triage-alert";
  const app = document.getElementById("app");
  const idleSeconds = Number(document.body.dataset.idleSeconds) || 120;
  const maxQuestions = Number(document.body.dataset.maxQuestions) || 30;
  let S = {};          // the strings of the current language (strings/<lang>.json)
  let state = null;    // {steps: [replies], chosen: {linkId: [codes]}}: the only place answers live
  let idleTimer = 0;
  let warnTimer = 0;
  let doneTimer = 0;

  const t = (key, vars) => String(S[key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String(vars?.[k] ?? ""));

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "onclick") node.addEventListener("click", v);
      else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  async function loadStrings(code) {
    const reply = await fetch(`/intake/strings/${code}.json`, { cache: "no-store" });
    S = await reply.json();
    document.documentElement.lang = S.lang;
    document.title = S.title;
  }

  function screen(...children) {
    app.replaceChildren(...children.filter((c) => c !== null && c !== undefined && c !== false));
    const heading = app.querySelector("h1");
    if (heading) { heading.tabIndex = -1; heading.focus(); }
  }

  // --- privacy: nothing outlives the patient ------------------------------------------
  function wipe() {
    state = null;
    clearTimeout(idleTimer);
    clearTimeout(warnTimer);
    clearTimeout(doneTimer);
  }

  async function reset() {
    wipe();
    await loadStrings("en");
    showWelcome();
  }

  function bump() {
    clearTimeout(idleTimer);
    clearTimeout(warnTimer);
    app.querySelector(".still-there")?.remove();
    if (!state) return;
    idleTimer = setTimeout(reset, idleSeconds * 1000);
    // A warning 15 s before the wipe; any tap keeps the answers.
    warnTimer = setTimeout(() => {
      if (state && !app.querySelector(".alert")) app.prepend(el("p", { class: "still-there", role: "alert" }, t("still_there")));
    }, Math.max(idleSeconds - 15, idleSeconds / 2) * 1000);
  }

  // --- screens -------------------------------------------------------------------------
  function showWelcome() {
    const other = S.lang === "en" ? "es" : "en";
    screen(
      el("button", { class: "lang", lang: other, onclick: async () => { await loadStrings(other); showWelcome(); } },
        t("language_switch")),
      el("h1", {}, t("title")),
      el("p", {}, t("welcome")),
      el("div", { class: "nav" }, el("span"), el("button", { class: "primary", onclick: start }, t("start"))),
      el("p", { class: "fine" }, t("decision_support")),
    );
  }

  async function start() {
    state = { steps: [], chosen: {} };
    bump();
    await send({ resourceType: "QuestionnaireResponse", status: "in-progress" });
  }

  const contained = (qr) => (qr.contained || []).find((r) => r.resourceType === "Questionnaire");
  const questions = (qr) => (contained(qr)?.item || []).filter((i) => i.type !== "display");
  const clone = (x) => JSON.parse(JSON.stringify(x));

  async function send(qr) {
    const status = app.querySelector(".status");
    if (status) status.textContent = t("sending");
    for (const b of app.querySelectorAll("button")) b.disabled = true;
    let reply;
    try {
      reply = await fetch("/fhir/Questionnaire/$next-question", {
        method: "POST", cache: "no-store", credentials: "same-origin",
        headers: { "Content-Type": "application/fhir+json", Accept: "application/fhir+json" },
        body: JSON.stringify({ resourceType: "Parameters",
          parameter: [{ name: "questionnaire-response", resource: qr }] }),
      });
    } catch (e) { reply = null; }
    if (reply && reply.status === 401) { wipe(); location.replace("/intake/enrol"); return; }
    const body = reply ? await reply.json().catch(() => null) : null;
    if (!state) return;  // reset while waiting
    if (!reply || !reply.ok || !body) {
      // Nothing is lost: the question and the answers chosen so far stay on screen.
      for (const b of app.querySelectorAll("button")) b.disabled = false;
      if (status) status.textContent = t("error");
      return;
    }
    state.steps.push(body);
    render();
  }

  function render() {
    const qr = state.steps[state.steps.length - 1];
    const alert = (qr.extension || []).find((e) => e.url === ALERT);
    if (alert) return showAlert(alert.valueCode);
    if (qr.status !== "in-progress") return showDone();
    const asked = questions(qr);
    showQuestion(asked[asked.length - 1], asked.length);
  }

  function showAlert(level) {
    const kind = level === "emergency" ? "emergency" : "urgent";
    wipe();  // the answers are with the clinic now; nothing stays on the tablet
    state = { steps: [], chosen: {} };  // keeps the idle reset running
    bump();
    screen(el("div", { class: `alert ${kind}`, role: "alertdialog", "aria-modal": "true",
                       "aria-labelledby": "alert-title", "aria-describedby": "alert-text" },
      el("h1", { id: "alert-title" }, t(`${kind}_title`)),
      el("p", { id: "alert-text" }, t(`${kind}_text`)),
      el("button", { onclick: reset }, t("staff_reset"))));
  }

  function showDone() {
    wipe();
    doneTimer = setTimeout(reset, 30000);
    screen(el("h1", {}, t("done_title")), el("p", {}, t("done_text")),
      el("div", { class: "nav" }, el("span"), el("button", { class: "primary", onclick: reset }, t("finish"))),
      el("p", { class: "fine" }, t("decision_support")));
  }

  function label(item, coding) {
    if (coding.system === ANSWER_SYSTEM) return coding.code === "present" ? t("yes") : t("no");
    return S.options?.[coding.code] ?? coding.display ?? coding.code;
  }

  function showQuestion(item, n) {
    const codings = (item.answerOption || []).map((o) => o.valueCoding);
    const unknown = codings.find((c) => c.system === ANSWER_SYSTEM && c.code === "unknown");
    const choices = codings.filter((c) => c !== unknown);
    const bodyMap = (item.extension || []).some((e) => e.url === BODY_MAP);
    const multiple = Boolean(item.repeats);
    const chosen = new Set(state.chosen[item.linkId] || []);
    const answer = (list) => submit(item, list);
    const chosenText = el("p", { class: "chosen-list", "aria-live": "polite" });
    const next = el("button", { class: "primary", onclick: () => answer(choices.filter((c) => chosen.has(c.code))) },
      t("next"));
    const refresh = () => {
      next.disabled = chosen.size === 0;
      const names = choices.filter((c) => chosen.has(c.code)).map((c) => label(item, c));
      chosenText.textContent = names.length ? `${t("selected")}: ${names.join(", ")}` : "";
      for (const node of app.querySelectorAll("[data-code]")) {
        const on = chosen.has(node.dataset.code);
        node.setAttribute(node.getAttribute("role") === "checkbox" ? "aria-checked" : "aria-pressed", String(on));
      }
    };
    const toggle = (code) => { chosen.has(code) ? chosen.delete(code) : chosen.add(code); refresh(); };

    let map = null;
    const inMap = new Set();
    if (bodyMap) {
      map = document.getElementById("body-map").content.firstElementChild.cloneNode(true);
      for (const text of map.querySelectorAll("[data-string]")) text.textContent = t(text.dataset.string);
      map.querySelector("title").textContent = S.lang === "en" ? "Body map of the lower leg and foot" : t("view_leg");
      for (const region of map.querySelectorAll(".region")) {
        const coding = choices.find((c) => c.code.endsWith(`|${region.dataset.option}`));
        if (!coding) { region.remove(); continue; }
        inMap.add(coding.code);
        region.dataset.code = coding.code;
        region.setAttribute("role", "checkbox");
        region.setAttribute("tabindex", "0");
        region.setAttribute("aria-label", label(item, coding));
        region.addEventListener("click", () => toggle(coding.code));
        region.addEventListener("keydown", (e) => {
          if (e.key === " " || e.key === "Enter") { e.preventDefault(); toggle(coding.code); }
        });
      }
    }
    const buttons = choices.filter((c) => !inMap.has(c.code)).map((c) =>
      el("button", { "data-code": c.code, "aria-pressed": multiple ? "false" : undefined,
        onclick: () => (multiple ? toggle(c.code) : answer([c])) }, label(item, c)));
    const help = bodyMap ? t("body_map_help") : multiple ? t("choose_all") : t("choose_one");
    const back = el("button", { onclick: goBack, disabled: state.steps.length < 2 }, t("back"));
    screen(
      el("div", { class: "top" },
        el("span", { class: "count" }, t("question_n", { n })),
        el("progress", { max: maxQuestions, value: Math.min(n, maxQuestions), "aria-label": t("progress") })),
      el("h1", {}, S.questions?.[item.linkId] ?? item.text),
      el("p", { class: "help" }, help),
      map,
      bodyMap && buttons.length ? el("h2", { class: "help" }, t("other_areas")) : null,
      el("div", { class: `options${buttons.length > 4 ? " many" : ""}`, role: "group", "aria-label": help }, buttons),
      multiple ? chosenText : null,
      el("button", { class: "dont-know", onclick: () => answer([unknown]) }, t("dont_know")),
      el("p", { class: "status", role: "status" }),
      el("div", { class: "nav" }, back, multiple ? next : el("span")),
    );
    refresh();
  }

  function submit(item, codings) {
    bump();
    state.chosen[item.linkId] = codings.map((c) => c.code);
    const qr = clone(state.steps[state.steps.length - 1]);
    qr.item = (qr.item || []).concat([{ linkId: item.linkId, text: item.text,
      answer: codings.map((c) => ({ valueCoding: c })) }]);
    return send(qr);
  }

  function goBack() {
    bump();
    if (state.steps.length < 2) return;
    state.steps.pop();  // the later questions depended on the answer being changed
    render();
  }

  for (const type of ["pointerdown", "keydown", "touchstart"]) document.addEventListener(type, bump, { passive: true });
  window.addEventListener("pagehide", wipe);
  window.addEventListener("pageshow", (e) => { if (e.persisted) reset(); });
  reset();
})();
