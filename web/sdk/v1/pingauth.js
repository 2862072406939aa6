/*! pingauth widget session kit, SDK v1 (served by pingauth at /sdk/v1/pingauth.js).
 * Signs a Pingstreams / Tiledesk chat-widget visitor in with pingauth tokens
 * and keeps the visitor signed in. Plain ES2017, no dependencies, no build.
 * A released version never changes (pages pin its sha384); see the README. */
(function (root) {
  "use strict";

  var VERSION = "1";

  function noop() {}

  // openStorage keeps the refresh state in localStorage, sessionStorage or
  // memory. Storage that throws (sandboxed pages have an opaque origin,
  // browsers may disable it) falls back to memory.
  function openStorage(kind, key) {
    var area = null;
    if (kind === "local" || kind === "session") {
      try {
        area = kind === "session" ? root.sessionStorage : root.localStorage;
        area.setItem(key + ".probe", "1");
        area.removeItem(key + ".probe");
      } catch (e) {
        area = null;
      }
    }
    var mem = null;
    return {
      kind: area ? kind : "memory",
      get: function () {
        if (area) {
          try {
            var raw = area.getItem(key);
            mem = raw ? JSON.parse(raw) : null; // another tab may have rotated or cleared it
          } catch (e) { /* keep the memory copy */ }
        }
        return mem;
      },
      set: function (v) {
        mem = v;
        if (area) {
          try { area.setItem(key, JSON.stringify(v)); } catch (e) { /* the memory copy still works */ }
        }
      },
      clear: function () {
        mem = null;
        if (area) {
          try { area.removeItem(key); } catch (e) { /* nothing to clear */ }
        }
      }
    };
  }

  // jwtExp reads the exp claim of a compact JWT (0 when unreadable).
  function jwtExp(t) {
    try {
      var p = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      while (p.length % 4) p += "=";
      var exp = JSON.parse(atob(p)).exp;
      return typeof exp === "number" ? exp : 0;
    } catch (e) {
      return 0;
    }
  }

  function httpError(status, body) {
    var d = (body && body.error) || {};
    var e = new Error(d.message || "pingauth answered HTTP " + status);
    e.status = status;
    e.code = d.code || "";
    e.field = d.field || "";
    return e;
  }

  // normalize accepts pingauth's /auth answer ({token, jwt, expires_in, ...})
  // or a bare token string ("eyJ..." or "JWT eyJ...").
  function normalize(res) {
    var raw = typeof res === "string" ? res : (res && (res.token || res.jwt)) || "";
    var token = String(raw).replace(/^JWT\s+/, "");
    if (!token) throw httpError(0, { error: { message: "no token in the answer" } });
    var life = res && typeof res.expires_in === "number" ? res.expires_in : jwtExp(token) - Date.now() / 1000;
    return { token: token, life: Math.max(0, life) };
  }

  function connect(o) {
    if (!o || o.url == null || !o.projectId) throw new TypeError("pingauth.connect needs { url, projectId }");
    var base = String(o.url).replace(/\/+$/, "");
    var authURL = base + "/auth/" + encodeURIComponent(o.projectId);
    var query = o.ticket ? "?example_ticket=" + encodeURIComponent(o.ticket) : "";
    var key = "pingauth:" + o.projectId + "@" + base;
    var store = openStorage(o.storage === undefined ? "local" : o.storage, key);
    var lead = o.refreshBefore == null ? 60 : Math.max(0, Number(o.refreshBefore));
    var recoverDelay = o.recoverDelay == null ? 1000 : Math.max(0, Number(o.recoverDelay));
    var widget = o.widget || function () {
      var t = root.Tiledesk;
      if (typeof t === "function") return t.apply(root, arguments);
    };
    var listeners = typeof o.onChange === "function" ? [o.onChange] : [];
    if (!o.widget && typeof root.Tiledesk !== "function" && root.console) {
      // The widget loader (which defines the window.Tiledesk queue) must run first.
      root.console.warn("pingauth: window.Tiledesk is not defined yet; load the widget snippet before calling pingauth.connect");
    }

    var mode = null; // "password" | "server" | "exchange"
    var source = null; // server / exchange: returns a promise of a token answer
    var current = null; // the answer last handed to the widget (without refresh_token)
    var st = { state: "signed-out", user: null, expiresAt: null, reason: "", error: "", due: false };
    var dueTimer = 0, outTimer = 0, retryTimer = 0, dueAt = 0;
    var widgetOpen = false, widgetLogged = false, handed = false, recovered = false;
    var inflight = null;
    var isOpen = typeof o.isConversationOpen === "function" ? o.isConversationOpen : function () { return widgetOpen; };

    function status() {
      return { state: st.state, user: st.user, expiresAt: st.expiresAt, reason: st.reason, error: st.error, due: st.due,
        mode: mode, storage: store.kind, response: current };
    }

    function emit(patch) {
      for (var k in patch) st[k] = patch[k];
      var s = status();
      listeners.slice().forEach(function (fn) {
        try { fn(s); } catch (e) { setTimeout(function () { throw e; }); }
      });
    }

    function clearTimers() {
      clearTimeout(dueTimer);
      clearTimeout(outTimer);
      clearTimeout(retryTimer);
      dueAt = 0;
    }

    function post(path, body, keepalive) {
      return fetch(authURL + path + query, {
        method: "POST", mode: "cors", credentials: "omit", cache: "no-store", keepalive: !!keepalive,
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
      }).then(function (r) {
        if (r.status === 204) return {};
        return r.json().catch(function () { return {}; }).then(function (b) {
          if (!r.ok) throw httpError(r.status, b);
          return b;
        });
      });
    }

    // withLock serialises refreshes across the tabs sharing the stored
    // credential (Web Locks), so two tabs never present the same one.
    function withLock(fn) {
      var locks = null;
      try { locks = store.kind !== "memory" && root.navigator && root.navigator.locks; } catch (e) { locks = null; }
      if (!locks || typeof locks.request !== "function") return fn();
      var ran = false;
      return locks.request(key, function () { ran = true; return fn(); }).catch(function (e) {
        if (ran) throw e;
        return fn(); // locks unavailable here (e.g. opaque origin)
      });
    }

    function remember(res) {
      store.clear();
      if (res && res.refresh_token) store.set({ v: 1, rt: res.refresh_token, exp: res.refresh_expires_at || "" });
    }

    function useRefresh() {
      return withLock(function () {
        var saved = store.get(); // read under the lock: another tab may have rotated it
        if (!saved || !saved.rt) return Promise.reject(httpError(401, { error: { message: "no refresh credential; sign in again" } }));
        if (saved.exp && Date.parse(saved.exp) <= Date.now()) {
          store.clear();
          return Promise.reject(httpError(401, { error: { message: "refresh token expired; sign in again" } }));
        }
        return post("/refresh", { refresh_token: saved.rt }).then(function (res) {
          remember(res);
          return res;
        }, function (err) {
          if (err.status === 401) store.clear(); // spent, revoked or expired
          throw err;
        });
      });
    }

    function mintNow() {
      if (mode === "password") return useRefresh();
      return Promise.resolve().then(source);
    }

    // hand signs the widget in with a token answer and schedules its re-mint.
    function hand(res) {
      var n = normalize(res);
      var copy = {};
      if (res && typeof res === "object") {
        for (var k in res) if (k !== "refresh_token") copy[k] = res[k];
      }
      copy.token = n.token;
      copy.jwt = "JWT " + n.token;
      current = copy;
      handed = true;
      widgetLogged = false;
      clearTimeout(retryTimer);
      widget("signInWithCustomToken", "JWT " + n.token);
      schedule(n.life);
      emit({ state: "signed-in", user: copy.user || st.user, expiresAt: Date.now() + n.life * 1000, reason: "", error: "", due: false });
    }

    // schedule re-mints refreshBefore seconds (at most half the lifetime)
    // before the token expires.
    function schedule(life) {
      clearTimeout(dueTimer);
      var early = Math.min(lead, life / 2);
      dueAt = Date.now() + Math.max(0, life - early) * 1000;
      dueTimer = setTimeout(onDue, Math.max(0, dueAt - Date.now()));
    }

    function onDue() {
      clearTimeout(dueTimer);
      if (!handed || inflight) return;
      if (isOpen()) {
        // Re-signing in mid-conversation would drop its recipient: wait for
        // the conversation to close, the next open, or a reload.
        if (!st.due) emit({ due: true });
        return;
      }
      remint("expiry").catch(noop);
    }

    function remint(why) {
      if (!mode) return Promise.reject(httpError(0, { error: { message: "not signed in" } }));
      if (inflight) return inflight;
      st.due = false;
      inflight = mintNow().then(function (res) {
        inflight = null;
        hand(res);
        return res;
      }, function (err) {
        inflight = null;
        failed(err, why);
        throw err;
      });
      return inflight;
    }

    function failed(err, why) {
      var code = err && err.status;
      if (code === 401 || code === 403) {
        // The credential (or the site's backend / IdP) no longer vouches for
        // this visitor: the widget session ends too.
        var was = handed;
        handed = false;
        clearTimers();
        if (was || why === "reload") widget("logout");
        emit({ state: "signed-out", reason: "rejected", error: err.message, due: false, expiresAt: null });
        return;
      }
      if (handed) {
        // Network trouble, rate limit or outage: retry while signed in.
        clearTimeout(retryTimer);
        retryTimer = setTimeout(function () { remint("retry").catch(noop); }, 15000);
        emit({ reason: "retrying", error: String(err && err.message || err) });
        return;
      }
      emit({ state: "signed-out", reason: "unavailable", error: String(err && err.message || err), due: false });
    }

    // recover: the widget signed out although we handed it a token — its
    // sign-in answered 401 (expired token) or it dropped the session. Re-mint
    // once and sign in again; a second refusal in a row ends the session.
    function recover() {
      if (widgetLogged || !handed || !mode) return;
      if (recovered) {
        handed = false;
        clearTimers();
        emit({ state: "signed-out", reason: "widget-refused", error: "the chat widget refused the new token", due: false, expiresAt: null });
        return;
      }
      recovered = true;
      remint("401").catch(noop);
    }

    widget("onAuthStateChanged", function (e) {
      var d = (e && e.detail) || e || {};
      clearTimeout(outTimer);
      if (d.isLogged) {
        widgetLogged = true;
        recovered = false;
        return;
      }
      widgetLogged = false;
      // Ignore sign-outs before our first sign-in and after logout(); wait a
      // moment, since a widget switching tokens may sign out and in again.
      if (handed) outTimer = setTimeout(recover, recoverDelay);
    });
    widget("onOpen", function () {
      widgetOpen = true;
      if (st.due) remint("open").catch(noop);
    });
    widget("onClose", function () {
      widgetOpen = false;
      if (st.due) remint("close").catch(noop);
    });
    if (root.document && root.document.addEventListener) {
      // Background tabs delay timers: catch up when the page is shown again.
      root.document.addEventListener("visibilitychange", function () {
        if (!root.document.hidden && handed && dueAt && Date.now() >= dueAt && !st.due) onDue();
      });
    }

    function revokeSaved() {
      var saved = store.get();
      store.clear();
      if (saved && saved.rt) return post("/refresh/revoke", { refresh_token: saved.rt }, true).then(noop, noop);
      return Promise.resolve();
    }

    function password(login, pw) {
      login = String(login == null ? "" : login).trim();
      var body = { password: String(pw == null ? "" : pw), refresh: true };
      if (login.indexOf("@") > 0) body.email = login; else body.username = login;
      revokeSaved(); // a new sign-in replaces the remembered one
      mode = "password";
      source = null;
      emit({ state: "signing-in", reason: "", error: "" });
      return post("", body).then(function (res) {
        remember(res);
        hand(res);
        return current.user;
      }, function (err) {
        if (!handed) emit({ state: "signed-out", reason: "rejected", error: err.message });
        else emit({ state: "signed-in", error: err.message });
        throw err;
      });
    }

    function passwordForm(form, opts) {
      opts = opts || {};
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var f = form.elements;
        var login = (f.namedItem("email") || f.namedItem("username") || {}).value;
        var pw = f.namedItem("password");
        password(login, pw && pw.value).then(function (u) {
          if (pw) pw.value = "";
          if (opts.onSuccess) opts.onSuccess(u);
        }, function (err) {
          if (opts.onError) opts.onError(err);
        });
      });
    }

    function useSource(m, fn) {
      if (typeof fn !== "function") throw new TypeError(m + "() needs a function");
      revokeSaved(); // refresh credentials belong to password sign-ins
      mode = m;
      source = m === "server" ? function () { return Promise.resolve(fn()); } : function () {
        return Promise.resolve(fn()).then(function (idToken) {
          if (!idToken) throw httpError(401, { error: { message: "no ID token from the identity provider" } });
          return post("", { id_token: String(idToken) });
        });
      };
      recovered = false;
      emit({ state: "signing-in", reason: "", error: "" });
      return remint("start").then(function () { return current.user; });
    }

    function logout() {
      mode = null;
      source = null;
      current = null;
      handed = false;
      recovered = false;
      clearTimers();
      var done = revokeSaved();
      widget("logout");
      emit({ state: "signed-out", user: null, expiresAt: null, reason: "logout", error: "", due: false });
      return done;
    }

    var api = {
      version: VERSION,
      // password: sign in with the visitor's login (email or username) and
      // password; later tokens come from the refresh credential.
      password: password,
      // passwordForm: sign in from a form with email (or username) and password fields.
      passwordForm: passwordForm,
      // server: fn asks the site's backend, which calls POST /auth with its API key.
      server: function (fn) { return useSource("server", fn); },
      // exchange: fn returns the ID token of the site's identity provider.
      exchange: function (fn) { return useSource("exchange", fn); },
      refresh: function () { return remint("manual"); },
      logout: logout,
      status: status,
      on: function (fn) {
        listeners.push(fn);
        return function () { listeners = listeners.filter(function (l) { return l !== fn; }); };
      }
    };

    // Start after connect returns, so listeners can use its result.
    Promise.resolve().then(function () {
      if (typeof o.server === "function") return api.server(o.server);
      if (typeof o.exchange === "function") return api.exchange(o.exchange);
      var saved = store.get();
      if (saved && saved.rt) {
        mode = "password"; // a returning visitor: no password needed
        emit({ state: "signing-in", reason: "resume" });
        return remint("reload");
      }
      emit({});
    }).catch(noop);
    return api;
  }

  root.pingauth = { version: VERSION, connect: connect };
})(typeof window !== "undefined" ? window : this);
