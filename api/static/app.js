// The newsdesk chat page: plain JS, no build step. Talks to the service's own API:
// /v1/chat/completions (multi-turn, streamed), /summaries, /articles, /health, /whoami.
"use strict";

const KEY_STORAGE = "newsdesk.apiKey";
const HEALTH_EVERY_MS = 30000;
const $ = (id) => document.getElementById(id);

const state = {
  messages: [], // the whole conversation, sent with every question (the server rewrites follow-ups)
  busy: false,
  passageTrigger: null, // the marker that opened the passage panel, to return focus to
  role: null, // the key's role from /whoami: "read", "admin", or null (not known yet)
};

// ---------------------------------------------------------------- HTTP

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function withAuth(headers = {}) {
  const key = localStorage.getItem(KEY_STORAGE);
  return key ? { ...headers, Authorization: `Bearer ${key}` } : headers;
}

// fetch with the stored API key; a 401 asks for a key once and retries.
async function request(path, options = {}, retried = false) {
  const response = await fetch(path, { ...options, headers: withAuth(options.headers) });
  if (response.status === 401 && !retried) {
    const message = await errorMessage(response);
    if (await askForKey(`The service needs an API key (${message}).`)) {
      return request(path, options, true);
    }
    throw new HttpError(401, message);
  }
  if (!response.ok) throw new HttpError(response.status, await errorMessage(response));
  return response;
}

// Both error shapes the service speaks: RFC 9457 problems and OpenAI's {error: {message}}.
function describeError(body, fallback) {
  if (!body || typeof body !== "object") return fallback;
  if (body.error && body.error.message) return body.error.message;
  return body.detail || body.title || fallback; // a problem's detail already names bad fields
}

async function errorMessage(response) {
  const fallback = `${response.status} ${response.statusText}`.trim();
  try {
    return describeError(await response.json(), fallback);
  } catch {
    return fallback;
  }
}

// Server-Sent Events from a fetch response (EventSource cannot POST or send headers).
async function* sseEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let carry = ""; // a "\r" at a chunk's end may be the first half of "\r\n"
  const parse = (block) => {
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue; // comments are keep-alive pings
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    return data.length ? { event, data: data.join("\n") } : null;
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    let chunk = carry + value;
    carry = "";
    if (chunk.endsWith("\r")) {
      carry = "\r";
      chunk = chunk.slice(0, -1);
    }
    buffer += chunk.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = parse(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (event) yield event;
    }
  }
  const last = parse(buffer);
  if (last) yield last;
}

// ---------------------------------------------------------------- API key

// Requests refused at the same time share one prompt.
let keyPrompt = null;
function askForKey(reason) {
  keyPrompt ??= promptForKey(reason)
    .then((saved) => {
      if (saved) {
        checkHealth(); // with keys configured, /health gives details to key holders only
        checkRole();
      }
      return saved;
    })
    .finally(() => {
      keyPrompt = null;
    });
  return keyPrompt;
}

function promptForKey(reason) {
  const dialog = $("key-dialog");
  $("key-reason").textContent =
    `${reason} The key is kept in this browser only (localStorage) and sent as ` +
    "Authorization: Bearer ….";
  $("key-input").value = localStorage.getItem(KEY_STORAGE) || "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        const key = $("key-input").value.trim();
        if (dialog.returnValue === "save" && key) {
          localStorage.setItem(KEY_STORAGE, key);
          resolve(true);
        } else {
          if (dialog.returnValue === "clear") localStorage.removeItem(KEY_STORAGE);
          resolve(false);
        }
      },
      { once: true },
    );
  });
}

// ---------------------------------------------------------------- rendering

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

const isoDate = (value) => (value ? String(value).slice(0, 10) : "");
const articleHref = (item) => item.url || `/articles/${encodeURIComponent(item.article_id || item.id)}`;
// Every citation names its outlet and date; an article without a date says so.
const citeMeta = (c) => `${c.source || "unknown outlet"} · ${isoDate(c.published_at) || "undated"}`;

