// The login (POST /login) and the first-login password change (POST
// /password), which a session must make before anything else.
import { useState } from "preact/hooks";
import { post } from "../api.js";
import { t } from "../strings.js";

export function Login({ onLogin }) {
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      onLogin(await post("/login", { user, password }));
    } catch (err) {
      setError(err.status === 401 || err.code === "account_locked" ? t("login_failed") : err.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="center">
      <form class="card narrow" onSubmit={submit}>
        <h1>{t("login_title_plain")}</h1>
        <label>
          {t("login_user")}
          <input name="user" autocomplete="username" required value={user} onInput={(e) => setUser(e.target.value)} />
        </label>
        <label>
          {t("login_password")}
          <input name="password" type="password" autocomplete="current-password" required value={password}
            onInput={(e) => setPassword(e.target.value)} />
        </label>
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{t("login_submit")}</button>
      </form>
    </main>
  );
}

export function PasswordChange({ onChanged }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState("");
  const submit = async (e) => {
    e.preventDefault();
    if (next !== again) return setError(t("password_mismatch"));
    try {
      const r = await post("/password", { current_password: current, new_password: next });
      onChanged(r.csrf_token);
    } catch (err) {
      setError(err.message);
    }
  };
  return (
    <main class="center">
      <form class="card narrow" onSubmit={submit}>
        <h1>{t("password_title")}</h1>
        <p>{t("password_why")}</p>
        <label>
          {t("password_current")}
          <input name="current" type="password" autocomplete="current-password" required value={current}
            onInput={(e) => setCurrent(e.target.value)} />
        </label>
        <label>
          {t("password_new")}
          <input name="new" type="password" autocomplete="new-password" required value={next}
            onInput={(e) => setNext(e.target.value)} />
        </label>
        <label>
          {t("password_repeat")}
          <input name="again" type="password" autocomplete="new-password" required value={again}
            onInput={(e) => setAgain(e.target.value)} />
        </label>
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit">{t("password_submit")}</button>
      </form>
    </main>
  );
}
