"""Issue 17 in a real browser: the real analytics.js (@segment/analytics-next, pinned in
tests/browser/package.json) loads its settings from Switchyard instead of Segment's CDN, and the
event it tracks is stored for the write key's source.

A site on another origin (a local static server on 127.0.0.1; the live server is `localhost`)
serves the page and the bundle, so the settings fetch and the event are cross-origin as they are
in production. Every request to any other host is aborted and must not happen at all.
"""

import json
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route

from ingest.models import Event, Source

BUNDLES = Path(__file__).parent / "node_modules" / "@segment" / "analytics-next" / "dist" / "umd"

if not BUNDLES.is_dir():
    pytest.skip(
        "tests/browser/node_modules is missing: `make test` (or `npm ci --prefix tests/browser`) "
        "installs analytics.js",
        allow_module_level=True,
    )

# With the npm package: AnalyticsBrowser.load, the settings fetched from `cdnURL`.
NPM_PAGE = """<!doctype html><title>Shop</title>
<script src="/analytics-next.js"></script>
<script>
  const analytics = AnalyticsNext.AnalyticsBrowser.load({ writeKey: WRITE_KEY, cdnURL: CDN });
  window.tracked = analytics.track("Clicked", { plan: "pro" }).then((ctx) => ctx.event.messageId);
</script>
"""

# The standard snippet (5.2.x), its script hosted by the site, `_cdn` pointed at Switchyard.
SNIPPET_PAGE = """<!doctype html><title>Shop</title>
<script>
!function(){var i="analytics",analytics=window[i]=window[i]||[];if(!analytics.initialize){
analytics.invoked=!0;analytics.methods=["trackSubmit","trackClick","trackLink","trackForm",
"pageview","identify","reset","group","track","ready","alias","debug","page","screen","once",
"off","on","addSourceMiddleware","addIntegrationMiddleware","setAnonymousId",
"addDestinationMiddleware","register"];analytics.factory=function(e){return function(){
if(window[i].initialized)return window[i][e].apply(window[i],arguments);
var n=Array.prototype.slice.call(arguments);
if(["track","screen","alias","group","page","identify"].indexOf(e)>-1){
var c=document.querySelector("link[rel='canonical']");n.push({__t:"bpc",
c:c&&c.getAttribute("href")||void 0,p:location.pathname,u:location.href,s:location.search,
t:document.title,r:document.referrer})}n.unshift(e);analytics.push(n);return analytics}};
for(var n=0;n<analytics.methods.length;n++){var key=analytics.methods[n];
analytics[key]=analytics.factory(key)}analytics.load=function(key,n){
var t=document.createElement("script");t.type="text/javascript";t.async=!0;
t.setAttribute("data-global-segment-analytics-key",i);t.src="/analytics.min.js";
var r=document.getElementsByTagName("script")[0];r.parentNode.insertBefore(t,r);
analytics._loadOptions=n};analytics._writeKey=WRITE_KEY;analytics._cdn=CDN;
analytics.SNIPPET_VERSION="5.2.0";analytics.load(WRITE_KEY);
analytics.track("Clicked",{plan:"pro"});}}();
</script>
"""

PAGES = {"npm": NPM_PAGE, "snippet": SNIPPET_PAGE}


class Site(BaseHTTPRequestHandler):
    """The customer's site: the page and both analytics.js bundles, nothing else."""

    def __init__(self, files: dict[str, tuple[str, bytes]], *args, **kwargs) -> None:
        self.files = files
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        if self.path not in self.files:
            self.send_error(404)
            return
        content_type, body = self.files[self.path]
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def site(live_server, source: Source, request) -> Iterator[str]:
    constants = (
        f"const WRITE_KEY = {json.dumps(source.write_key)}, CDN = {json.dumps(live_server.url)};"
    )
    page = PAGES[request.param].replace("<script>\n", f"<script>\n{constants}\n", 1)
    files = {
        "/": ("text/html", page.encode()),
        "/analytics-next.js": ("text/javascript", (BUNDLES / "index.js").read_bytes()),
        "/analytics.min.js": ("text/javascript", (BUNDLES / "standalone.js").read_bytes()),
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Site, files))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("site", list(PAGES), indirect=True)
def test_analytics_js_loads_its_settings_from_switchyard_and_the_tracked_event_is_stored(
    transactional_db, live_server, source: Source, site: str, page: Page
):
    ours = {urlsplit(live_server.url).netloc, urlsplit(site).netloc}
    elsewhere: list[str] = []
    served: list[str] = []

    def only_ours(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc in ours:
            served.append(url)
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort()

    page.context.route("**/*", only_ours)
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))

    page.goto(site + "/")

    clicked = Event.objects.filter(source=source, type="track", name="Clicked")
    deadline = time.monotonic() + 20
    # Waiting in Playwright, not time.sleep: the route handler runs only while Playwright does.
    while not clicked.exists():
        assert time.monotonic() < deadline, f"nothing stored; errors {errors}, requests {served}"
        page.wait_for_timeout(100)
    event = clicked.get()
    assert event.payload["properties"] == {"plan": "pro"}
    assert f"{live_server.url}/v1/projects/{source.write_key}/settings" in served
    assert f"{live_server.url}/v1/t" in served
    assert elsewhere == []
    assert errors == []
