"""The Space app (hub/space/app.py) served on 127.0.0.1 against make demo's adapter: through
gradio_client, in a real headless Chromium, with bad input, and without a request leaving the machine."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import REPO


SAMPLE = REPO / "examples" / "sample_conversation.json"
ADAPTER = "tiny-llama-iemocap-lora"
ARTIFACTS = REPO / "output" / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Chromium without its own calls home (each would be refused by a closed network, or leave the machine).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder(BaseHTTPRequestHandler):
    """A proxy that forwards nothing: every request the app sends off the machine lands here."""

    seen: list[str] = []

    def _refuse(self):
        Recorder.seen.append(f"{self.command} {self.path}")
        self.send_error(502, "no network in tests")

    do_GET = do_POST = do_HEAD = do_PUT = do_CONNECT = _refuse

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def recorder():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def serve(cmd: list[str], cwd: Path, env: dict, timeout: float = 240) -> tuple[subprocess.Popen, str]:
    """Start a Gradio app and wait until its page answers."""
    port = free_port()
    env = {**env, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the app exited with {proc.returncode}: {proc.stdout.read()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(1)
    proc.kill()
    raise AssertionError(f"the app did not answer within {timeout} s: {proc.stdout.read()[-3000:]}")


def offline_env(recorder: str) -> dict:
    """The test session's environment, with every off-machine HTTP(S) request sent to the recorder."""
    proxies = dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"), recorder)
    return {
        **os.environ,
        **proxies,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "OMP_NUM_THREADS": "1",
    }


def lines_of(conversation: Path) -> str:
    turns = json.loads(conversation.read_text())["turns"]
    return "\n".join(f"{t['speaker']}: {t['text']}" for t in turns)


