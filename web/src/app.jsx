// The application: who is logged in (GET /me), the header, the navigation
// and the page of the URL's hash (#/alarms). A 401 from any call brings the
// login back; the pages use only the public API.
import { useEffect, useState } from "preact/hooks";
import { get, post, setCsrf, setUnauthorizedHandler } from "./api.js";
import { t } from "./strings.js";
import { setZone } from "./format.js";
import { Login, PasswordChange } from "./pages/login.jsx";
import { Overview } from "./pages/overview.jsx";
import { Devices } from "./pages/devices.jsx";
import { Alarms } from "./pages/alarms.jsx";
import { Ev } from "./pages/ev.jsx";
import { Consumption } from "./pages/consumption.jsx";
import { Trends } from "./pages/trends.jsx";
import { FloorPlans } from "./pages/floorplans.jsx";

const pages = [
  { path: "/", label: "nav_overview", view: Overview },
  { path: "/devices", label: "nav_devices", view: Devices },
  { path: "/alarms", label: "nav_alarms", view: Alarms },
  { path: "/ev", label: "nav_ev", view: Ev },
  { path: "/consumption", label: "nav_consumption", view: Consumption },
  { path: "/trends", label: "nav_trends", view: Trends },
  { path: "/plans", label: "nav_plans", view: FloorPlans },
];

function useHashPath() {
  const read = () => (location.hash.replace(/^#/, "") || "/").split("?")[0];
  const [path, setPath] = useState(read());
  useEffect(() => {
    const on = () => setPath(read());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return path;
}

export function App() {
  const [me, setMe] = useState(undefined); // undefined: not known yet; null: logged out
  const [site, setSite] = useState(null);
  const path = useHashPath();

  useEffect(() => {
    setUnauthorizedHandler(() => setMe(null));
    get("/me")
      .then((m) => {
        setCsrf(m.csrf_token);
        setMe(m);
      })
      .catch(() => setMe(null));
  }, []);
  useEffect(() => {
    if (me && !me.must_change_password)
      get("/site")
        .then((s) => {
          setZone(s.timezone);
          setSite(s);
        })
        .catch(() => {});
  }, [me]);
  useEffect(() => {
    document.title = site ? `${site.name} · gridlet` : "gridlet";
  }, [site]);

  if (me === undefined) return <p class="pad">{t("loading")}</p>;
  if (me === null)
    return (
      <Login
        onLogin={(m) => {
          setCsrf(m.csrf_token);
          setMe(m);
        }}
      />
    );
  if (me.must_change_password)
    return (
      <PasswordChange
        onChanged={(csrf) => {
          setCsrf(csrf);
          setMe({ ...me, must_change_password: false });
        }}
      />
    );

  const page = pages.find((p) => p.path === path) || pages[0];
  const View = page.view;
  const logout = () => post("/logout").finally(() => setMe(null));
  return (
    <>
      <header class="top">
        <a class="brand" href="#/">
          {t("app_name")}
        </a>
        <span class="site" data-test="site-name">
          {site ? site.name : ""}
          {site && <span class="zone"> ({site.timezone})</span>}
        </span>
        <nav aria-label={t("nav_label")}>
          {pages.map((p) => (
            <a href={"#" + p.path} aria-current={p === page ? "page" : undefined}>
              {t(p.label)}
            </a>
          ))}
        </nav>
        <span class="who" data-test="who">
          {t("signed_in_as", { user: me.user, role: t("role_" + me.role) })}
        </span>
        <button type="button" class="link" onClick={logout}>
          {t("logout")}
        </button>
      </header>
      <main id="main">{site ? <View me={me} site={site} /> : <p>{t("loading")}</p>}</main>
    </>
  );
}