function citeButton(citation) {
  return el("button", {
    type: "button",
    class: "cite",
    text: `[${citation.number}]`,
    title: citeMeta(citation),
    "aria-label": `Citation ${citation.number}: ${citation.title} (${citeMeta(citation)})`,
    "aria-controls": "passage",
    "aria-expanded": "false",
    "data-number": String(citation.number),
    onclick: (event) => openPassage(citation, event.currentTarget),
  });
}

// Why a sentence is not supported, one line per reason: the checker's mismatches (kind, the
// claim's words, the nearest words of the cited quote) and the LLM judge's verdict, if any.
const MISMATCH_KINDS = {
  name: "Name",
  number: "Number",
  date: "Date",
  negation: "Negation",
  attribution: "Who said it",
  missing: "Not in the passage",
};

function reasonLines(sentence) {
  const lines = (sentence.mismatches || []).map((m) => {
    const where = m.evidence == null ? "not in the cited passage" : `the cited passage has “${m.evidence}”`;
    return `${MISMATCH_KINDS[m.kind] || m.kind}: “${m.claim}” — ${where}`;
  });
  const judge = sentence.judge;
  if (judge && judge.verdict !== "unknown") {
    const reason = judge.reason ? `: ${judge.reason}` : "";
    lines.push(`Judge (${judge.model}) says ${judge.verdict}${reason}`);
  }
  if (!lines.length) {
    lines.push(`The cited passages do not support it (support ${sentence.support.toFixed(2)}).`);
  }
  return lines;
}

let reasonIds = 0;

// The "not supported" flag is a button: hover, keyboard focus and a tap (which toggles it
// open, for touch screens without hover) all show the reasons, which it is described by.
function unsupportedFlag(sentence, span) {
  const id = `why-${++reasonIds}`;
  const tip = el(
    "span",
    { class: "why", role: "tooltip", id },
    ...reasonLines(sentence).map((line) => el("span", { class: "why-line", text: line })),
  );
  const flag = el("button", {
    type: "button",
    class: "flag",
    text: "not supported",
    "aria-describedby": id,
    "aria-expanded": "false",
    onclick: () => {
      const open = !span.classList.contains("open");
      span.classList.toggle("open", open);
      flag.setAttribute("aria-expanded", String(open));
    },
    onkeydown: (event) => {
      if (event.key === "Escape" && span.classList.contains("open")) {
        event.stopPropagation(); // closes the reasons, not the passage panel
        span.classList.remove("open");
        flag.setAttribute("aria-expanded", "false");
      }
    },
  });
  return [flag, tip];
}

// How many independent reports support a sentence: copies of one wire story count once
// (groups), the outlets that printed a supporting text are counted apart (copies included).
function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function corroborationBadge(sentence) {
  const c = sentence.corroboration;
  if (!c || !c.sources) return null;
  const label = c.groups === 1 && c.outlets <= 1 ? "1 source" : `${c.groups} independent`;
  const detail =
    `Supported by ${plural(c.groups, "independent report")} ` +
    `(${plural(c.outlets, "outlet")}, ${plural(c.sources, "passage")})`;
  return el("span", { class: "corroboration meta", text: label, title: detail, "aria-label": detail });
}

// Another article reports the sentence's matter with a conflicting fact (relation.kind: a
// number, date, name, speaker or outcome): both are cited, and the badge names the other
// side's citation and the conflicting words of each side, so the reader compares the quotes.
const CONFLICT_WORDS = {
  number: "a different figure",
  date: "a different date",
  name: "a different name",
  attribution: "a different speaker",
  outcome: "the opposite outcome",
};

function disagreementBadge(relations, byNumber) {
  const against = relations.filter((r) => r.relation === "disagrees");
  if (!against.length) return null;
  const sides = against.map((r) => {
    const c = byNumber.get(r.citation);
    const what = CONFLICT_WORDS[r.kind] || "different figures";
    const words = r.claim && r.evidence ? ` ("${r.evidence}" against "${r.claim}")` : "";
    return `[${r.citation}] ${c ? citeMeta(c) : r.article_id} reports ${what}${words}`;
  });
  const kinds = [...new Set(against.map((r) => r.kind).filter(Boolean))].join(" ");
  const detail = `Sources disagree: ${sides.join("; ")}`;
  return el("span", {
    class: "disagreement meta",
    text: "sources disagree",
    title: detail,
    "aria-label": detail,
    "data-kind": kinds,
  });
}

