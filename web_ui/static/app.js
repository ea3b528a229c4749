// Poster search page: plain JavaScript over the JSON API, no build step, no network
// beyond this server (and the poster images the collection links to).
//
// The whole search (words, image or similar-to, filters, pages shown) lives in the address
// and in the browser history, so Back, Forward, reload and shared links all show the same
// search. An uploaded image cannot travel in an address: it is kept in IndexedDB under a
// key that the address carries, so a reload (or Back to it) in this browser searches again.
"use strict";

(() => {
  const PAGE_SIZE = 24;
  const MAX_PAGE_REQUEST = 96; // pages restored on reload are fetched in requests this big
  const MAX_RETRIES = 3; // for answers that say when to retry (503 with Retry-After)
  const POSTER_RETRIES = 3;
  const KEPT_IMAGES = 20;
  const ADDRESS_FIELDS = new Set([
    "query", "similar", "image", "genres_any", "genres_all", "genres_none",
    "year_from", "year_to", "min_rating", "pages", "mode", "min_probability", "no_translate",
    "exclude", "exclude_movie_ids", "diverse", "words",
  ]);
  const MAX_EXCLUSIONS = 10; // of each kind, as the service accepts
  // How words are matched: the API's search modes. "" is its default (words and look where
  // the collection has words about its movies), which is what "hybrid" asks for too.
  const MODES = new Set(["", "hybrid", "vector", "text"]);
  const BRANCH_NAMES = { vector: "its look", text: "its words" };
  const GENRE_FIELDS = ["genres_any", "genres_all", "genres_none"];
  const $ = (id) => document.getElementById(id);

  const form = $("search-form");
  const queryInput = $("query");
  const yearFrom = $("year-from");
  const yearTo = $("year-to");
  const minRating = $("min-rating");
  const modeSelect = $("mode");
  const excludeInput = $("exclude");
  const diverseBox = $("diverse");
  const wordsForm = $("words-form");
  const wordsInput = $("words");
  const notLike = $("not-like");
  const notLikeList = $("not-like-list");
  const minProbability = $("min-probability");
  const translateBox = $("translate");
  const queryNote = $("query-note");
  const results = $("results");
  const statusLine = $("status");
  const errorBox = $("error");
  const imageError = $("image-error");
  const intro = $("intro");
  const moreRow = $("more-row");
  const moreButton = $("more");
  const moreError = $("more-error");
  const fileInput = $("image-file");
  const dropOverlay = $("drop-overlay");
  const context = $("context");
  const resultsTitle = $("results-title");
  const contextImage = $("context-image");
  const contextClose = $("context-close");
  const template = $("card-template");
  const filtersPanel = $("filters");
  const filtersToggle = $("filters-toggle");
  const moreGenres = $("more-genres");
  const topbar = $("topbar");
  const chipRows = { genres_any: $("chips-any"), genres_all: $("chips-all"), genres_none: $("chips-none") };
  const fieldErrors = {
    query: [queryInput, $("query-error")],
    genres: [null, $("genres-error")],
    year_from: [yearFrom, $("year-from-error")],
    year_to: [yearTo, $("year-to-error")],
    min_rating: [minRating, $("min-rating-error")],
    exclude: [excludeInput, $("exclude-error")],
    min_probability: [minProbability, $("min-probability-error")],
  };
  const narrowScreen = window.matchMedia("(max-width: 640px)");

  let genres = []; // [{genre, count}] as the collection spells them
  let maxUploadBytes = null;
  let shown = null; // the search whose results are on screen (committed to the history)
  let loaded = 0; // posters of `shown` on screen
  let exhausted = true; // `shown` has no more posters
  let requestSeq = 0;
  let loadingMore = false;
  let thumbUrl = null;
  let lastWords = ""; // the words of the latest text search, for "Back to text search"
  let wanted = null; // the search asked for last (on screen, or still on its way)
  let scrollTimer = 0; // saves the scroll position into the history entry once scrolling stops

  // ---- Search state <-> address ------------------------------------------------------

  function emptyState() {
    return {
      kind: "none", query: "", movieId: "", title: "", imageKey: "", imageName: "",
      genres_any: [], genres_all: [], genres_none: [],
      year_from: "", year_to: "", min_rating: "", pages: 1, mode: "",
      // What to stay away from, a diverse page, and words that change an image's look.
      exclude: [], excludeMovies: [], excludeTitles: {}, diverse: false, words: "",
      min_probability: "", no_translate: false,
    };
  }

  function hasFilter(state) {
    return GENRE_FIELDS.some((f) => state[f].length > 0) ||
      state.year_from !== "" || state.year_to !== "" || state.min_rating !== "";
  }

  function filterParams(state) {
    const params = new URLSearchParams();
    for (const f of GENRE_FIELDS) for (const g of state[f]) params.append(f, g);
    for (const f of ["year_from", "year_to", "min_rating"]) {
      if (state[f] !== "") params.set(f, state[f].trim());
    }
    return params;
  }

  // How the words are understood: the mode, the match cutoff and translation.
  function understandingParams(state) {
    const params = new URLSearchParams();
    if (state.mode) params.set("mode", state.mode);
    if (state.min_probability !== "") params.set("min_probability", state.min_probability.trim());
    if (state.no_translate) params.set("no_translate", "1");
    return params;
  }

  // Exclusions, diversity and words steer a search by words, an image or a movie; browsing
  // by filter alone has nothing to steer, so they are not sent then (the form keeps them).
  function steers(state) {
    return state.kind === "similar" || state.kind === "image" || (state.kind === "text" && state.query.trim() !== "");
  }

  function steerParams(state) {
    const params = new URLSearchParams();
    if (!steers(state)) return params;
    for (const text of state.exclude) params.append("exclude", text);
    for (const id of state.excludeMovies) params.append("exclude_movie_ids", id);
    if (state.diverse) params.set("diverse", "true");
    return params;
  }

  function addressOf(state) {
    const params = new URLSearchParams();
    if (state.kind === "text" && state.query) params.set("query", state.query);
    if (state.kind === "text" && state.query) {
      for (const [k, v] of understandingParams(state)) params.set(k, v);
    }
    if (state.kind === "similar") params.set("similar", state.movieId);
    if (state.kind === "image") params.set("image", state.imageKey);
    if (state.kind !== "text" && state.words) params.set("words", state.words);
    for (const [k, v] of steerParams(state)) params.append(k, v);
    for (const [k, v] of filterParams(state)) params.append(k, v);
    if (state.pages > 1) params.set("pages", String(state.pages));
    const search = params.toString();
    return search ? `/?${search}` : "/";
  }

  // Reads an address; everything it cannot honour exactly is reported, never dropped.
  function stateFromAddress(search, saved) {
    const params = new URLSearchParams(search);
    const state = emptyState();
    const problems = [];
    const unknown = [...new Set([...params.keys()].filter((k) => !ADDRESS_FIELDS.has(k)))];
    if (unknown.length) {
      problems.push([null, `This link has ${unknown.length === 1 ? "a setting" : "settings"} ` +
        `the page does not know (${unknown.map((k) => `“${k}”`).join(", ")}), so it was not searched. ` +
        "Check the link, or search again."]);
    }
    for (const f of GENRE_FIELDS) {
      for (const raw of params.getAll(f)) {
        if (!raw.trim()) continue;
        const known = genres.find((g) => g.genre.toLowerCase() === raw.trim().toLowerCase());
        if (known || genres.length === 0) {
          // Without the genre list (it failed to load) the service judges the name itself.
          const name = known ? known.genre : raw.trim();
          if (!state[f].includes(name)) state[f].push(name);
        } else {
          problems.push(["genres", `This collection has no genre “${raw}”, so the link was not searched.`]);
        }
      }
    }
    for (const f of ["year_from", "year_to", "min_rating"]) state[f] = params.get(f) || "";
    const mode = params.get("mode");
    if (mode !== null) {
      if (MODES.has(mode)) state.mode = mode === "hybrid" ? "" : mode;
      else problems.push([null, `“mode=${mode}” in this link is not a way of matching words ` +
        "(hybrid, vector or text), so it was not searched."]);
    }
    state.exclude = params.getAll("exclude").map((t) => t.trim()).filter(Boolean);
    state.excludeMovies = params.getAll("exclude_movie_ids").filter(Boolean);
    state.excludeTitles = (saved && saved.excludeTitles) || {};
    const diverse = params.get("diverse");
    if (diverse !== null) {
      if (diverse === "true" || diverse === "1") state.diverse = true;
      else if (diverse !== "false" && diverse !== "0") {
        problems.push([null, `“diverse=${diverse}” in this link is not true or false, so it was not searched.`]);
      }
    }
    state.words = (params.get("words") || "").trim();
    state.min_probability = params.get("min_probability") || "";
    state.no_translate = ["1", "true"].includes(params.get("no_translate") || "");
    const pages = params.get("pages");
    if (pages !== null) {
      if (/^\d{1,3}$/.test(pages) && Number(pages) >= 1) state.pages = Number(pages);
      else problems.push([null, `“pages=${pages}” in this link is not a number of pages.`]);
    }
    const kinds = ["query", "similar", "image"].filter((k) => params.get(k));
    if (kinds.length > 1) {
      problems.push([null, "This link asks for more than one kind of search at once; it was not searched."]);
    }
    if (params.get("similar")) {
      state.kind = "similar";
      state.movieId = params.get("similar");
      state.title = (saved && saved.title) || "";
    } else if (params.get("image")) {
      state.kind = "image";
      state.imageKey = params.get("image");
      state.imageName = (saved && saved.imageName) || "";
    } else {
      state.query = params.get("query") || "";
      state.kind = state.query.trim() || hasFilter(state) ? "text" : "none";
    }
    return { state, problems };
  }

  // ---- The form <-> state -------------------------------------------------------------

  function chipsOf(field) {
    return [...chipRows[field].querySelectorAll(".chip")];
  }

  function pressedGenres(field) {
    return chipsOf(field).filter((c) => c.getAttribute("aria-pressed") === "true").map((c) => c.dataset.genre);
  }

  function formFilters() {
    const state = emptyState();
    for (const f of GENRE_FIELDS) state[f] = pressedGenres(f);
    state.year_from = yearFrom.value.trim();
    state.year_to = yearTo.value.trim();
    state.min_rating = minRating.value.trim();
    state.mode = modeSelect.value;
    state.exclude = [...new Set(excludeInput.value.split(",").map((t) => t.trim()).filter(Boolean))];
    state.diverse = diverseBox.checked;
    state.excludeMovies = shownExcludes.ids.slice();
    state.excludeTitles = { ...shownExcludes.titles };
    state.min_probability = minProbability.value.trim();
    state.no_translate = !translateBox.checked;
    return state;
  }

  // The posters the visitor said "Not like this" to, shown as removable entries.
  let shownExcludes = { ids: [], titles: {} };

  function showExcludes(state) {
    shownExcludes = { ids: state.excludeMovies.slice(), titles: { ...state.excludeTitles } };
    notLike.hidden = shownExcludes.ids.length === 0;
    if (shownExcludes.ids.length) $("steer").open = true;
    notLikeList.replaceChildren(...shownExcludes.ids.map((id) => {
      const item = document.createElement("li");
      const name = shownExcludes.titles[id] || `movie ${id}`;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "button ghost chip-remove";
      const cross = document.createElement("span");
      cross.setAttribute("aria-hidden", "true");
      cross.textContent = " ×";
      remove.append(name, cross);
      // The name starts with the words the button shows (label in name, WCAG 2.5.3).
      remove.setAttribute("aria-label", `${name}, remove: search without leaving its look out`);
      remove.addEventListener("click", () => {
        shownExcludes.ids = shownExcludes.ids.filter((other) => other !== id);
        filtersChanged();
        (notLikeList.querySelector("button") || excludeInput).focus();
      });
      item.append(remove);
      return item;
    }));
  }

  function showInForm(state) {
    queryInput.value = state.kind === "text" ? state.query : "";
    for (const f of GENRE_FIELDS) {
      for (const chip of chipsOf(f)) chip.setAttribute("aria-pressed", String(state[f].includes(chip.dataset.genre)));
    }
    yearFrom.value = state.year_from;
    yearTo.value = state.year_to;
    minRating.value = state.min_rating;
    modeSelect.value = state.mode;
    excludeInput.value = state.exclude.join(", ");
    diverseBox.checked = state.diverse;
    wordsInput.value = state.kind === "similar" || state.kind === "image" ? state.words : "";
    showExcludes(state);
    if (state.mode || state.exclude.length || state.excludeMovies.length || state.diverse) $("steer").open = true;
    minProbability.value = state.min_probability;
    translateBox.checked = !state.no_translate;
    if (state.min_probability !== "" || state.no_translate) $("match-options").open = true;
    if (state.genres_all.length || state.genres_none.length) moreGenres.open = true;
    updateFilterCounts();
  }

  function updateFilterCounts() {
    const f = formFilters();
    const set = GENRE_FIELDS.reduce((n, k) => n + f[k].length, 0) +
      ["year_from", "year_to", "min_rating"].filter((k) => f[k] !== "").length;
    $("filters-count").textContent = set ? ` (${set} set)` : "";
    const more = f.genres_all.length + f.genres_none.length;
    $("more-genres-count").textContent = more ? ` (${more} chosen)` : "";
    const steering = f.exclude.length + f.excludeMovies.length + (f.diverse ? 1 : 0) + (f.mode ? 1 : 0);
    $("steer-count").textContent = steering ? ` (${steering} set)` : "";
  }

  // ---- Messages --------------------------------------------------------------------

  function setFieldError(name, message) {
    // An error in a closed disclosure would be unseen.
    if (name === "min_probability" && message) $("match-options").open = true;
    const [input, box] = fieldErrors[name];
    box.textContent = message || "";
    box.hidden = !message;
    if (input) {
      if (message) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
    if (message && name !== "query") openFilters();
  }

  function clearFieldErrors() {
    for (const name of Object.keys(fieldErrors)) setFieldError(name, "");
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    document.body.classList.toggle("stale", results.children.length > 0);
  }

  function clearErrors() {
    errorBox.hidden = true;
    errorBox.textContent = "";
    imageError.hidden = true;
    imageError.textContent = "";
    clearFieldErrors();
    document.body.classList.remove("stale");
  }

  function megabytes(bytes) {
    const mb = bytes / (1024 * 1024);
    return `${mb >= 10 ? Math.round(mb) : mb.toFixed(1)} MB`;
  }

  // The checks a person can fix in the form, in the form's own words, beside the field.
  function steerProblems(state) {
    if (state.exclude.length > MAX_EXCLUSIONS) {
      return [["exclude", `At most ${MAX_EXCLUSIONS} things can be left out; this names ${state.exclude.length}.`]];
    }
    if (state.excludeMovies.length > MAX_EXCLUSIONS) {
      return [[null, `At most ${MAX_EXCLUSIONS} posters can be left out; remove some under “Not like these posters”.`]];
    }
    return [];
  }

  function formProblems(state) {
    const problems = [];
    const year = (field, label) => {
      const v = state[field];
      if (v !== "" && !/^\d{1,4}$/.test(v)) {
        problems.push([field, `${label} must be a year, such as 1984 (not “${v}”).`]);
        return false;
      }
      return true;
    };
    const fromOk = year("year_from", "Year from");
    const toOk = year("year_to", "Year to");
    if (fromOk && toOk && state.year_from !== "" && state.year_to !== "" &&
        Number(state.year_from) > Number(state.year_to)) {
      problems.push(["year_to", `“to” (${state.year_to}) is before “Year from” (${state.year_from}), ` +
        "so no poster can match. Swap the years or clear one."]);
    }
    const r = state.min_rating;
    if (r !== "" && !(/^\d+(\.\d*)?$|^\.\d+$/.test(r) && Number(r) <= 10)) {
      problems.push(["min_rating", `Min rating must be a number from 0 to 10, such as 7.5 (not “${r}”).`]);
    }
    const p = state.min_probability;
    if (p !== "" && !(/^\d+(\.\d*)?$|^\.\d+$/.test(p) && Number(p) <= 1)) {
      problems.push(["min_probability", `Min match must be a probability from 0 to 1, such as 0.5 (not “${p}”).`]);
    }
    return problems;
  }

  // Server refusals, put in a person's words and beside the field they are about.
  function explainRefusal(status, message, state) {
    const long = /^query is (\d+) characters long; at most (\d+)/.exec(message || "");
    if (long) {
      return ["query", `The description has ${long[1]} characters; shorten it to ${long[2]} or fewer.`];
    }
    if (status === 413) {
      const limit = maxUploadBytes ? ` Use an image of at most ${megabytes(maxUploadBytes)}.` : "";
      return ["image", `${state.imageName || "The image"} is too large to search with.${limit}`];
    }
    if (status === 404 && state.kind === "similar") {
      return [null, "That poster is no longer in the collection, so there is nothing to compare with."];
    }
    if (status === 400 && state.kind === "image" && /image/.test(message || "")) {
      return ["image", `${state.imageName || "The image"} could not be used: it is not a JPEG, PNG or WebP ` +
        "image the service can read. Try another file."];
    }
    for (const field of ["year_from", "year_to", "min_rating", "min_probability"]) {
      if ((message || "").startsWith(field)) return [field, message];
    }
    if (/genre/.test(message || "")) return ["genres", message];
    if (status === 503) return [null, "The search service is not ready (it may be starting). Try again in a moment."];
    if (status >= 500) return [null, "The search failed on the server. Try again; if it keeps failing, its log says why."];
    return [null, message || `The search failed (HTTP ${status}).`];
  }

  function showRefusal([field, message]) {
    if (field === "image") {
      imageError.textContent = message;
      imageError.hidden = false;
    } else if (field) {
      setFieldError(field, message);
    } else {
      showError(message);
    }
    document.body.classList.toggle("stale", results.children.length > 0);
  }

  // ---- Talking to the API ---------------------------------------------------------------

  function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

  // One page of results, retried where the service says when (503 + Retry-After).
  async function fetchPage(state, image, offset, limit, onWait) {
    const params = filterParams(state);
    for (const [k, v] of steerParams(state)) params.append(k, v);
    if (state.kind !== "text" && state.words) params.set("query", state.words);
    params.set("limit", String(limit));
    if (offset) params.set("offset", String(offset));
    for (let attempt = 0; ; attempt += 1) {
      let response;
      if (state.kind === "text") {
        params.set("query", state.query);
        for (const [k, v] of understandingParams(state)) params.set(k, v);
        response = await fetch(`/api/search?${params}`);
      } else if (state.kind === "similar") {
        response = await fetch(`/api/similar/${encodeURIComponent(state.movieId)}?${params}`);
      } else {
        const body = new FormData();
        body.append("image", image, state.imageName || "image");
        response = await fetch(`/api/search-by-image?${params}`, { method: "POST", body });
      }
      let data = null;
      try { data = await response.json(); } catch (err) { data = null; }
      const wait = Number(response.headers.get("retry-after"));
      if (response.status === 503 && wait > 0 && attempt < MAX_RETRIES) {
        if (!onWait(wait)) return { cancelled: true };
        await sleep(wait * 1000);
        continue;
      }
      if (!response.ok || !data) return { status: response.status, error: data && data.error };
      return { hits: data.hits || [], about: data };
    }
  }

  // ---- IndexedDB for uploaded images ------------------------------------------------------

  function imageStore(mode, work) {
    return new Promise((resolve, reject) => {
      const open = indexedDB.open("poster-search", 1);
      open.onupgradeneeded = () => open.result.createObjectStore("images");
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const db = open.result;
        const tx = db.transaction("images", mode);
        const result = work(tx.objectStore("images"));
        tx.oncomplete = () => { db.close(); resolve(result.result); };
        tx.onerror = () => { db.close(); reject(tx.error); };
      };
    });
  }

  async function keepImage(file) {
    const key = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    await imageStore("readwrite", (s) => s.put({ blob: file, name: file.name || "image", at: Date.now() }, key));
    // Only the latest images are kept; an older entry in the history then asks for its file again.
    const keys = await imageStore("readonly", (s) => s.getAllKeys());
    const old = keys.sort().slice(0, Math.max(0, keys.length - KEPT_IMAGES));
    if (old.length) await imageStore("readwrite", (s) => { for (const k of old) s.delete(k); return s.count(); });
    return key;
  }

  async function loadImage(key) {
    try {
      return (await imageStore("readonly", (s) => s.get(key))) || null;
    } catch (err) {
      return null;
    }
  }

  // ---- Showing results --------------------------------------------------------------------

  function headingFor(state) {
    return plainHeading(state) + (state.kind !== "text" && state.words ? `, with “${state.words}”` : "");
  }

  function plainHeading(state) {
    if (state.kind === "text" && state.query.trim()) return `Posters for “${state.query.trim()}”`;
    if (state.kind === "text") return "Posters matching the filters";
    if (state.kind === "similar") return state.title ? `More like ${state.title}` : "More like the chosen poster";
    return `Posters that look like ${state.imageName || "your image"}`;
  }

  // What the status line adds for exclusions and a diverse page.
  function steerNote(state) {
    if (!steers(state)) return "";
    const parts = [];
    const away = [...state.exclude.map((t) => `“${t}”`),
      ...state.excludeMovies.map((id) => state.excludeTitles[id] || `movie ${id}`)];
    if (away.length) parts.push(`not like ${away.join(", ")}`);
    if (state.diverse) parts.push("spread over different looks");
    return parts.length ? `; ${parts.join("; ")}` : "";
  }

  function describe(state, count, more) {
    const n = more ? `${count}+` : `${count}`;
    const noun = count === 1 ? "poster" : "posters";
    const look = count === 1 ? "looks" : "look";
    if (count === 0) return "No posters match. Try fewer filters or other words.";
    const note = steerNote(state);
    const words = state.kind !== "text" && state.words ? `, with “${state.words}”` : "";
    if (state.kind === "text" && !state.query.trim()) return `${n} ${noun} matching the filters, best rated first`;
    if (state.kind === "text") return `${n} ${noun} for “${state.query.trim()}”, best match first${note}`;
    if (state.kind === "similar") return `${n} ${noun} that ${look} like ${state.title || "the chosen poster"}${words}${note}`;
    return `${n} ${noun} that ${look} like ${state.imageName || "your image"}${words}${note}`;
  }

  function showHeading(state, image) {
    context.hidden = state.kind === "none";
    intro.hidden = state.kind !== "none";
    resultsTitle.textContent = state.kind === "none" ? "" : headingFor(state);
    contextClose.hidden = !(state.kind === "similar" || state.kind === "image");
    wordsForm.hidden = contextClose.hidden;
    wordsInput.value = wordsForm.hidden ? "" : state.words;
    if (thumbUrl) URL.revokeObjectURL(thumbUrl);
    thumbUrl = image ? URL.createObjectURL(image) : null;
    contextImage.hidden = !thumbUrl;
    if (thumbUrl) contextImage.src = thumbUrl;
    document.title = state.kind === "none" ? "Poster search" : `${headingFor(state)} · Poster search`;
  }

  function retryPoster(img, url, attempt) {
    img.addEventListener("error", () => {
      // The placeholder (the title) shows meanwhile, not a broken image.
      img.hidden = true;
      if (attempt >= POSTER_RETRIES) return;
      // A poster that failed (server busy, network blip) is asked for again, later each time.
      setTimeout(() => {
        if (!img.isConnected) return;
        const fresh = img.cloneNode();
        fresh.loading = "eager"; // a hidden lazy image would never load
        img.replaceWith(fresh);
        retryPoster(fresh, url, attempt + 1);
        fresh.src = url;
      }, 1000 * 2 ** attempt);
    }, { once: true });
    img.addEventListener("load", () => { img.hidden = false; }, { once: true });
  }

  function matchPercent(p) {
    const percent = 100 * Number(p);
    return percent >= 1 || percent === 0 ? `${Math.round(percent)}%` : "under 1%";
  }

  // What the service says about how it understood the words: the translation it searched
  // with too, and its notices (a query longer than the model reads, no good match...).
  function showQueryNote(about) {
    const parts = [];
    if (about && about.translation) parts.push(`Also searched in English as “${about.translation.text}”.`);
    if (about && about.notice) {
      const first = about.notice.charAt(0).toUpperCase() + about.notice.slice(1);
      parts.push(first.endsWith(".") ? first : `${first}.`);
    }
    queryNote.textContent = parts.join(" ");
    queryNote.hidden = parts.length === 0;
  }

  function card(hit, state) {
    const poster = hit.poster;
    const node = template.content.firstElementChild.cloneNode(true);
    const article = node.querySelector(".card");
    const img = node.querySelector(".poster");
    const titleId = `title-${poster.movie_id}`.replace(/[^\w-]/g, "_");
    const yearText = poster.year != null ? String(poster.year) : "";
    const label = yearText ? `${poster.title} (${yearText})` : poster.title;

    article.setAttribute("aria-labelledby", titleId);
    article.dataset.movieId = poster.movie_id;
    node.querySelector(".title").id = titleId;
    node.querySelector(".title").textContent = poster.title;
    node.querySelector(".year").textContent = yearText;
    node.querySelector(".rating").textContent =
      poster.rating != null ? `★ ${Number(poster.rating).toFixed(1)}` : "";
    node.querySelector(".genres-line").textContent = (poster.genres || []).join(" · ");
    // Browsing by filter alone scores by rating, which the line above already shows.
    const browsing = state.kind === "text" && !state.query.trim();
    const found = (hit.found_by || []).map((b) => BRANCH_NAMES[b]).filter(Boolean);
    // The model's match probability, where it defines one (SigLIP).
    const match = hit.probability != null ? `, match ${matchPercent(hit.probability)}` : "";
    node.querySelector(".score").textContent = browsing ? "" :
      `score ${Number(hit.score).toFixed(3)}${match}` + (found.length ? `, found by ${found.join(" and ")}` : "");
    node.querySelector(".placeholder").textContent = label;

    if (poster.image_url) {
      img.alt = `Poster of ${label}`;
      retryPoster(img, poster.image_url, 0);
      img.src = poster.image_url;
    } else {
      img.hidden = true;
    }
    // The name starts with the words the button shows (label in name, WCAG 2.5.3).
    node.querySelector(".similar").setAttribute("aria-label", `More like this: ${label}`);
    node.querySelector(".similar").addEventListener("click", () => {
      const next = { ...formFilters(), kind: "similar", movieId: poster.movie_id, title: label };
      search(next, { push: true, focusHeading: true, collapse: true });
    });
    const notLikeThis = node.querySelector(".not-like-this");
    notLikeThis.setAttribute("aria-label", `Not like this: ${label}`);
    notLikeThis.addEventListener("click", () => {
      if (!shownExcludes.ids.includes(poster.movie_id)) {
        shownExcludes.ids.push(poster.movie_id);
        shownExcludes.titles[poster.movie_id] = label;
      }
      filtersChanged();
      resultsTitle.focus({ preventScroll: true });
    });
    return node;
  }

  function updateMore() {
    moreButton.hidden = exhausted || !shown || shown.kind === "none";
  }

  // ---- Running searches -------------------------------------------------------------------

  function historyEntry(state) {
    return { title: state.title, imageName: state.imageName, excludeTitles: state.excludeTitles, scrollY: 0 };
  }

  // Runs a search; only when it succeeds does it replace what is on screen and enter the
  // history. A refused search leaves the previous results (and the history) as they were.
  async function search(state, { push = false, focusHeading = false, collapse = false, scrollY = null } = {}) {
    const seq = ++requestSeq;
    const leftAt = window.scrollY; // where the search on screen was left, for Back
    wanted = state;
    clearErrors();
    moreError.hidden = true;
    if (state.kind === "none") {
      shown = state;
      results.replaceChildren();
      loaded = 0;
      exhausted = true;
      statusLine.textContent = "";
      showHeading(state, null);
      updateMore();
      record(state, push, leftAt);
      return;
    }
    const problems = [...formProblems(state), ...steerProblems(state)];
    if (problems.length) {
      for (const p of problems) showRefusal(p);
      document.body.classList.toggle("stale", results.children.length > 0);
      return;
    }
    let image = null;
    if (state.kind === "image") {
      const kept = await loadImage(state.imageKey);
      if (seq !== requestSeq) return;
      if (!kept) {
        showRefusal(["image", "The image of this search is not kept in this browser any more. " +
          "Choose it again with “Search by image…”."]);
        return;
      }
      image = kept.blob;
      state = { ...state, imageName: state.imageName || kept.name };
    }
    document.body.classList.add("busy");
    statusLine.textContent = "Searching…";
    const want = state.pages * PAGE_SIZE;
    const hits = [];
    let about = null;
    let failure = null;
    try {
      while (hits.length < want) {
        const limit = Math.min(MAX_PAGE_REQUEST, want - hits.length);
        const page = await fetchPage(state, image, hits.length, limit, (wait) => {
          if (seq !== requestSeq) return false;
          statusLine.textContent = `The search service is busy; trying again in ${wait} s…`;
          return true;
        });
        if (seq !== requestSeq || page.cancelled) return;
        if (!page.hits) { failure = page; break; }
        if (about === null) about = page.about;
        hits.push(...page.hits);
        if (page.hits.length < limit) break;
      }
    } catch (err) {
      failure = { status: 0 };
    }
    if (seq !== requestSeq) return; // a newer search has started; drop this answer
    document.body.classList.remove("busy");
    if (failure) {
      statusLine.textContent = results.children.length ? "The posters below are from the previous search." : "";
      if (failure.status === 0) showError("The server could not be reached. Check your connection and try again.");
      else showRefusal(explainRefusal(failure.status, failure.error, state));
      return;
    }
    shown = { ...state, pages: Math.max(1, Math.ceil(hits.length / PAGE_SIZE)) };
    if (shown.kind === "text") lastWords = shown.query;
    exhausted = hits.length < want;
    loaded = hits.length;
    results.replaceChildren(...hits.map((hit) => card(hit, shown)));
    showHeading(shown, image);
    showExcludes(shown);
    statusLine.textContent = about && about.no_good_match
      ? `No good match for “${shown.query.trim()}”. Lower “Min match” or try other words.`
      : describe(shown, loaded, !exhausted);
    showQueryNote(about);
    updateMore();
    if (collapse && narrowScreen.matches) closeFilters();
    if (scrollY !== null) window.scrollTo(0, scrollY);
    else if (push && context.getBoundingClientRect().top < 0) window.scrollTo(0, 0);
    if (focusHeading) {
      window.scrollTo(0, 0);
      queryInput.value = "";
      resultsTitle.focus({ preventScroll: true });
    }
    record(shown, push, leftAt);
    fillScreen();
  }

  function record(state, push, leftAt) {
    const address = addressOf(state);
    lastAddress = address;
    const entry = { ...historyEntry(state), scrollY: window.scrollY };
    clearTimeout(scrollTimer); // a pending save belongs to the entry being left
    if (push && address !== location.pathname + location.search) {
      history.replaceState({ ...(history.state || {}), scrollY: leftAt }, "");
      history.pushState(entry, "", address);
    } else {
      history.replaceState({ ...(history.state || {}), ...entry }, "", address);
    }
  }

  async function loadMore() {
    if (loadingMore || exhausted || !shown || shown.kind === "none") return;
    loadingMore = true;
    const seq = requestSeq;
    const state = shown;
    moreError.hidden = true;
    moreButton.disabled = true;
    moreButton.textContent = "Loading…";
    let image = null;
    if (state.kind === "image") image = ((await loadImage(state.imageKey)) || {}).blob || null;
    if (state.kind === "image" && !image) {
      loadingMore = false;
      moreButton.disabled = false;
      moreButton.textContent = "Show more";
      moreError.textContent = "More posters could not be loaded: the image is not kept in this browser any more. " +
        "Choose it again with “Search by image…”.";
      moreError.hidden = false;
      return;
    }
    let page;
    try {
      page = await fetchPage(state, image, loaded, PAGE_SIZE, (wait) => {
        if (seq !== requestSeq) return false;
        moreButton.textContent = `Busy; trying again in ${wait} s…`;
        return true;
      });
    } catch (err) {
      page = { status: 0 };
    }
    loadingMore = false;
    moreButton.disabled = false;
    moreButton.textContent = "Show more";
    if (seq !== requestSeq || page.cancelled) return;
    if (page.status !== undefined) {
      // Said where the person is looking: beside the button, not at the top of the page.
      moreError.textContent = page.status === 0
        ? "More posters could not be loaded: the server could not be reached. Press “Show more” to try again."
        : `More posters could not be loaded (${explainRefusal(page.status, page.error, state)[1]}) ` +
          "Press “Show more” to try again.";
      moreError.hidden = false;
      return;
    }
    const before = results.children.length;
    results.append(...page.hits.map((hit) => card(hit, state)));
    loaded += page.hits.length;
    exhausted = page.hits.length < PAGE_SIZE;
    shown = { ...state, pages: Math.ceil(loaded / PAGE_SIZE) };
    statusLine.textContent = describe(shown, loaded, !exhausted);
    updateMore();
    lastAddress = addressOf(shown);
    history.replaceState({ ...(history.state || {}), ...historyEntry(shown), scrollY: window.scrollY }, "", lastAddress);
    return before;
  }

  // Infinite scroll: the row holding "Show more" loads the next page as it nears the screen.
  // The button stays for keyboards, and where the observer does not fire.
  const observer = "IntersectionObserver" in window
    ? new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && moreError.hidden) loadMore().then(fillScreen);
    }, { rootMargin: "0px 0px 400px 0px" })
    : null;
  if (observer) observer.observe(moreRow);

  function fillScreen() {
    // A first page shorter than the screen never scrolls, so the observer would not fire again.
    if (!observer || exhausted || !moreError.hidden) return;
    const rect = moreRow.getBoundingClientRect();
    if (rect.top < window.innerHeight + 400) requestAnimationFrame(() => loadMore().then(fillScreen));
  }

  // What a change of the form means: the words in the box (typed or not) with the filters,
  // or, while a similar or image search is on screen, that search with the new filters.
  function fromForm() {
    const filters = formFilters();
    if (shown && (shown.kind === "similar" || shown.kind === "image")) {
      return { ...shown, ...filters, kind: shown.kind, movieId: shown.movieId, title: shown.title,
        imageKey: shown.imageKey, imageName: shown.imageName, words: wordsInput.value.trim(), pages: 1 };
    }
    const query = queryInput.value.trim();
    return { ...filters, kind: query || hasFilter(filters) ? "text" : "none", query, pages: 1 };
  }

  function sameSearch(a, b) {
    return a && b && addressOf({ ...a, pages: 1 }) === addressOf({ ...b, pages: 1 });
  }

  function filtersChanged() {
    updateFilterCounts();
    const next = fromForm();
    // An edit that asks for what is already on screen (typed, then committed by leaving
    // the field) sends nothing.
    if (sameSearch(next, wanted) && errorBox.hidden && !document.querySelector("[aria-invalid]")) return;
    search(next, { push: true });
  }

  function submitText() {
    const filters = formFilters();
    const query = queryInput.value.trim();
    search({ ...filters, kind: query || hasFilter(filters) ? "text" : "none", query, pages: 1 },
      { push: true, collapse: true });
  }

  async function searchImage(file) {
    if (!file) return;
    clearErrors();
    if (file.type && !/^image\/(jpeg|png|webp)$/.test(file.type)) {
      showRefusal(["image", `${file.name} is not a JPEG, PNG or WebP image. Choose one of those.`]);
      return;
    }
    if (maxUploadBytes && file.size > maxUploadBytes) {
      showRefusal(["image", `${file.name} is ${megabytes(file.size)}; images of at most ` +
        `${megabytes(maxUploadBytes)} can be searched with. Choose a smaller file.`]);
      return;
    }
    let imageKey;
    try {
      imageKey = await keepImage(file);
    } catch (err) {
      // Without a kept copy the search could not survive Back or a reload; say so instead.
      showRefusal(["image", "This browser does not let the page keep the image (is storage turned off?), " +
        "so it cannot be searched with."]);
      return;
    }
    const state = { ...formFilters(), kind: "image", imageKey, imageName: file.name || "your image", pages: 1 };
    search(state, { push: true, collapse: true });
  }

  // ---- Filters panel, chips --------------------------------------------------------------

  function openFilters() {
    filtersPanel.classList.add("open");
    filtersToggle.setAttribute("aria-expanded", "true");
  }

  function closeFilters() {
    filtersPanel.classList.remove("open");
    filtersToggle.setAttribute("aria-expanded", "false");
  }

  filtersToggle.addEventListener("click", () => {
    if (filtersPanel.classList.contains("open")) closeFilters();
    else openFilters();
  });

  function makeChip(field, { genre, count }) {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "chip";
    chip.dataset.genre = genre;
    chip.tabIndex = -1;
    chip.setAttribute("aria-pressed", "false");
    chip.append(genre, " ");
    const small = document.createElement("span");
    small.className = "count";
    small.textContent = String(count);
    chip.append(small);
    // Read as "Drama, 8 posters": it starts with what the chip shows.
    chip.setAttribute("aria-label", `${genre}, ${count} ${count === 1 ? "poster" : "posters"}`);
    chip.addEventListener("click", () => {
      const on = chip.getAttribute("aria-pressed") !== "true";
      chip.setAttribute("aria-pressed", String(on));
      if (on) {
        // Asking for a genre and leaving it out at once matches nothing: the newer choice wins.
        const others = field === "genres_none" ? ["genres_any", "genres_all"] : ["genres_none"];
        for (const other of others) {
          for (const c of chipsOf(other)) if (c.dataset.genre === genre) c.setAttribute("aria-pressed", "false");
        }
      }
      filtersChanged();
    });
    return chip;
  }

  // Each row of chips is one Tab stop; the arrow keys move along it.
  for (const row of Object.values(chipRows)) {
    row.addEventListener("keydown", (event) => {
      const chips = [...row.querySelectorAll(".chip")];
      const at = chips.indexOf(document.activeElement);
      if (at < 0) return;
      const to = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: chips.length - 1 }[event.key];
      if (to === undefined) return;
      event.preventDefault();
      const next = chips[(to + chips.length) % chips.length];
      for (const c of chips) c.tabIndex = c === next ? 0 : -1;
      next.focus();
    });
    row.addEventListener("focusin", (event) => {
      if (!event.target.classList.contains("chip")) return;
      for (const c of row.querySelectorAll(".chip")) c.tabIndex = c === event.target ? 0 : -1;
    });
  }

  async function loadGenres() {
    try {
      const response = await fetch("/api/genres");
      const data = await response.json();
      if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
      genres = data.genres;
      for (const [field, row] of Object.entries(chipRows)) {
        row.replaceChildren(...genres.map((g) => makeChip(field, g)));
        if (row.firstElementChild) row.firstElementChild.tabIndex = 0;
      }
      if (genres.length === 0) chipRows.genres_any.textContent = "No genres yet: the collection is empty.";
    } catch (err) {
      chipRows.genres_any.textContent = "Genres could not be loaded; reload the page to try again.";
    }
  }

  async function loadLimits() {
    try {
      const response = await fetch("/api/limits");
      if (response.ok) maxUploadBytes = (await response.json()).max_upload_bytes || null;
    } catch (err) {
      maxUploadBytes = null; // the server still refuses an upload over its limit
    }
  }

  // ---- Events -----------------------------------------------------------------------------

  // Drag and drop anywhere on the page.
  let dragDepth = 0;
  const carriesFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
  document.addEventListener("dragenter", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dragDepth += 1;
    dropOverlay.hidden = false;
  });
  document.addEventListener("dragover", (event) => {
    if (carriesFiles(event)) event.preventDefault();
  });
  document.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) dropOverlay.hidden = true;
  });
  document.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dragDepth = 0;
    dropOverlay.hidden = true;
    searchImage(event.dataTransfer.files[0]);
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitText();
  });
  queryInput.addEventListener("input", () => setFieldError("query", ""));
  $("pick-image").addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", () => {
    searchImage(fileInput.files[0]);
    fileInput.value = "";
  });
  contextClose.addEventListener("click", () => {
    queryInput.value = lastWords;
    submitText();
    queryInput.focus();
  });
  for (const example of document.querySelectorAll(".example")) {
    example.addEventListener("click", () => {
      queryInput.value = example.textContent.trim();
      submitText();
    });
  }
  wordsForm.addEventListener("submit", (event) => {
    event.preventDefault();
    filtersChanged();
  });
  excludeInput.addEventListener("input", () => setFieldError("exclude", ""));
  excludeInput.addEventListener("change", () => filtersChanged());
  diverseBox.addEventListener("change", () => filtersChanged());
  let debounce = 0;
  modeSelect.addEventListener("change", () => { if (queryInput.value.trim()) filtersChanged(); });
  translateBox.addEventListener("change", () => { if (queryInput.value.trim()) filtersChanged(); });
  for (const input of [yearFrom, yearTo, minRating, minProbability]) {
    input.addEventListener("input", () => {
      clearTimeout(debounce);
      debounce = setTimeout(filtersChanged, 450);
    });
    input.addEventListener("change", () => { clearTimeout(debounce); filtersChanged(); });
  }
  $("clear-filters").addEventListener("click", () => {
    for (const f of GENRE_FIELDS) for (const chip of chipsOf(f)) chip.setAttribute("aria-pressed", "false");
    yearFrom.value = yearTo.value = minRating.value = "";
    clearFieldErrors();
    filtersChanged();
  });
  moreButton.addEventListener("click", async () => {
    const before = await loadMore();
    // Move on to the first new poster rather than leaving focus at the bottom.
    if (before !== undefined) results.children[before]?.querySelector(".card")?.focus();
  });

  // The scroll position belongs to the history entry, so Back and reload return to it.
  history.scrollRestoration = "manual";
  window.addEventListener("scroll", () => {
    clearTimeout(scrollTimer);
    scrollTimer = setTimeout(() => {
      history.replaceState({ ...(history.state || {}), scrollY: window.scrollY }, "");
    }, 150);
  }, { passive: true });

  // A sticky header must not cover what keyboard focus scrolls to.
  function trackHeader() {
    const sticky = getComputedStyle(topbar).position === "sticky";
    document.documentElement.style.setProperty("--header-h", sticky ? `${topbar.offsetHeight}px` : "0px");
  }
  new ResizeObserver(trackHeader).observe(topbar);
  window.addEventListener("resize", trackHeader);

  function showAddress(saved) {
    const { state, problems } = stateFromAddress(location.search, saved);
    showInForm(state);
    if (problems.length) {
      clearErrors();
      for (const p of problems) showRefusal(p);
      showHeading({ kind: "none" }, null);
      results.replaceChildren();
      shown = null;
      exhausted = true;
      updateMore();
      return;
    }
    const scrollY = saved && typeof saved.scrollY === "number" ? saved.scrollY : null;
    search(state, { scrollY, collapse: true });
  }

  // Following the skip link changes only the fragment; that is no new search.
  let lastAddress = location.pathname + location.search;
  window.addEventListener("popstate", (event) => {
    const address = location.pathname + location.search;
    if (address === lastAddress) return;
    lastAddress = address;
    showAddress(event.state);
  });

  // A phone's box is short: its hint must fit whole.
  const longHint = queryInput.placeholder;
  function fitToScreen() {
    if (narrowScreen.matches) closeFilters();
    else openFilters();
    queryInput.placeholder = narrowScreen.matches ? "Describe a poster, or 한국어" : longHint;
  }
  fitToScreen();
  narrowScreen.addEventListener("change", fitToScreen);
  for (const row of Object.values(chipRows)) row.addEventListener("click", updateFilterCounts);

  Promise.all([loadGenres(), loadLimits()]).then(() => showAddress(history.state));
})();
