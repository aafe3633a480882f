"""``live_app``: ``python app.py ...`` as a subprocess on a free loopback port, for end-to-end tests
(browser, gradio_client, raw HTTP). Waits until the page answers, yields its URL, and always stops
the process; a start failure shows the app's own log. ``screenshot_dir``: where those tests save
screenshots (a temporary folder unless ``TASKVEC_SCREENSHOTS=docs`` asks to refresh the docs')."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def screenshot_dir() -> Path:
    """Where the browser tests save their screenshots: a temporary folder, so a test run leaves the checkout
    as it was; ``TASKVEC_SCREENSHOTS=docs`` refreshes the documentation's (``docs/screenshots``), any other
    value is a folder."""
    want = os.environ.get("TASKVEC_SCREENSHOTS", "")
    if want == "docs":
        path = ROOT / "docs" / "screenshots"
    elif want:
        path = Path(want)
    else:
        path = Path(tempfile.gettempdir()) / "taskvec-screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveApp:
    url: str
    proc: subprocess.Popen
    log: Path


class AppStartError(RuntimeError):
    """app.py exited or did not answer in time; the message ends with its log."""


@contextmanager
def live_app(args: list[str], env: dict | None = None, drop_env: tuple[str, ...] = (), timeout: float = 120,
             log: Path | None = None, cwd: Path = ROOT):
    """Run ``python app.py *args --port P`` offline (HF_HUB_OFFLINE=1) with ``env`` added and ``drop_env``
    removed from the environment; yield a ``LiveApp`` once ``GET /`` answers."""
    port = free_port()
    full = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
    for k in drop_env:
        full.pop(k, None)
    log = Path(log) if log else Path(tempfile.gettempdir()) / f"taskvec-app-{port}.log"
    out = open(log, "w")
    proc = subprocess.Popen([sys.executable, "app.py", *args, "--port", str(port)], cwd=cwd, env=full, stdout=out,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise AppStartError(f"app.py {' '.join(args)} did not start (exit code {proc.poll()}): "
                                        f"{log.read_text(errors='replace')[-2000:]}") from None
                time.sleep(0.5)
        yield LiveApp(url, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        out.close()