function sentenceSpan(sentence, byNumber, relations = []) {
  // The text gets its own span so that the "unsupported" underline stays off the markers.
  const span = el("span", { class: "sentence" }, el("span", { class: "sentence-text", text: sentence.text }));
  for (const number of sentence.citations) {
    const citation = byNumber.get(number);
    if (citation) span.append(" ", citeButton(citation));
  }
  if (!sentence.supported) {
    span.classList.add("unsupported");
    span.append(" ", ...unsupportedFlag(sentence, span));
  } else {
    const badge = corroborationBadge(sentence);
    if (badge) span.append(" ", badge);
  }
  const disagreement = disagreementBadge(relations, byNumber);
  if (disagreement) span.append(" ", disagreement);
  return span;
}

// One conversation turn: the user's text and the assistant's (streaming, then checked) reply.
class Turn {
  constructor(userText) {
    const node = $("turn-template").content.firstElementChild.cloneNode(true);
    node.querySelector(".user-text").textContent = userText;
    this.node = node;
    this.assistant = node.querySelector(".assistant");
    this.answer = node.querySelector(".answer");
    $("empty-hint")?.remove();
    $("log").append(node);
    this.answer.append(el("p", { class: "pending meta", text: "Searching the articles…" }));
    node.scrollIntoView({ block: "end" });
  }

  // While streaming: checked sentences (clickable) followed by the raw text not checked yet.
  live() {
    if (!this.tail) {
      this.tail = el("span", { class: "streaming" });
      this.answer.replaceChildren(el("p", { class: "cited" }, this.tail));
    }
    return this.tail;
  }

  showStreaming(text) {
    const tail = this.live();
    tail.textContent = text;
    tail.scrollIntoView({ block: "nearest" });
  }

  addSentence(sentence, citations) {
    const tail = this.live();
    tail.before(sentenceSpan(sentence, new Map(citations.map((c) => [c.number, c]))), " ");
    tail.textContent = "";
  }

  // Re-render from the checked result: sentences with clickable markers, unsupported ones
  // flagged, a sources list, and notices for abstention, degradation and the rewritten question.
  showResult(result, { text, askedText } = {}) {
    const byNumber = new Map((result.citations || []).map((c) => [c.number, c]));
    const paragraph = el("p", { class: "cited" });
    const relations = result.relations || [];
    (result.sentences || []).forEach((sentence, i) => {
      const own = relations.filter((r) => r.sentence === i);
      paragraph.append(sentenceSpan(sentence, byNumber, own), " ");
    });
    if (!paragraph.childNodes.length) paragraph.textContent = text || "";
    this.tail = null;
    this.answer.replaceChildren(paragraph);

    const rewritten = this.node.querySelector(".rewritten");
    const question = result.question;
    if (askedText && question && question.trim().toLowerCase() !== askedText.trim().toLowerCase()) {
      rewritten.textContent = `Searched for: “${question}”`;
      rewritten.hidden = false;
    }
    const range = result.time_range;
    if (range) {
      const span = this.node.querySelector(".time-range");
      const from = isoDate(range.published_after) || "…";
      const to = isoDate(range.published_before) || "…";
      span.textContent = `Articles published ${from} to ${to} (from “${range.resolved_from}”)`;
      span.hidden = false;
    }
    const abstain = this.node.querySelector(".abstain");
    if (result.abstained) {
      abstain.textContent = result.abstain_reason || "The articles don't answer this.";
      abstain.hidden = false;
    }
    if (result.degraded) {
      this.notice(
        `Degraded: the language model failed (${result.degraded_reason || "no reason given"}); ` +
          `this reply comes from the ${result.backend || "extractive"} fallback.`,
      );
    } else if (result.fallback_reason) {
      this.notice(
        `The model's reply was set aside (${result.fallback_reason}); ` +
          "these are the story's own sentences that answer.",
      );
    }
    const sources = this.node.querySelector(".sources");
    sources.replaceChildren(
      ...[...byNumber.values()]
        .sort((a, b) => a.number - b.number)
        .map((c) =>
          el(
            "li",
            {},
            citeButton(c),
            " ",
            el("a", { href: articleHref(c), target: "_blank", rel: "noopener", text: c.title }),
            el("span", { class: "meta", text: ` ${citeMeta(c)}` }),
          ),
        ),
    );
    sources.hidden = byNumber.size === 0;
  }