@pytest.mark.parametrize(
    "flags, message",
    [([], "no adapter: pass --adapter"), (["--adapter", "/nonexistent/adapter"], "/nonexistent/adapter")],
)
def test_the_app_without_an_adapter_says_so_in_one_line(flags, message):
    env = {k: v for k, v in os.environ.items() if k != "INSTRUCTERC_ADAPTER"}
    run = subprocess.run(
        [sys.executable, "hub/space/app.py", *flags], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr.startswith("error: ") and message in run.stderr and "Traceback" not in run.stderr


@pytest.fixture(scope="module")
def app(quick_demo, recorder):
    adapter = quick_demo / "output" / "hub" / "instructerc" / ADAPTER
    predicted = subprocess.run(
        [sys.executable, "eval/predict.py", "--adapter", str(adapter), "--conversation", str(SAMPLE), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    Recorder.seen.clear()
    proc, url = serve([sys.executable, "hub/space/app.py", "--adapter", str(adapter)], REPO, offline_env(recorder))
    yield {"url": url, "expected": [r["emotion"] for r in json.loads(predicted.stdout)], "adapter": adapter}
    proc.terminate()
    proc.wait(timeout=30)


def test_the_api_gives_what_predict_gives(app):
    from gradio_client import Client, handle_file

    client = Client(app["url"], verbose=False)
    status, table, _plot, rows = client.predict(lines_of(SAMPLE), None, api_name="/recognize")
    assert [r["emotion"] for r in rows] == app["expected"]
    assert status.startswith("12 turns") and table.count('class="turn"') == 12
    for row in rows:
        assert set(row["probabilities"]) == {"happy", "sad", "neutral", "angry", "excited", "frustrated"}
        assert abs(sum(row["probabilities"].values()) - 1) < 1e-6
        assert row["score"] == pytest.approx(max(row["probabilities"].values()), abs=1e-6)
    # the JSON upload (the BYO turn format) gives the same
    _, _, _, uploaded = client.predict("", handle_file(str(SAMPLE)), api_name="/recognize")
    assert [r["emotion"] for r in uploaded] == app["expected"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no turns"),
        ("Ann: hello\nthis line has no speaker", "line 2: expected 'Speaker: text'"),
        ("Ann: " + "very long words " * 3000, "does not fit the model's context"),
    ],
)
def test_bad_input_is_one_message(app, text, message):
    from gradio_client import Client

    status, table, plot, rows = Client(app["url"], verbose=False).predict(text, None, api_name="/recognize")
    assert status.startswith("**error:**") and message in status and "Traceback" not in status
    assert (table, rows) == ("", [])


def test_the_page_in_chromium_shows_every_turn(app):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    requested = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.on("request", lambda request: requested.append(request.url))
        page.goto(app["url"], wait_until="networkidle")
        page.fill("#conversation textarea", lines_of(SAMPLE))
        page.click("#recognize")
        page.wait_for_selector("#emotions td.emotion", timeout=120_000)
        shown = [cell.inner_text().strip() for cell in page.query_selector_all("#emotions td.emotion")]
        page.screenshot(path=str(ARTIFACTS / "space.png"), full_page=True)
        page.fill("#conversation textarea", "nobody said this with a speaker")
        page.click("#recognize")
        page.wait_for_function("document.querySelector('#status').innerText.includes('error')", timeout=60_000)
        status = page.inner_text("#status")
        browser.close()
    assert shown == app["expected"]
    assert "expected 'Speaker: text'" in status and "Traceback" not in status
    assert (ARTIFACTS / "space.png").stat().st_size > 20_000
    off_machine = [u for u in requested if not u.startswith((app["url"], "data:", "blob:"))]
    assert off_machine == []  # fonts, scripts and styles all come from the app itself


def test_no_request_left_the_machine(app, recorder):
    """Everything above ran with the app's HTTP(S) proxy pointed at a recorder that forwards
    nothing; Gradio's analytics and version checks would have reached it."""
    assert Recorder.seen == []
    # the recorder does see what leaves: the HTTP client Gradio and huggingface_hub use, in that environment
    canary = "import httpx\ntry:\n    httpx.get('https://example.com/canary', timeout=10)\n"
    canary += "except httpx.HTTPError:\n    pass"
    subprocess.run([sys.executable, "-c", canary], env=offline_env(recorder), check=True, timeout=60)
    assert Recorder.seen == ["CONNECT example.com:443"]
    Recorder.seen.clear()


@pytest.fixture(scope="module")
def space(quick_demo, hub_server, tmp_path_factory):
    """make demo's adapter pushed with its Space by `hub/push.py --space`, its base model beside it."""
    from instructerc.hub.publish import push_folder

    hub_dir = quick_demo / "output" / "hub" / "instructerc"
    push_folder(
        hub_dir / "tiny-llama", "instructerc/tiny-llama", repo_type="model", private=True, token=hub_server.token
    )
    adapter = shutil.copytree(hub_dir / ADAPTER, tmp_path_factory.mktemp("space") / ADAPTER)
    ids = {"adapter": "instructerc/space-test-lora", "space": "instructerc/space-test-demo", "folder": adapter}
    argv = [
        sys.executable,
        "hub/push.py",
        "--folder",
        str(adapter),
        "--repo-id",
        ids["adapter"],
        "--private",
        "--space",
        ids["space"],
    ]
    env = {**os.environ, "HF_TOKEN": hub_server.token}
    first = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    again = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    return {**ids, "first": first, "again": again, "argv": argv, "env": env}


def test_the_space_repo_is_a_gradio_space_for_the_adapter(hub, space, monkeypatch):
    import importlib.metadata

    from huggingface_hub import SpaceCard

    assert space["first"].returncode == 0, space["first"].stderr[-3000:]
    monkeypatch.setenv("HF_TOKEN", hub.token)
    files = hub.files(space["space"], "space")
    wheel = [name for name in files if name.endswith(".whl")]
    assert len(wheel) == 1 and wheel[0].startswith("instructerc-")
    assert files["app.py"] == (REPO / "hub" / "space" / "app.py").read_bytes()
    assert "examples/sample_conversation.json" in files
    card = SpaceCard(files["README.md"].decode()).data
    assert f"[{space['adapter']}](/{space['adapter']})" in files["README.md"].decode()  # host-relative links
    assert (card.sdk, card.sdk_version, card.app_file) == ("gradio", importlib.metadata.version("gradio"), "app.py")
    assert card.models == [space["adapter"], "instructerc/tiny-llama"] and card.datasets == ["instructerc/iemocap"]
    assert card.license and card.to_dict()["instructerc_sources"] == ["iemocap"]
    assert card.title == "space-test-lora" and len(card.short_description) <= 60
    requirements = files["requirements.txt"].decode().splitlines()
    pins = [line for line in requirements if line and not line.startswith("#")]
    assert pins[0] == f"./{wheel[0]}" and "torch==2.13.0" in pins and all("==" in p for p in pins[1:])
    here = [str(REPO).encode(), str(space["folder"]).encode(), str(Path.home()).encode() + b"/"]
    assert not [name for name, data in files.items() for path in here if path in data and not name.endswith(".whl")]
    adapter_card = hub.files(space["adapter"], "model")["README.md"].decode()
    assert f"(/spaces/{space['space']})" in adapter_card  # host-relative: it links on whichever Hub serves it
    assert "no commit made" in space["again"].stdout and space["again"].stdout.count("no commit made") == 2


def test_a_public_space_over_an_iemocap_adapter_is_refused(hub, space):
    argv = [a for a in space["argv"] if a != "--private"]
    argv[argv.index("--space") + 1] = "instructerc/public-space-test"
    refused = subprocess.run(argv, cwd=REPO, env=space["env"], capture_output=True, text=True)
    assert refused.returncode == 2 and "IEMOCAP" in refused.stderr.upper()
    assert hub.token not in refused.stderr
    assert not hub.has_repo("instructerc/public-space-test", "space")


def test_a_bad_space_id_changes_and_pushes_nothing(hub, space):
    argv = list(space["argv"])
    argv[argv.index("--repo-id") + 1] = "instructerc/never-pushed-lora"
    argv[argv.index("--space") + 1] = "not a repo id"
    card = (space["folder"] / "README.md").read_bytes()
    refused = subprocess.run(argv, cwd=REPO, env=space["env"], capture_output=True, text=True)
    assert refused.returncode == 2 and "--space must look like ORG/NAME" in refused.stderr
    assert (space["folder"] / "README.md").read_bytes() == card
    assert not hub.has_repo("instructerc/never-pushed-lora", "model")


@pytest.mark.slow
def test_the_pushed_space_installs_in_a_fresh_venv_and_serves(hub, space, app, tmp_path, recorder):
    """From the pushed files alone (and the package registries): a new virtual environment installs
    the Space's gradio and requirements.txt, as a Space does, and its app serves the adapter by repo id."""
    import importlib.metadata

    from gradio_client import Client
    from huggingface_hub import snapshot_download

    folder = Path(snapshot_download(space["space"], repo_type="space", token=hub.token, local_dir=tmp_path / "space"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            f"gradio=={importlib.metadata.version('gradio')}",
            "-r",
            "requirements.txt",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env.update(HF_TOKEN=hub.token, HF_HOME=str(tmp_path / "hf-home"), OMP_NUM_THREADS="1")
    proc, url = serve([str(python), "app.py"], folder, env)
    try:
        _, _, _, rows = Client(url, verbose=False).predict(lines_of(SAMPLE), None, api_name="/recognize")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert [r["emotion"] for r in rows] == app["expected"]
