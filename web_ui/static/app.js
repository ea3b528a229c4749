// Poster search page: plain JavaScript over the JSON API, no build step, no network
// beyond this server (and the poster images the collection links to).
"use strict";

(() => {
  const PAGE_SIZE = 30;
  const $ = (id) => document.getElementById(id);

  const form = $("search-form");
  const queryInput = $("query");
  const chipsBox = $("genre-chips");
  const genreMode = $("genre-mode");
  const yearFrom = $("year-from");
  const yearTo = $("year-to");
  const minRating = $("min-rating");
  const results = $("results");
  const statusLine = $("status");
  const errorBox = $("error");
  const intro = $("intro");
  const moreButton = $("more");
  const fileInput = $("image-file");
  const dropOverlay = $("drop-overlay");
  const context = $("context");
  const contextText = $("context-text");
  const contextImage = $("context-image");
  const template = $("card-template");

  // What the grid currently shows. kind: "none" | "text" | "image" | "similar".
  let mode = { kind: "none" };
  let offset = 0;
  let requestSeq = 0;
  let imageUrl = null;

  function selectedGenres() {
    return [...chipsBox.querySelectorAll('.chip[aria-pressed="true"]')].map((c) => c.dataset.genre);
  }

  function hasFilter() {
    return selectedGenres().length > 0 || yearFrom.value !== "" || yearTo.value !== "" ||
      minRating.value !== "";
  }

  // Filter and paging fields, named as in search.proto.
  function filterParams(pageOffset) {
    const params = new URLSearchParams();
    const field = genreMode.value === "all" ? "genres_all" : "genres_any";
    for (const genre of selectedGenres()) params.append(field, genre);
    if (yearFrom.value !== "") params.set("year_from", yearFrom.value);
    if (yearTo.value !== "") params.set("year_to", yearTo.value);
    if (minRating.value !== "") params.set("min_rating", minRating.value);
    params.set("limit", String(PAGE_SIZE));
    if (pageOffset) params.set("offset", String(pageOffset));
    return params;
  }

  function badNumber() {
    for (const [input, name] of [[yearFrom, "Year from"], [yearTo, "Year to"], [minRating, "Min rating"]]) {
      if (input.validity.badInput) return `${name} must be a number.`;
    }
    return null;
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    document.body.classList.toggle("stale", results.children.length > 0);
  }

  function clearError() {
    errorBox.hidden = true;
    errorBox.textContent = "";
    document.body.classList.remove("stale");
  }

  function setContext(text, thumb) {
    context.hidden = !text;
    contextText.textContent = text || "";
    contextImage.hidden = !thumb;
    if (thumb) contextImage.src = thumb;
  }

  function syncAddress() {
    // Text searches are kept in the address so they can be bookmarked and shared.
    const params = mode.kind === "text" ? filterParams(0) : new URLSearchParams();
    params.delete("limit");
    if (mode.kind === "text" && mode.query) params.set("query", mode.query);
    const search = params.toString();
    history.replaceState(null, "", search ? `?${search}` : location.pathname);
  }

  function request(pageOffset) {
    const params = filterParams(pageOffset);
    if (mode.kind === "text") {
      params.set("query", mode.query);
      return fetch(`/api/search?${params}`);
    }
    if (mode.kind === "similar") {
      return fetch(`/api/similar/${encodeURIComponent(mode.movieId)}?${params}`);
    }
    const body = new FormData();
    body.append("image", mode.file, mode.file.name || "image");
    return fetch(`/api/search-by-image?${params}`, { method: "POST", body });
  }

  function describe(count, more) {
    const shown = more ? `${count}+` : `${count}`;
    const noun = count === 1 ? "poster" : "posters";
    if (mode.kind === "text" && mode.query) return `${shown} ${noun} for “${mode.query}”`;
    if (mode.kind === "text") return `${shown} ${noun} matching the filters, best rated first`;
    if (mode.kind === "similar") return `${shown} ${noun} that look like ${mode.title}`;
    return `${shown} ${noun} that look like ${mode.file.name || "your image"}`;
  }

  async function run(append) {
    const invalid = badNumber();
    if (invalid) { showError(invalid); return; }
    if (mode.kind === "none") {
      results.replaceChildren();
      statusLine.textContent = "";
      moreButton.hidden = true;
      intro.hidden = false;
      return;
    }
    const seq = ++requestSeq;
    const pageOffset = append ? offset : 0;
    document.body.classList.add("busy");
    statusLine.textContent = "Searching…";
    let response;
    let data = null;
    try {
      response = await request(pageOffset);
    } catch (err) {
      if (seq !== requestSeq) return;
      document.body.classList.remove("busy");
      statusLine.textContent = "";
      showError("The server could not be reached. Is poster-search serve still running?");
      return;
    }
    try {
      data = await response.json();
    } catch (err) {
      data = null; // not JSON: a proxy's error page, say; the status code tells enough
    }
    if (seq !== requestSeq) return; // a newer search has started; drop this answer
    document.body.classList.remove("busy");
    if (!response.ok || !data) {
      statusLine.textContent = results.children.length ? "The posters below are from the previous search." : "";
      showError(data && data.error ? data.error : `The search failed (HTTP ${response.status}).`);
      return;
    }
    clearError();
    intro.hidden = true;
    const hits = data.hits || [];
    if (!append) results.replaceChildren();
    for (const hit of hits) results.append(card(hit));
    offset = pageOffset + hits.length;
    moreButton.hidden = hits.length < PAGE_SIZE;
    const total = results.children.length;
    statusLine.textContent = total === 0
      ? "No posters match. Try fewer filters or other words."
      : describe(total, !moreButton.hidden);
    if (data.model_id) statusLine.title = `model: ${data.model_id}`;
  }

  function card(hit) {
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
    const browsing = mode.kind === "text" && !mode.query;
    node.querySelector(".score").textContent = browsing ? "" : `score ${Number(hit.score).toFixed(3)}`;
    node.querySelector(".placeholder").textContent = label;

    if (poster.image_url) {
      img.src = poster.image_url;
      img.alt = `Poster of ${label}`;
      img.addEventListener("error", () => { img.hidden = true; });
    } else {
      img.hidden = true;
    }
    const similar = node.querySelector(".similar");
    similar.setAttribute("aria-label", `More like ${label}`);
    similar.addEventListener("click", async () => {
      await startSearch({ kind: "similar", movieId: poster.movie_id, title: label });
      // The button pressed is gone with the old grid: keep keyboard users at the results.
      results.focus();
    });
    return node;
  }

  async function startSearch(next) {
    mode = next;
    offset = 0;
    if (next.kind !== "image" && imageUrl) {
      URL.revokeObjectURL(imageUrl);
      imageUrl = null;
    }
    if (next.kind === "similar") setContext(`More like ${next.title}`, null);
    else if (next.kind === "image") setContext(`Posters that look like ${next.file.name || "your image"}`, imageUrl);
    else setContext(null, null);
    syncAddress();
    await run(false);
  }

  function searchText() {
    const query = queryInput.value.trim();
    if (!query && !hasFilter()) {
      mode = { kind: "none" };
      clearError();
      setContext(null, null);
      syncAddress();
      run(false);
      return;
    }
    startSearch({ kind: "text", query });
  }

  function searchImage(file) {
    if (!file) return;
    if (file.type && !file.type.startsWith("image/")) {
      showError(`${file.name} is not an image. Use a JPEG, PNG or WebP file.`);
      return;
    }
    if (imageUrl) URL.revokeObjectURL(imageUrl);
    imageUrl = URL.createObjectURL(file);
    startSearch({ kind: "image", file });
  }

  // A filter change reruns what is on screen; with nothing on screen it browses.
  function filtersChanged() {
    syncAddress();
    if (mode.kind === "none" || (mode.kind === "text" && !mode.query)) searchText();
    else { offset = 0; run(false); }
  }

  let debounce = 0;
  function filtersTyped() {
    clearTimeout(debounce);
    debounce = setTimeout(filtersChanged, 350);
  }

  async function loadGenres() {
    try {
      const response = await fetch("/api/genres");
      const data = await response.json();
      if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
      const wanted = new Set(new URLSearchParams(location.search).getAll("genres_any")
        .concat(new URLSearchParams(location.search).getAll("genres_all")));
      chipsBox.replaceChildren(...data.genres.map(({ genre, count }) => {
        const chip = document.createElement("button");
        chip.type = "button";
        chip.className = "chip";
        chip.dataset.genre = genre;
        chip.setAttribute("aria-pressed", wanted.has(genre) ? "true" : "false");
        chip.append(genre);
        const small = document.createElement("span");
        small.className = "count";
        small.textContent = String(count);
        small.setAttribute("aria-label", `${count} posters`);
        chip.append(small);
        chip.addEventListener("click", () => {
          const on = chip.getAttribute("aria-pressed") !== "true";
          chip.setAttribute("aria-pressed", String(on));
          filtersChanged();
        });
        return chip;
      }));
      if (data.genres.length === 0) chipsBox.textContent = "No genres yet: the collection is empty.";
    } catch (err) {
      chipsBox.textContent = `Genres could not be loaded (${err.message}).`;
    }
  }

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
    searchText();
  });
  $("pick-image").addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", () => {
    searchImage(fileInput.files[0]);
    fileInput.value = "";
  });
  $("context-close").addEventListener("click", () => { searchText(); queryInput.focus(); });
  for (const example of document.querySelectorAll(".example")) {
    example.addEventListener("click", () => {
      queryInput.value = example.textContent.trim();
      searchText();
    });
  }
  genreMode.addEventListener("change", () => { if (selectedGenres().length) filtersChanged(); });
  for (const input of [yearFrom, yearTo, minRating]) {
    input.addEventListener("input", filtersTyped);
    input.addEventListener("change", () => { clearTimeout(debounce); filtersChanged(); });
  }
  $("clear-filters").addEventListener("click", () => {
    for (const chip of chipsBox.querySelectorAll(".chip")) chip.setAttribute("aria-pressed", "false");
    yearFrom.value = yearTo.value = minRating.value = "";
    genreMode.value = "any";
    clearError();
    filtersChanged();
  });
  moreButton.addEventListener("click", async () => {
    const before = results.children.length;
    await run(true);
    // Move on to the first new poster rather than leaving focus at the bottom.
    results.children[before]?.querySelector(".card")?.focus();
  });

  // Restore a search from the address (a bookmark or a shared link).
  const initial = new URLSearchParams(location.search);
  queryInput.value = initial.get("query") || "";
  yearFrom.value = initial.get("year_from") || "";
  yearTo.value = initial.get("year_to") || "";
  minRating.value = initial.get("min_rating") || "";
  if (initial.getAll("genres_all").length) genreMode.value = "all";
  loadGenres().then(() => {
    if (queryInput.value || hasFilter()) searchText();
  });
})();