  notice(message) {
    const box = this.node.querySelector(".turn-notice");
    box.textContent = message;
    box.hidden = false;
  }

  fail(message) {
    this.answer.replaceChildren(el("p", { class: "notice error", role: "alert", text: message }));
  }

  done() {
    this.assistant.setAttribute("aria-busy", "false");
  }
}

// ---------------------------------------------------------------- passage panel

function openPassage(citation, trigger) {
  const panel = $("passage");
  const link = $("passage-link");
  link.textContent = citation.title;
  link.href = articleHref(citation);
  link.target = "_blank";
  link.rel = "noopener";
  $("passage-title").textContent = `Cited passage [${citation.number}]`;
  const carriers = (citation.carried_by || []).filter((name) => name !== citation.source);
  $("passage-meta").textContent = [
    citation.source,
    isoDate(citation.published_at),
    citation.original_id && citation.original_id !== citation.article_id
      ? `a copy of ${citation.original_id}`
      : null,
    carriers.length ? `also carried by ${carriers.join(", ")}` : null,
  ]
    .filter(Boolean)
    .join(" · ");
  const text = $("passage-text");
  const at = citation.passage.indexOf(citation.quote);
  if (at >= 0) {
    text.replaceChildren(
      citation.passage.slice(0, at),
      el("mark", { text: citation.quote }),
      citation.passage.slice(at + citation.quote.length),
    );
  } else {
    // The API promises the quote is inside the passage; show both rather than hide one.
    text.replaceChildren(citation.passage, el("br"), el("mark", { text: citation.quote }));
  }
  for (const button of document.querySelectorAll(".cite[aria-expanded='true']")) {
    button.setAttribute("aria-expanded", "false");
  }
  trigger.setAttribute("aria-expanded", "true");
  state.passageTrigger = trigger;
  panel.hidden = false;
  document.body.classList.add("passage-open");
  $("passage-title").focus();
  text.querySelector("mark")?.scrollIntoView({ block: "nearest" });
}

function closePassage() {
  $("passage").hidden = true;
  document.body.classList.remove("passage-open");
  const trigger = state.passageTrigger;
  state.passageTrigger = null;
  if (trigger) {
    trigger.setAttribute("aria-expanded", "false");
    if (trigger.isConnected) trigger.focus();
  }
}

// ---------------------------------------------------------------- asking

async function ask(question) {
  const turn = new Turn(question);
  state.messages.push({ role: "user", content: question });
  try {
    const response = await request("/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ model: "newsdesk", messages: state.messages, stream: true }),
    });
    let text = "";
    let final = null;
    let inSources = false; // the plain "Sources:" list is redrawn from the structured field
    for await (const event of sseEvents(response)) {
      if (event.data === "[DONE]") break;
      const chunk = JSON.parse(event.data);
      if (chunk.error) throw new Error(describeError(chunk, "the answer stream failed"));
      const delta = chunk.choices?.[0]?.delta?.content;
      if (delta && !inSources) {
        if (/^\s*Sources:/.test(delta)) inSources = true;
        else turn.showStreaming((text += delta));
      }
      if (chunk.newsdesk) final = chunk.newsdesk;
    }
    if (!final) throw new Error("the answer stream ended before the checked answer arrived");
    turn.showResult(final, { text: final.answer, askedText: question });
    state.messages.push({ role: "assistant", content: final.answer });
  } catch (error) {
    state.messages.pop(); // a failed turn is not part of the conversation
    turn.fail(`Could not answer: ${error.message}`);
  } finally {
    turn.done();
  }
}

