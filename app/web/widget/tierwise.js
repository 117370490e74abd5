/*! tierwise storefront widget v1 — <tierwise-storefront>. Contract: docs/widget.md */
(() => {
  "use strict";
  if (customElements.get("tierwise-storefront")) return;

  const STEPS = ["segment", "tiers", "customize", "date", "contact", "upsell", "checkout"];
  const TITLES = {
    segment: "Choose your experience",
    tiers: "Compare packages",
    customize: "Customize your package",
    date: "Pick a date",
    contact: "Your details",
    upsell: "Upgrade your experience?",
    checkout: "Review and pay",
  };
  const VISITOR_KEY = "tierwise.visitor_id";
  const THEME = {
    primary_color: "--tw-primary",
    accent_color: "--tw-accent",
    font_family: "--tw-font",
    radius: "--tw-radius",
  };
  const CSS = `
:host{display:block;container-type:inline-size;color:#1d1d1f;font-family:var(--tw-font,system-ui,-apple-system,"Segoe UI",sans-serif);line-height:1.45}
*{box-sizing:border-box}
.tw{max-width:100%;overflow-wrap:anywhere}
h2{font-size:1.35rem;margin:.25rem 0 .75rem}h3{font-size:1.1rem;margin:.25rem 0}
h2:focus{outline:none}h2:focus-visible{outline:3px solid var(--tw-accent,#b4530a);outline-offset:2px}
button,input{font:inherit}
button{cursor:pointer;border-radius:var(--tw-radius,8px);border:2px solid var(--tw-primary,#1f5fbf);background:#fff;color:#1d1d1f;padding:.5rem .9rem;min-height:2.75rem}
button.primary,[data-tw=next]{background:var(--tw-primary,#1f5fbf);color:var(--tw-on-primary,#fff)}
button[disabled],button[aria-disabled=true]{cursor:not-allowed;opacity:.55}
:focus-visible{outline:3px solid var(--tw-accent,#b4530a);outline-offset:2px}
.tabs{display:flex;flex-wrap:wrap;gap:.5rem;margin:0 0 1rem}
[role=tab][aria-selected=true]{background:var(--tw-primary,#1f5fbf);color:var(--tw-on-primary,#fff)}
.cards{display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(min(100%,14rem),1fr))}
.card{position:relative;border:1px solid #c9c9cf;border-radius:var(--tw-radius,8px);padding:1rem;background:#fff;display:flex;flex-direction:column;gap:.4rem}
.card.popular{border:2px solid var(--tw-accent,#b4530a)}
.card.chosen{box-shadow:0 0 0 3px var(--tw-primary,#1f5fbf)}
.badge{align-self:flex-start;background:var(--tw-accent,#b4530a);color:var(--tw-on-accent,#fff);border-radius:999px;padding:.1rem .6rem;font-size:.85rem;font-weight:600}
.price{font-size:1.5rem;font-weight:700;margin:0}
.muted{color:#55555c;margin:0;font-size:.92rem}
.banner{background:#fdf3e7;border-left:4px solid var(--tw-accent,#b4530a);padding:.4rem .6rem;margin:0}
.bad{color:#a4161a;font-weight:600;margin:0}
details summary{cursor:pointer;padding:.25rem 0}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .4rem;border-bottom:1px solid #e3e3e8;vertical-align:top}
td.n,th.n{text-align:right;white-space:nowrap}
.features{margin-top:1.25rem;font-size:.92rem}
.nav{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.5rem;margin-top:1.25rem}
.nav [data-tw=next]{margin-left:auto}
fieldset{border:1px solid #c9c9cf;border-radius:var(--tw-radius,8px);padding:.75rem;margin:0 0 1rem}
label{display:block;margin:.25rem 0}
.field{margin:0 0 .9rem}.field input{display:block;width:100%;max-width:24rem;padding:.5rem;border:1px solid #8a8a92;border-radius:var(--tw-radius,8px);margin-top:.2rem;min-height:2.75rem}
.check{display:flex;gap:.5rem;align-items:center;min-height:2.75rem}.check input{width:1.25rem;height:1.25rem}
.err{color:#a4161a;margin:.2rem 0 0;font-size:.9rem}
.month{display:flex;align-items:center;justify-content:space-between;gap:.5rem;margin-bottom:.5rem}
.cal{display:grid;grid-template-columns:repeat(7,minmax(0,1fr));gap:.25rem}
.cal .dow{font-size:.8rem;text-align:center;color:#55555c}
.cal button{padding:.2rem 0;min-width:0;min-height:3.1rem;display:flex;flex-direction:column;align-items:center;justify-content:center;font-size:.95rem;border-width:1px}
.cal button small{font-size:.68rem;color:inherit}
.cal button[aria-pressed=true]{background:var(--tw-primary,#1f5fbf);color:var(--tw-on-primary,#fff)}
.cal button[aria-disabled=true]{background:#f0f0f2;text-decoration:line-through}
.alert{border:2px solid #a4161a;background:#fff5f5;border-radius:var(--tw-radius,8px);padding:.6rem .8rem;margin:0 0 1rem}
.alert p{margin:0 0 .5rem}
.loading{display:flex;align-items:center;gap:.5rem;margin:.5rem 0}
.loading::before{content:"";width:1rem;height:1rem;border:3px solid #c9c9cf;border-top-color:var(--tw-primary,#1f5fbf);border-radius:50%;animation:tw-spin 1s linear infinite}
@keyframes tw-spin{to{transform:rotate(360deg)}}
@media (prefers-reduced-motion:reduce){.loading::before{animation:none}}
ul.plain{list-style:none;padding:0;margin:.25rem 0;display:flex;flex-direction:column;gap:.4rem}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;

  // ---- small helpers -------------------------------------------------------------------------
  const esc = (v) =>
    String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const attr = (name, v) => (v === undefined || v === null || v === false ? "" : ` ${name}="${esc(v)}"`);

  function randomId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  let memoryVisitor = null;
  function visitorId() {
    try {
      let id = localStorage.getItem(VISITOR_KEY);
      if (!id || !/^[0-9a-f]{32}$/.test(id)) {
        id = randomId();
        localStorage.setItem(VISITOR_KEY, id);
      }
      return id;
    } catch (_) {
      memoryVisitor = memoryVisitor || randomId(); // storage blocked: this page view only
      return memoryVisitor;
    }
  }

  const iso = (d) => d.toISOString().slice(0, 10);
  const parseDay = (s) => {
    const [y, m, d] = s.split("-").map(Number);
    return new Date(Date.UTC(y, m - 1, d));
  };
  function localToday() {
    const now = new Date();
    return new Date(Date.UTC(now.getFullYear(), now.getMonth(), now.getDate()));
  }
  const addDays = (d, n) => new Date(d.getTime() + n * 86400000);

  function onAccent(hex) {
    // Text on a theme colour: black or white, whichever contrasts more (WCAG relative luminance).
    const m = /^#([0-9a-f]{6})$/i.exec(hex || "");
    if (!m) return null;
    const n = parseInt(m[1], 16);
    const lin = (c) => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    };
    const l = 0.2126 * lin(n >> 16) + 0.7152 * lin((n >> 8) & 255) + 0.0722 * lin(n & 255);
    return (l + 0.05) / 0.05 > 1.05 / (l + 0.05) ? "#111111" : "#ffffff";
  }

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // What the customer reads for an API error, and the way forward (an action of the widget).
  function explain(error) {
    const c = error.code;
    if (c === "network")
      return ["We can't reach the booking service. Check your connection, then try again.", "retry", "Try again"];
    if (c === "sold_out" || c === "tier_sold_out")
      return ["Sorry, this package sold out for that date in the meantime. Please pick another date.", "go:date", "Choose another date"];
    if (c === "quote_expired" || c === "quote_invalid" || c === "quote_used")
      return ["The price we held for you has expired. Get the current price to continue.", "requote", "Get the current price"];
    if (c === "date_in_past" || c === "date_too_far")
      return ["That date can no longer be booked. Please pick another date.", "go:date", "Choose another date"];
    if (c === "party_too_large")
      return ["That is more guests than this package takes. Please change the number of guests.", "go:customize", "Change guests"];
    if (c === "upsell_not_offered")
      return ["That upgrade is no longer offered; you can continue with your package.", "decline", "Continue without upgrade"];
    if (c === "segment_not_found" || c === "tier_not_found")
      return ["That package is no longer available. Please choose again.", "go:segment", "Choose again"];
    if (error.status === 401 || error.status === 403)
      return ["This booking form is not set up correctly (its key was refused). Please contact the seller.", null, null];
    if (error.status === 422)
      return [error.message || "Some details were not accepted. Please check them.", "go:contact", "Check your details"];
    return ["Something went wrong on our side. Please try again in a moment.", "retry", "Try again"];
  }

  // ---- the element ---------------------------------------------------------------------------
  class TierwiseStorefront extends HTMLElement {
    static get observedAttributes() {
      return ["api-base", "api-key", "segment", "date", "guests", "locale"];
    }

    constructor() {
      super();
      this.attachShadow({ mode: "open" });
      this.s = {
        step: null,
        segments: [],
        segment: null,
        comparison: null,
        offers: null,
        tierId: null,
        date: null,
        guests: 2,
        addOns: new Set(),
        contact: { name: "", email: "", phone: "" },
        month: null,
        calendar: null,
        upsellDecided: null, // "accepted" | "declined" | null
        upsellShownFor: null,
        quote: null,
        loading: "",
        error: null,
        retry: null,
        invalid: {},
      };
      this.started = false;
      this.loads = []; // the loads running, oldest first
      this.hostTheme = {}; // theme property -> the host page's own value ("" for none)
      this.ownTheme = {}; // theme property -> the value the widget set (a segment's theme)
    }

    connectedCallback() {
      if (!this.shadowRoot.firstChild) {
        this.shadowRoot.innerHTML = `<style>${CSS}</style><div class="tw"><div class="live sr" role="status" aria-live="polite"></div><section data-tw="step"></section></div>`;
        this.root = this.shadowRoot.querySelector("section");
        this.live = this.shadowRoot.querySelector(".live");
        this.shadowRoot.addEventListener("click", (e) => this.onClick(e));
        this.shadowRoot.addEventListener("keydown", (e) => this.onKey(e));
        this.shadowRoot.addEventListener("change", (e) => this.onChange(e));
        this.shadowRoot.addEventListener("submit", (e) => {
          e.preventDefault();
          this.forward();
        });
      }
      this.maybeStart();
    }

    attributeChangedCallback() {
      if (this.isConnected) this.maybeStart();
    }

    get locale() {
      return this.getAttribute("locale") || document.documentElement.lang || navigator.language || "en";
    }

    maybeStart() {
      if (this.started || !this.root || !this.getAttribute("api-base") || !this.getAttribute("api-key")) return;
      this.started = true;
      const s = this.s;
      const guests = parseInt(this.getAttribute("guests") || "2", 10);
      s.guests = guests >= 1 && guests <= 1000 ? guests : 2;
      const date = this.getAttribute("date");
      s.date = date && /^\d{4}-\d{2}-\d{2}$/.test(date) ? date : iso(addDays(localToday(), 1));
      s.month = s.date.slice(0, 7);
      s.visitor = visitorId();
      this.boot();
    }

    // ---- the API ------------------------------------------------------------------------------
    async api(path, body, headers) {
      const base = this.getAttribute("api-base").replace(/\/+$/, "");
      const init = { headers: { "X-Api-Key": this.getAttribute("api-key"), ...(headers || {}) }, mode: "cors" };
      if (body !== undefined) {
        init.method = "POST";
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      let response;
      try {
        response = await fetch(base + path, init);
      } catch (_) {
        throw new ApiError(0, "network", "network");
      }
      let data = null;
      try {
        data = await response.json();
      } catch (_) {
        data = null;
      }
      if (!response.ok) {
        const e = (data && data.error) || {};
        throw new ApiError(response.status, e.code || "http_" + response.status, e.message || "");
      }
      return data;
    }

    send(type, extra) {
      const s = this.s;
      const event = {
        client_event_id: randomId(),
        type,
        visitor_id: s.visitor,
        segment: s.segment || "",
        occurred_at: new Date().toISOString(),
        experiment: (s.offers && s.offers.experiment && s.offers.experiment.key) || "",
        variant: (s.offers && s.offers.experiment && s.offers.experiment.variant) || "",
        ...(extra || {}),
      };
      // Analytics never stands in the customer's way: failures are ignored.
      this.api("/v1/storefront/events", { events: [event] }).catch(() => {});
      this.dispatchEvent(new CustomEvent("tierwise:event", { detail: event, bubbles: true, composed: true }));
    }

    // Run a fetch with a loading state; errors are shown in words with a way forward.
    // Loads may overlap (the date step asks for its month while the step that led there is still
    // finishing): the element is busy, and shows the latest one's line, until every one is done.
    async load(label, work) {
      const s = this.s;
      const mine = { label };
      this.loads.push(mine);
      s.loading = label;
      s.error = null;
      s.retry = () => this.load(label, work);
      this.render();
      try {
        await work();
      } catch (error) {
        s.error = error instanceof ApiError ? error : new ApiError(0, "internal", String(error));
      }
      this.loads.splice(this.loads.indexOf(mine), 1);
      s.loading = this.loads.length ? this.loads[this.loads.length - 1].label : "";
      this.render();
      if (s.error) {
        const alert = this.root.querySelector("[data-tw=error] button") || this.root.querySelector("h2");
        if (alert) alert.focus();
      }
    }

    boot() {
      const s = this.s;
      this.load("Loading packages…", async () => {
        s.segments = await this.api("/v1/storefront/segments");
        const wanted = this.getAttribute("segment");
        const found = s.segments.find((x) => x.key === wanted);
        if (found) {
          await this.chooseSegment(found.key, false);
          this.go("tiers");
        } else {
          s.segment = (s.segments[0] || {}).key || null;
          this.applyTheme();
          this.go("segment");
        }
      });
    }

    segmentObj() {
      return this.s.segments.find((x) => x.key === this.s.segment) || null;
    }

    // The segment's theme wins; a property it leaves unset keeps (or gets back) the value the host
    // page set on the element itself, read again each time in case the host changed it meanwhile.
    applyTheme() {
      const theme = (this.segmentObj() || {}).theme || {};
      const wanted = {};
      for (const [field, prop] of Object.entries(THEME)) wanted[prop] = theme[field] || "";
      wanted["--tw-on-primary"] = onAccent(theme.primary_color) || "";
      wanted["--tw-on-accent"] = onAccent(theme.accent_color) || "";
      for (const [prop, value] of Object.entries(wanted)) {
        const now = this.style.getPropertyValue(prop);
        if (now !== this.ownTheme[prop]) this.hostTheme[prop] = now;
        const host = this.hostTheme[prop] || "";
        if (value) {
          this.style.setProperty(prop, value);
          this.ownTheme[prop] = this.style.getPropertyValue(prop);
        } else {
          if (host) this.style.setProperty(prop, host);
          else this.style.removeProperty(prop);
          delete this.ownTheme[prop];
        }
      }
    }

    async chooseSegment(key, announce = true) {
      const s = this.s;
      if (s.segment !== key) {
        s.tierId = null;
        s.addOns = new Set();
        s.upsellDecided = null;
      }
      s.segment = key;
      this.applyTheme();
      this.send("segment_selected");
      await Promise.all([this.fetchComparison(), this.fetchOffers()]);
      s.calendar = null;
      if (announce) this.say(`${(this.segmentObj() || {}).name || key} selected`);
    }

    async fetchComparison() {
      const s = this.s;
      s.comparison = await this.api(`/v1/storefront/segments/${encodeURIComponent(s.segment)}/comparison`);
    }

    async fetchOffers() {
      const s = this.s;
      const q = new URLSearchParams({ date: s.date, guests: String(s.guests), visitor_id: s.visitor });
      if (s.addOns.size) q.set("add_ons", Array.from(s.addOns).join(","));
      s.offers = await this.api(`/v1/storefront/segments/${encodeURIComponent(s.segment)}/offers?${q}`);
    }

    async fetchCalendar() {
      const s = this.s;
      const q = new URLSearchParams({ month: s.month, guests: String(s.guests) });
      s.calendar = await this.api(`/v1/storefront/segments/${encodeURIComponent(s.segment)}/availability?${q}`);
    }

    offerOf(tierId) {
      const offers = (this.s.offers && this.s.offers.offers) || [];
      return offers.find((o) => o.tier.id === tierId) || null;
    }

    money(minor, currency) {
      const cur = currency || (this.s.offers && this.s.offers.currency) || (this.s.comparison && this.s.comparison.currency) || "EUR";
      const f = new Intl.NumberFormat(this.locale, { style: "currency", currency: cur });
      const digits = f.resolvedOptions().maximumFractionDigits;
      return f.format(minor / 10 ** digits);
    }

    signed(minor) {
      return (minor > 0 ? "+" : minor < 0 ? "−" : "") + this.money(Math.abs(minor));
    }

    dayLabel(day, long) {
      const opts = long
        ? { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" }
        : { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" };
      return new Intl.DateTimeFormat(this.locale, opts).format(parseDay(day));
    }

    say(text) {
      this.live.textContent = "";
      this.live.textContent = text;
    }

    // ---- navigation ---------------------------------------------------------------------------
    go(step) {
      const s = this.s;
      const first = s.step === null;
      const changed = s.step !== step;
      s.step = step;
      s.error = null;
      this.render();
      if (changed) {
        // Focus follows the customer's step changes, never the page's load (the host's focus).
        const h = this.root.querySelector("h2");
        if (h && !first) h.focus({ preventScroll: false });
        this.entered(step);
      }
    }

    entered(step) {
      const s = this.s;
      if (step === "tiers") {
        this.send("tier_comparison_viewed");
      } else if (step === "date" && !s.calendar) {
        this.load("Loading available dates…", () => this.fetchCalendar());
      } else if (step === "upsell") {
        const o = this.offerOf(s.tierId);
        if (o && o.upsell && s.upsellShownFor !== s.tierId) {
          s.upsellShownFor = s.tierId;
          this.send("upsell_shown", { tier_id: s.tierId, properties: { offer: o.upsell.type } });
        }
      } else if (step === "checkout") {
        this.requote();
      }
    }

    requote() {
      const s = this.s;
      s.quote = null;
      this.load("Getting your price…", async () => {
        const o = this.offerOf(s.tierId);
        const accepted = s.upsellDecided === "accepted" && o && o.upsell;
        const addOns = new Set(s.addOns);
        let tier = s.tierId;
        if (accepted && o.upsell.type === "tier") tier = o.upsell.tier_id;
        if (accepted && o.upsell.type === "add_on") addOns.add(o.upsell.add_on_key);
        const body = {
          tier_id: tier,
          date: s.date,
          guests: s.guests,
          add_ons: Array.from(addOns),
          visitor_id: s.visitor,
          customer: this.customer(true),
        };
        if (accepted) body.upsell_from_tier_id = s.tierId;
        s.quote = await this.api("/v1/storefront/quotes", body);
      });
    }

    customer(withPhone) {
      const c = this.s.contact;
      const out = { email: c.email.trim(), name: c.name.trim() };
      if (withPhone && c.phone.trim()) out.phone = c.phone.trim();
      return out;
    }

    next() {
      const s = this.s;
      const i = STEPS.indexOf(s.step);
      let step = STEPS[i + 1];
      if (step === "upsell" && !this.upsellOffered()) step = "checkout";
      if (step) this.go(step);
    }

    back() {
      const s = this.s;
      let i = STEPS.indexOf(s.step) - 1;
      if (STEPS[i] === "upsell" && !this.upsellOffered()) i -= 1;
      if (i >= 0) this.go(STEPS[i]);
    }

    upsellOffered() {
      const o = this.offerOf(this.s.tierId);
      return !!(o && o.upsell && o.availability.status === "available");
    }

    forward() {
      const s = this.s;
      if (s.loading) return;
      if (s.step === "segment") {
        this.load("Loading packages…", async () => {
          await this.chooseSegment(s.segment, false);
          this.go("tiers");
        });
      } else if (s.step === "tiers") {
        if (s.tierId) this.next();
        else this.say("Choose a package first.");
      } else if (s.step === "customize") {
        this.load("Updating prices…", async () => {
          await this.fetchOffers();
          s.calendar = null;
          this.next();
        });
      } else if (s.step === "date") {
        const o = this.offerOf(s.tierId);
        if (!o || o.availability.status !== "available") {
          this.say("This package cannot be booked on that date. Pick another date or an alternative.");
          return;
        }
        this.next();
      } else if (s.step === "contact") {
        this.readContact();
        if (Object.keys(s.invalid).length) {
          this.render();
          const bad = this.root.querySelector("[aria-invalid=true]");
          if (bad) bad.focus();
          return;
        }
        this.next();
      } else if (s.step === "upsell") {
        this.decide("accepted");
      } else if (s.step === "checkout") {
        this.pay();
      }
    }

    readContact() {
      const s = this.s;
      const form = this.root.querySelector("form");
      s.invalid = {};
      for (const name of ["name", "email", "phone"]) {
        const input = form.elements[name];
        s.contact[name] = input.value.trim();
        if (!input.checkValidity() || (name !== "phone" && !s.contact[name])) {
          s.invalid[name] =
            name === "email" ? "Enter an email address like name@example.com." : name === "name" ? "Enter your name." : "Enter a phone number, or leave it empty.";
        }
      }
    }

    decide(choice) {
      const s = this.s;
      s.upsellDecided = choice;
      this.send(choice === "accepted" ? "upsell_accepted" : "upsell_declined", { tier_id: s.tierId });
      this.go("checkout");
    }

    pay() {
      const s = this.s;
      if (!s.quote) return;
      const key = "tw-" + s.quote.quote_id;
      this.load("Taking you to payment…", async () => {
        const booking = await this.api(
          "/v1/storefront/checkouts",
          { quote_token: s.quote.token, customer: this.customer(false) },
          { "Idempotency-Key": key }
        );
        if (!booking.checkout_url) throw new ApiError(0, "internal", "no checkout url");
        s.loading = "Taking you to payment…";
        this.dispatchEvent(new CustomEvent("tierwise:checkout", { detail: booking, bubbles: true, composed: true }));
        window.location.assign(booking.checkout_url);
      });
    }

    // ---- events from the customer ---------------------------------------------------------------
    onClick(e) {
      const el = e.target.closest("button,[data-action]");
      if (!el || !this.root.contains(el)) return;
      const s = this.s;
      const tw = el.getAttribute("data-tw");
      if (el.getAttribute("aria-disabled") === "true" || el.disabled) {
        if (tw === "date") this.say(el.textContent || "Not available");
        return;
      }
      if (el.type === "submit") return; // the form's submit handler moves on
      const action = el.getAttribute("data-action");
      if (tw === "segment-tab") {
        const key = el.getAttribute("data-segment");
        if (key === s.segment && s.offers) return;
        if (s.step === "segment") {
          s.segment = key;
          this.applyTheme();
          this.send("segment_selected");
          this.render();
          this.root.querySelector(`[data-segment="${CSS_escape(key)}"]`).focus();
        } else {
          this.load("Loading packages…", async () => {
            await this.chooseSegment(key);
            this.send("tier_comparison_viewed");
          }).then(() => {
            const tab = this.root.querySelector(`[data-tw=segment-tab][aria-selected=true]`);
            if (tab) tab.focus();
          });
        }
      } else if (tw === "select") {
        s.tierId = el.getAttribute("data-tier-id");
        s.upsellDecided = null;
        this.say(`${el.getAttribute("data-tier-name")} chosen`);
        this.next();
      } else if (tw === "fallback") {
        const seg = el.getAttribute("data-segment");
        const day = el.getAttribute("data-date");
        const tier = el.getAttribute("data-tier-id");
        this.load("Loading the alternative…", async () => {
          if (day) s.date = day;
          s.month = s.date.slice(0, 7);
          s.calendar = null;
          if (seg && seg !== s.segment) await this.chooseSegment(seg, false);
          else await this.fetchOffers();
          s.tierId = tier;
          s.upsellDecided = null;
          this.say("Alternative chosen");
          this.go("customize");
        });
      } else if (tw === "next") {
        this.forward();
      } else if (tw === "back") {
        this.back();
      } else if (tw === "date") {
        const day = el.getAttribute("data-date");
        this.load("Updating prices…", async () => {
          s.date = day;
          s.upsellDecided = null;
          await this.fetchOffers();
          this.say(`${this.dayLabel(day, true)} selected`);
        }).then(() => {
          const btn = this.root.querySelector(`[data-tw=date][data-date="${day}"]`);
          if (btn) btn.focus();
        });
      } else if (action === "month") {
        const [y, m] = s.month.split("-").map(Number);
        const d = new Date(Date.UTC(y, m - 1 + Number(el.getAttribute("data-delta")), 1));
        s.month = iso(d).slice(0, 7);
        this.load("Loading available dates…", () => this.fetchCalendar()).then(() => {
          const b = this.root.querySelector(`[data-action=month][data-delta="${el.getAttribute("data-delta")}"]`);
          if (b && !b.disabled) b.focus();
        });
      } else if (tw === "upsell-accept") {
        this.decide("accepted");
      } else if (tw === "upsell-decline") {
        this.decide("declined");
      } else if (action === "retry") {
        if (s.retry) s.retry();
      } else if (action === "requote") {
        this.go("checkout");
        this.requote();
      } else if (action === "decline") {
        this.decide("declined");
      } else if (action && action.startsWith("go:")) {
        const step = action.slice(3);
        if (step === "date") s.calendar = null;
        this.go(step);
      }
    }

    onChange(e) {
      const el = e.target;
      const s = this.s;
      if (el.getAttribute("data-tw") === "addon") {
        if (el.checked) s.addOns.add(el.value);
        else s.addOns.delete(el.value);
      } else if (el.name === "guests") {
        const n = parseInt(el.value, 10);
        if (n >= 1 && n <= 1000) {
          s.guests = n;
          s.calendar = null;
        }
      } else if (["name", "email", "phone"].includes(el.name)) {
        s.contact[el.name] = el.value;
      }
    }

    onKey(e) {
      const el = e.target;
      if (el.getAttribute && el.getAttribute("role") === "tab" && ["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) {
        const tabs = Array.from(this.root.querySelectorAll("[role=tab]"));
        let i = tabs.indexOf(el);
        i = e.key === "Home" ? 0 : e.key === "End" ? tabs.length - 1 : (i + (e.key === "ArrowRight" ? 1 : -1) + tabs.length) % tabs.length;
        tabs[i].focus();
        e.preventDefault();
      }
    }

    // ---- rendering ----------------------------------------------------------------------------
    render() {
      const s = this.s;
      if (!s.step) {
        this.root.setAttribute("aria-busy", s.loading ? "true" : "false");
        this.root.innerHTML = s.error ? this.errorBox() : `<p class="loading">${esc(s.loading || "Loading…")}</p>`;
        return;
      }
      const active = this.shadowRoot.activeElement;
      const onHeading = !!active && active.id === "tw-heading";
      const typing = this.keepTyped(active);
      const body = this["render_" + s.step]();
      this.root.setAttribute("data-step", s.step);
      this.root.setAttribute("aria-labelledby", "tw-heading");
      this.root.setAttribute("aria-busy", s.loading ? "true" : "false");
      const i = STEPS.indexOf(s.step);
      const progress = `<p class="muted">Step ${i + 1} of ${STEPS.length}</p>`;
      this.root.innerHTML =
        `<h2 id="tw-heading" tabindex="-1">${esc(TITLES[s.step])}</h2>${progress}` +
        (s.error ? this.errorBox() : "") +
        (s.loading ? `<p class="loading" data-tw="loading">${esc(s.loading)}</p>` : "") +
        body;
      if (onHeading) this.root.querySelector("h2").focus();
      if (typing) {
        // A redraw (an answer arriving late) leaves the customer typing where they were.
        const input = this.root.querySelector(`input[name="${typing.name}"]`);
        if (input) {
          input.focus();
          if (typing.start !== null) input.setSelectionRange(typing.start, typing.end);
        }
      }
    }

    // What the customer typed into the contact form and no change event has reported yet is kept
    // before a redraw replaces the form; returns the field being typed in, with its caret.
    keepTyped(active) {
      const form = this.root.querySelector("form");
      if (!form) return null;
      for (const name of ["name", "email", "phone"]) {
        const input = form.elements[name];
        if (input) this.s.contact[name] = input.value;
      }
      const field = active && active.name && form.contains(active) && form.elements[active.name] === active;
      if (!field || !["name", "email", "phone"].includes(active.name)) return null;
      let start = null;
      let end = null;
      try {
        start = active.selectionStart;
        end = active.selectionEnd;
      } catch (_) {
        // email inputs have no selection API
      }
      return { name: active.name, start, end };
    }

    errorBox() {
      const [text, action, label] = explain(this.s.error);
      const button = action ? `<button type="button" data-action="${esc(action)}">${esc(label)}</button>` : "";
      return `<div class="alert" data-tw="error" role="alert" data-code="${esc(this.s.error.code)}"><p>${esc(text)}</p>${button}</div>`;
    }

    nav(nextLabel, opts = {}) {
      const back = STEPS.indexOf(this.s.step) > 0 ? `<button type="button" data-tw="back">Back</button>` : "";
      const next = nextLabel
        ? `<button type="${opts.submit ? "submit" : "button"}" data-tw="next"${opts.disabled ? ' aria-disabled="true"' : ""}>${esc(nextLabel)}</button>`
        : "";
      return `<div class="nav">${back}${next}</div>`;
    }

    tabs() {
      const s = this.s;
      const tabs = s.segments
        .map((x) => {
          const on = x.key === s.segment;
          return `<button type="button" role="tab" data-tw="segment-tab" data-segment="${esc(x.key)}" aria-selected="${on}" tabindex="${on ? 0 : -1}">${esc(x.name)}</button>`;
        })
        .join("");
      return `<div class="tabs" role="tablist" aria-label="Experiences">${tabs}</div>`;
    }

    render_segment() {
      const s = this.s;
      if (!s.segments.length) return `<p>Nothing can be booked here right now.</p>`;
      return `${this.tabs()}<p>Choose the kind of experience you would like; you can compare its packages next.</p>${this.nav("See packages")}`;
    }

    breakdown(price, id) {
      const rows = (price.lines || [])
        .map((l) => `<tr><th scope="row">${esc(l.label)}</th><td class="n">${esc(l.code === "base" ? this.money(l.amount) : this.signed(l.amount))}</td></tr>`)
        .join("");
      return `<details data-tw="breakdown"><summary>Price breakdown</summary><table aria-label="Price breakdown"${attr("id", id)}><tbody>${rows}<tr><th scope="row">Total</th><td class="n"><strong>${esc(this.money(price.total))}</strong></td></tr></tbody></table></details>`;
    }

    availabilityText(a) {
      if (a.status === "available") return a.units_left <= 3 ? `Only ${a.units_left} left` : "Available";
      if (a.status === "sold_out") return "Sold out on this date";
      if (a.status === "blacked_out") return "Not offered on this date";
      if (a.status === "party_too_large") return "Too many guests for this package";
      return a.status;
    }

    fallbacks(o) {
      if (!o.fallback || !o.fallback.length) return `<p class="muted">No alternatives right now; try another date.</p>`;
      const items = o.fallback
        .map((f) => {
          const where = f.strategy === "other_segment" ? ` (${esc(f.segment_key)})` : "";
          const label = `${f.tier_name}${where}, ${this.dayLabel(f.service_date)}: ${this.money(f.price.total)}`;
          return `<li><button type="button" data-tw="fallback" data-rank="${f.rank}" data-tier-id="${esc(f.tier_id)}" data-date="${esc(f.service_date)}" data-segment="${esc(f.segment_key)}">${esc(label)}</button><br><span class="muted">${esc(f.reason)}</span></li>`;
        })
        .join("");
      return `<div data-tw="fallbacks"><p>Alternatives:</p><ul class="plain">${items}</ul></div>`;
    }

    card(o) {
      const s = this.s;
      const t = o.tier;
      const bookable = o.availability.status === "available";
      const banner =
        o.upsell && o.upsell.type === "tier" && bookable && o.upsell.placement === "banner"
          ? `<p class="banner" data-tw="upsell-banner">Upgrade to ${esc(o.upsell.tier_name)} for ${esc(this.money(o.upsell.difference))} more</p>`
          : "";
      const guests = s.guests === 1 ? "1 guest" : `${s.guests} guests`;
      return `<article class="card${t.popular ? " popular" : ""}${s.tierId === t.id ? " chosen" : ""}" data-tw="tier-card" data-tier-level="${t.level}" data-tier-id="${esc(t.id)}" aria-labelledby="tw-t${t.level}">
${t.popular ? `<span class="badge" data-tw="popular-badge">Most popular</span>` : ""}
<h3 id="tw-t${t.level}">${esc(t.name)}</h3>
${t.description ? `<p class="muted">${esc(t.description)}</p>` : ""}
<p class="price" data-tw="price">${esc(this.money(o.price.total))}</p>
<p class="muted">for ${guests}, ${esc(this.dayLabel(s.offers.service_date))}</p>
<p class="${bookable ? "muted" : "bad"}" data-tw="availability" data-status="${esc(o.availability.status)}">${esc(this.availabilityText(o.availability))}</p>
${banner}
${this.breakdown(o.price)}
<button type="button" class="primary" data-tw="select" data-tier-id="${esc(t.id)}" data-tier-name="${esc(t.name)}"${bookable ? "" : ' aria-disabled="true"'} aria-label="Choose ${esc(t.name)}">Choose</button>
${bookable ? "" : this.fallbacks(o)}
</article>`;
    }

    features() {
      const c = this.s.comparison;
      if (!c || !c.feature_matrix.length) return "";
      const show = (v) =>
        v === true ? `<span aria-hidden="true">✓</span><span class="sr">Included</span>` : v === false || v === null || v === undefined ? `<span aria-hidden="true">—</span><span class="sr">Not included</span>` : esc(v);
      const head = c.tiers.map((t) => `<th scope="col">${esc(t.name)}</th>`).join("");
      const rows = c.feature_matrix.map((r) => `<tr><th scope="row">${esc(r.label)}</th>${r.values.map((v) => `<td>${show(v)}</td>`).join("")}</tr>`).join("");
      return `<table class="features" data-tw="features"><caption class="sr">What each package includes</caption><thead><tr><th scope="col">Included</th>${head}</tr></thead><tbody>${rows}</tbody></table>`;
    }

    render_tiers() {
      const s = this.s;
      const cards = s.offers ? s.offers.offers.map((o) => this.card(o)).join("") : "";
      return `${this.tabs()}<div role="tabpanel" aria-label="${esc((this.segmentObj() || {}).name || "")} packages"><div class="cards" data-tw="tiers">${cards}</div>${this.features()}</div>${this.nav("Continue", { disabled: !s.tierId })}`;
    }

    render_customize() {
      const s = this.s;
      const o = this.offerOf(s.tierId);
      const c = s.comparison;
      const max = o ? o.tier.max_guests : 1000;
      const addOns = ((c && c.add_ons) || []).filter((a) => !a.tier_ids.length || a.tier_ids.includes(s.tierId));
      const boxes = addOns
        .map((a) => {
          const per = a.pricing === "per_guest" ? " per guest" : "";
          return `<label class="check"><input type="checkbox" data-tw="addon" name="add_on" value="${esc(a.key)}"${s.addOns.has(a.key) ? " checked" : ""}> ${esc(a.name)} (${esc(this.money(a.price.amount, a.price.currency))}${per})</label>`;
        })
        .join("");
      return `<form novalidate><p>${o ? `Package: <strong>${esc(o.tier.name)}</strong>` : ""}</p>
<div class="field"><label for="tw-guests">Guests</label><input id="tw-guests" name="guests" type="number" inputmode="numeric" min="1" max="${max}" value="${s.guests}"></div>
${boxes ? `<fieldset><legend>Add-ons</legend>${boxes}</fieldset>` : ""}
${this.nav("Continue", { submit: true })}</form>`;
    }

    render_date() {
      const s = this.s;
      const cal = s.calendar;
      const o = this.offerOf(s.tierId);
      let grid = "";
      if (cal) {
        const [y, m] = s.month.split("-").map(Number);
        const first = new Date(Date.UTC(y, m - 1, 1));
        const lead = (first.getUTCDay() + 6) % 7; // weeks start on Monday
        const dow = Array.from({ length: 7 }, (_, i) =>
          new Intl.DateTimeFormat(this.locale, { weekday: "short", timeZone: "UTC" }).format(new Date(Date.UTC(2024, 0, 1 + i)))
        );
        const cells = dow.map((d) => `<span class="dow" aria-hidden="true">${esc(d)}</span>`);
        for (let i = 0; i < lead; i++) cells.push("<span></span>");
        for (const day of cal.days) {
          const tier = (day.tiers || []).find((t) => t.tier_id === s.tierId);
          const status = tier ? tier.status : day.status;
          const open = status === "available";
          const why = { sold_out: "sold out", blacked_out: "closed", past: "past", party_too_large: "too many guests" }[status] || status;
          const price = open && day.lowest_price !== null ? this.money(day.lowest_price) : "";
          const label = `${this.dayLabel(day.date, true)}, ${open ? (price ? `from ${price}` : "available") : why}`;
          const num = Number(day.date.slice(8));
          cells.push(
            `<button type="button" data-tw="date" data-date="${day.date}" data-status="${esc(status)}" aria-disabled="${!open}" aria-pressed="${day.date === s.date}"><span class="sr">${esc(label)}</span><span aria-hidden="true">${num}</span><small aria-hidden="true">${esc(open ? price : why)}</small></button>`
          );
        }
        const title = new Intl.DateTimeFormat(this.locale, { month: "long", year: "numeric", timeZone: "UTC" }).format(first);
        grid = `<div class="month"><button type="button" data-action="month" data-delta="-1" aria-label="Previous month">‹</button><h3 aria-live="polite">${esc(title)}</h3><button type="button" data-action="month" data-delta="1" aria-label="Next month">›</button></div><div class="cal" role="group" aria-label="${esc(title)}">${cells.join("")}</div>`;
      }
      let chosen = "";
      if (o) {
        const bookable = o.availability.status === "available";
        chosen = `<div data-tw="selection"><p><strong>${esc(o.tier.name)}</strong>, ${esc(this.dayLabel(s.date, true))}: <span data-tw="price">${esc(this.money(o.price.total))}</span></p>
<p class="${bookable ? "muted" : "bad"}" data-tw="availability" data-status="${esc(o.availability.status)}">${esc(this.availabilityText(o.availability))}</p>
${bookable ? this.breakdown(o.price) : this.fallbacks(o)}</div>`;
      }
      return `${grid}${chosen}${this.nav("Continue", { disabled: !o || o.availability.status !== "available" })}`;
    }

    render_contact() {
      const s = this.s;
      const field = (name, label, type, auto, required) => {
        const bad = s.invalid[name];
        return `<div class="field"><label for="tw-${name}">${esc(label)}${required ? "" : " (optional)"}</label><input id="tw-${name}" name="${name}" type="${type}" autocomplete="${auto}"${required ? " required" : ""} value="${esc(s.contact[name])}"${bad ? ` aria-invalid="true" aria-describedby="tw-${name}-err"` : ""}>${bad ? `<p class="err" id="tw-${name}-err">${esc(bad)}</p>` : ""}</div>`;
      };
      return `<form novalidate>${field("name", "Name", "text", "name", true)}${field("email", "Email", "email", "email", true)}${field("phone", "Phone", "tel", "tel", false)}${this.nav("Continue", { submit: true })}</form>`;
    }

    render_upsell() {
      const o = this.offerOf(this.s.tierId);
      const u = o && o.upsell;
      if (!u) return this.nav("Continue");
      const off = u.percent_off && Number(u.percent_off) > 0 ? ` (${esc(u.percent_off)} % off)` : "";
      let text;
      let gained = "";
      if (u.type === "tier") {
        text = `Upgrade to <strong>${esc(u.tier_name)}</strong> for ${esc(this.money(u.difference))} more${off}: ${esc(this.money(u.total))} in total.`;
        const items = (u.features_gained || []).map((f) => `<li>${esc(f.label)}${f.to === true ? "" : `: ${esc(f.to)}`}</li>`).join("");
        if (items) gained = `<p>You also get:</p><ul>${items}</ul>`;
      } else {
        const addOn = ((this.s.comparison && this.s.comparison.add_ons) || []).find((a) => a.key === u.add_on_key);
        text = `Add <strong>${esc(addOn ? addOn.name : u.add_on_key)}</strong> for ${esc(this.money(u.total))}${off}.`;
      }
      return `<div data-tw="upsell" role="group" aria-labelledby="tw-heading"><p>${text}</p>${gained}<div class="nav"><button type="button" data-tw="back">Back</button><button type="button" data-tw="upsell-decline">No, thanks</button><button type="button" class="primary" data-tw="upsell-accept">Yes, upgrade</button></div></div>`;
    }

    render_checkout() {
      const s = this.s;
      const q = s.quote;
      if (!q) return this.nav(null);
      const offers = (s.offers && s.offers.offers) || [];
      const tier = (offers.find((x) => x.tier.id === q.tier_id) || {}).tier || {};
      const guests = q.guests === 1 ? "1 guest" : `${q.guests} guests`;
      return `<dl data-tw="summary"><dt>Package</dt><dd>${esc(tier.name || "")}</dd><dt>Date</dt><dd>${esc(this.dayLabel(q.service_date, true))}</dd><dt>Guests</dt><dd>${guests}</dd><dt>Total</dt><dd data-tw="price" class="price">${esc(this.money(q.price.total, q.price.currency))}</dd></dl>
${this.breakdown(q.price)}
<p class="muted">You pay on the next page. The price is held until ${esc(new Date(q.expires_at).toLocaleTimeString(this.locale, { hour: "2-digit", minute: "2-digit" }))}.</p>
${this.nav("Continue to payment")}`;
    }
  }

  function CSS_escape(v) {
    return window.CSS && window.CSS.escape ? window.CSS.escape(v) : String(v).replace(/["\\]/g, "\\$&");
  }

  customElements.define("tierwise-storefront", TierwiseStorefront);
})();
