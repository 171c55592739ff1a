"""Refresh the screenshots in docs/screenshots/: `.venv/bin/python docs/screenshots.py`.

Runs `manage.py demo` (its own throwaway database, the simulator, the web server and a worker) on free
ports, drives the system Chromium through the main pages as the demo users, and saves PNGs.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from cryptography.fernet import Fernet
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_demo(workdir: Path) -> tuple[subprocess.Popen, str, dict[str, str]]:
    port, sim_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'shots.sqlite3'}",
        "DJANGO_DEBUG": "true",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "AUDIT_HMAC_KEYS": secrets.token_urlsafe(32),
        "DJANGO_LOG_FORMAT": "plain",
        "DJANGO_STATIC_ROOT": str(workdir / "static"),  # the demo collects its static files there
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)  # noqa: S603
    log = workdir / "demo.log"
    proc = subprocess.Popen(  # noqa: S603
        [*manage, "demo", "--addr", f"127.0.0.1:{port}", "--simulator-port", str(sim_port)],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/login/", timeout=1)  # noqa: S310 - loopback
            break
        except OSError:
            time.sleep(0.2)
    passwords = dict(re.findall(r"^  (admin|operator|keyadmin|viewer)\s+(\S+)$", log.read_text(), re.M))
    return proc, url, passwords


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        proc, url, passwords = start_demo(Path(tmp))
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)

                def session(user: str, width: int = 1366):
                    page = browser.new_context(
                        viewport={"width": width, "height": 900}, base_url=url, timezone_id="Europe/Paris"
                    ).new_page()
                    page.goto("/login/")
                    page.get_by_label("Username").fill(user)
                    page.get_by_label("Password").fill(passwords[user])
                    page.get_by_role("button", name="Log in").click()
                    return page

                def shot(page, name: str) -> None:
                    page.screenshot(path=str(OUT / name), full_page=True)
                    print("wrote", OUT / name)

                op = session("operator")
                shot(op, "home-operator.png")
                op.get_by_role("link", name="Audiences").first.click()
                op.get_by_role("link", name="Demo shop (simulator)").click()
                shot(op, "audiences.png")
                op.goto("/delete/?app=1&name=spring-sale-2025")
                shot(op, "confirm.png")
                op.get_by_label("Type the audience name to confirm").fill("spring-sale-2025")
                op.get_by_role("button", name="Delete this audience").click()
                for name in ("demo-flaky", "demo-maintenance"):
                    op.goto(f"/delete/?app=1&name={name}")
                    op.get_by_label("Type the audience name to confirm").fill(name)
                    op.get_by_role("button", name="Delete this audience").click()
                shot(op, "history.png")
                op.goto("/delete/?app=3&name=cep-winback-2025")  # the CEP project
                shot(op, "confirm-cep.png")
                op.goto("/requests/1/")  # second-operator's request, waiting for operator (the two-person rule)
                shot(op, "request.png")
                op.goto("/apps/1/audiences/")
                for n in range(40, 61):
                    op.get_by_label(f"Select campaign-2024-{n:02d}").check()
                op.get_by_role("button", name="Delete the selected audiences…").click()
                shot(op, "bulk-review.png")
                # meanwhile, someone deletes one of them: the job meets a 404, "Not found (already deleted?)"
                other = session("operator")
                other.goto("/delete/?app=1&name=campaign-2024-45")
                other.get_by_label("Type the audience name to confirm").fill("campaign-2024-45")
                other.get_by_role("button", name="Delete this audience").click()
                expect(other.get_by_role("heading", level=1, name="History")).to_be_visible()
                op.get_by_label("Type the number of audiences to delete").fill("21")
                op.get_by_role("button", name="Start deleting").click()
                expect(op.locator("#job-percent")).to_have_text("100% done", timeout=60_000)
                expect(op.get_by_role("button", name="Cancel")).to_have_count(0, timeout=10_000)  # the last poll
                shot(op, "bulk-job.png")
                phone = session("operator", width=390)
                phone.goto("/history/")
                shot(phone, "history-phone.png")
                admin = session("keyadmin")
                admin.goto("/apps/")
                admin.get_by_role("button", name="Test connection of Demo shop (simulator)").click()
                shot(admin, "apps.png")
                keys_phone = session("keyadmin", width=390)
                keys_phone.goto("/apps/")
                shot(keys_phone, "apps-phone.png")
                browser.close()
        finally:
            os.killpg(proc.pid, 2)
            proc.wait(timeout=20)


if __name__ == "__main__":
    main()