async function summarise(article) {
  const turn = new Turn(`Summarise “${article.title}”`);
  try {
    const response = await request("/summaries", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ article_id: article.id, stream: true }),
    });
    let text = "";
    let final = null;
    for await (const event of sseEvents(response)) {
      const data = JSON.parse(event.data);
      if (event.event === "token") {
        turn.showStreaming((text += data.text));
      } else if (event.event === "sentence") {
        turn.addSentence(data.sentence, data.citations);
        text = ""; // the tokens so far are now shown as that checked sentence
      } else if (event.event === "summary") {
        final = data;
      } else if (event.event === "error") {
        throw new Error(describeError(data, "summary failed"));
      }
    }
    if (!final) throw new Error("the summary stream ended before the summary arrived");
    turn.showResult(final, { text: final.summary });
    // Kept in the conversation so that a follow-up can refer to the summarised story.
    state.messages.push(
      { role: "user", content: `Summarise the article “${article.title}”.` },
      { role: "assistant", content: final.summary },
    );
  } catch (error) {
    turn.fail(`Could not summarise: ${error.message}`);
  } finally {
    turn.done();
  }
}

// "/timeline topic": the topic's dated events in date order, each sentence cited. Not part of
// the conversation (a timeline is a listing, not an answer to follow up on).
async function showTimeline(topic) {
  const turn = new Turn(`/timeline ${topic}`);
  try {
    const response = await request("/timeline", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ topic }),
    });
    const result = await response.json();
    const list = el("ol", { class: "timeline" });
    const citations = [];
    for (const event of result.events) {
      const item = el(
        "li",
        {},
        el("time", { datetime: event.date, text: event.date }),
        el("span", { class: "meta", text: ` (${event.date_source}) ` }),
        event.text,
      );
      for (const citation of event.citations) {
        item.append(" ", citeButton(citation));
        citations.push(citation);
      }
      list.append(item);
    }
    turn.showResult({ ...result, citations, sentences: [] }, { text: "" });
    if (result.events.length) turn.answer.replaceChildren(list);
  } catch (error) {
    turn.fail(`Could not build the timeline: ${error.message}`);
  } finally {
    turn.done();
  }
}

// Runs one request at a time: a question sent mid-answer would race the history.
async function exclusive(job) {
  if (state.busy) return;
  state.busy = true;
  $("send").disabled = true;
  document.body.classList.add("busy");
  try {
    await job();
  } finally {
    state.busy = false;
    $("send").disabled = false;
    document.body.classList.remove("busy");
  }
  checkHealth(); // an answer may have just found the LLM down (or back)
}

// ---------------------------------------------------------------- articles and upload

async function loadArticles() {
  const list = $("article-list");
  try {
    const page = await (await request("/articles?limit=200")).json();
    $("article-count").textContent = `(${page.total})`;
    list.replaceChildren(
      ...page.items.map((article) =>
        el(
          "li",
          { "data-id": article.id },
          el("a", { href: articleHref(article), target: "_blank", rel: "noopener", text: article.title }),
          el("span", {
            class: "meta",
            text: [article.source, isoDate(article.published_at)].filter(Boolean).join(" · "),
          }),
          el("button", {
            type: "button",
            class: "summarise",
            text: "Summarise",
            "aria-label": `Summarise: ${article.title}`,
            onclick: () => exclusive(() => summarise(article)),
          }),
        ),
      ),
    );
    if (!page.items.length) {
      const hint = state.role === "admin" ? "No articles yet: upload some." : "No articles yet.";
      list.append(el("li", { class: "meta", text: hint }));
    }
    if (page.total > page.items.length) {
      list.append(el("li", { class: "meta", text: `Showing the newest ${page.items.length} of ${page.total}.` }));
    }
  } catch (error) {
    list.replaceChildren(el("li", { class: "notice error", text: `Could not list articles: ${error.message}` }));
  }
}

