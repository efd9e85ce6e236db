"""The gateway serves the editor itself: page, scripts and wavesurfer.js, no CDN."""

import re

import httpx

from sparrow_common.processes import free_port
from sparrow_gateway.api.routes import web
from sparrow_gateway.config import Settings
from sparrow_gateway.main import create_app


def app():
    return create_app(Settings(chain_addr=f"127.0.0.1:{free_port()}"))


async def get(path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://gateway") as client:
        return await client.get(path)


async def test_the_page_and_everything_it_loads_come_from_the_gateway():
    page = await get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert not re.search(r"""(src|href)=["']https?://""", page.text), "the page must load nothing from elsewhere"
    main = await get("/app/js/main.js")
    assert main.status_code == 200 and "javascript" in main.headers["content-type"]
    for script in web.WEB.glob("js/*.js"):
        for imported in re.findall(r"""from\s+["']([^"']+)["']""", script.read_text()):
            assert imported.startswith("."), f"{script.name} imports {imported} from outside"
    assert (await get("/app/vendor/wavesurfer.esm.js")).status_code == 200
    # Its icon too: a browser asks /favicon.ico (a 404 on every load) unless the page names one.
    (icon,) = re.findall(r'<link rel="icon" href="([^"]+)"', page.text)
    served = await get(icon)
    assert served.status_code == 200 and served.headers["content-type"].startswith("image/svg+xml")


async def test_without_the_built_scripts_the_page_says_how_to_build_them(monkeypatch, tmp_path):
    monkeypatch.setattr(web, "VENDOR", tmp_path / "missing.js")
    page = await get("/")
    assert page.status_code == 503 and "make web" in page.text