async function upload(event) {
  event.preventDefault();
  const input = $("upload-files");
  const result = $("upload-result");
  if (!input.files.length) {
    result.textContent = "Choose one or more files first.";
    return;
  }
  const form = new FormData();
  for (const file of input.files) form.append("files", file);
  result.textContent = "Uploading…";
  try {
    const report = await (await request("/articles/upload", { method: "POST", body: form })).json();
    const rejected = report.rejected || [];
    result.textContent =
      `${report.added.length} added, ${report.updated.length} updated, ` +
      `${report.unchanged.length} unchanged, ${rejected.length} rejected` +
      rejected.map((r) => ` — ${r.origin || r.id}: ${r.reason}`).join("");
    input.value = "";
    await loadArticles();
  } catch (error) {
    result.textContent = `Upload failed: ${error.message}`;
  }
}

// ---------------------------------------------------------------- role

// What the key may do (/whoami): the upload form is for admin keys only (or a service without
// keys, where everyone is admin). Not asked through request(): a missing key is not a reason
// to prompt here, the article list does that.
async function checkRole() {
  let role = null;
  try {
    const response = await fetch("/whoami", { headers: withAuth() });
    if (response.ok) role = (await response.json()).role;
  } catch {
    role = null;
  }
  state.role = role;
  document.body.dataset.role = role ?? "unknown";
  $("upload-form").hidden = role !== "admin";
  $("role-note").hidden = role !== "read";
}

// ---------------------------------------------------------------- service state

async function checkHealth() {
  const status = $("status");
  const notice = $("service-notice");
  try {
    const health = await (await request("/health")).json();
    if (health.articles === undefined) {
      // Keys are configured and this browser has none (yet): the service says only its status.
      status.textContent = health.status === "ok" ? "Service up" : `Service: ${health.status}`;
      notice.hidden = true;
      return;
    }
    const llm = health.llm ?? "";
    const parts = [`${health.articles} articles`];
    if (health.backend) parts.push(`backend: ${health.backend}`);
    // Only the state here; the banner below gives an unavailable LLM's reason.
    if (llm && llm !== "none") parts.push(`LLM: ${llm.split(":")[0]}`);
    status.textContent = parts.join(" · ");
    // Degraded states /health reports; answers fall back to extractive in each of them.
    const degraded = ["failing", "unavailable", "restarting", "open circuit"];
    const llmState = degraded.find((word) => llm.startsWith(word));
    const down = llmState !== undefined || (health.status && health.status !== "ok");
    notice.hidden = !down;
    if (down) {
      const reason = llmState ? llm.slice(llmState.length).replace(/^:\s*/, "") : `status ${health.status}`;
      const words = { "open circuit": "paused after repeated failures" };
      const state = words[llmState] ?? llmState ?? "unavailable";
      notice.textContent =
        `Degraded service — the language model is ${state} (${reason}). ` +
        "Answers come from the extractive fallback (quoted article sentences) until it recovers.";
    }
  } catch (error) {
    status.textContent = "Service unreachable";
    notice.textContent = `The service is not answering: ${error.message}`;
    notice.hidden = false;
  }
}

// ---------------------------------------------------------------- wiring

function newConversation() {
  state.messages = [];
  closePassage();
  $("log").replaceChildren();
  $("question").focus();
}

document.addEventListener("DOMContentLoaded", () => {
  const question = $("question");
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = question.value.trim();
    if (!text || state.busy) return;
    question.value = "";
    const timeline = /^\/timeline\s+(.+)$/s.exec(text);
    exclusive(() => (timeline ? showTimeline(timeline[1].trim()) : ask(text)));
  });
  question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("ask-form").requestSubmit();
    }
  });
  $("passage-close").addEventListener("click", closePassage);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("passage").hidden && !$("key-dialog").open) closePassage();
  });
  $("new-chat").addEventListener("click", newConversation);
  $("key-button").addEventListener("click", () => askForKey("Set the API key for this service."));
  $("upload-form").addEventListener("submit", upload);
  checkHealth();
  checkRole();
  loadArticles();
  setInterval(checkHealth, HEALTH_EVERY_MS);
  question.focus();
});
