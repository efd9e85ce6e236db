"""`make run`: every service built so far on embedded defaults (SQLite and blobs
under ./data), the gateway on http://127.0.0.1:8000. A service that exits is
started again (sparrow_common.processes.keep_running); Ctrl-C stops them all.

Any CHAIN_* or GATEWAY_* variable in the environment overrides a default."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

from sparrow_common.logs import setup_logging
from sparrow_common.processes import ServiceProcess, grpc_serving, http_ok, keep_running, stop_all
from sparrow_gateway.accounts import Tier, entry, new_key

DATA = Path(os.environ.get("SPARROW_DATA_DIR", "./data")).resolve()


def local_key() -> str:
    """The embedded default's one API key (paid tier), kept in ./data/local-key."""
    path = DATA / "local-key"
    if not path.exists():
        path.write_text(new_key() + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def main() -> int:
    DATA.mkdir(parents=True, exist_ok=True)
    key = local_key()
    chain_port = os.environ.get("CHAIN_PORT", "50051")
    generation_port = os.environ.get("GENERATION_PORT", "50052")
    export_port = os.environ.get("EXPORT_PORT", "50054")
    stems_port = os.environ.get("STEMS_PORT", "50053")
    # Four stems by default, or six (guitar and piano too): the chain offers what the worker loads.
    stems_models = os.environ.get("STEMS_MODELS", "htdemucs,htdemucs_6s")
    analysis_port = os.environ.get("ANALYSIS_PORT", "50055")
    gateway_host = os.environ.get("GATEWAY_HOST", "127.0.0.1")
    gateway_port = os.environ.get("GATEWAY_PORT", "8000")
    defaults = {
        # A terminal reads lines better than JSON; SPARROW_LOG_FORMAT=json for a collector.
        "SPARROW_LOG_FORMAT": "text",
        "CHAIN_PORT": chain_port,
        "CHAIN_DATABASE_URL": f"sqlite:///{DATA / 'sparrow.db'}",
        "CHAIN_BLOB_DIR": str(DATA / "blobs"),
        "CHAIN_GENERATION_ADDR": f"127.0.0.1:{generation_port}",
        "GENERATION_PORT": generation_port,
        "CHAIN_EXPORT_ADDR": f"127.0.0.1:{export_port}",
        "EXPORT_PORT": export_port,
        "CHAIN_STEMS_ADDR": f"127.0.0.1:{stems_port}",
        "STEMS_PORT": stems_port,
        "STEMS_MODEL_DIR": str(DATA / "models" / "demucs"),
        "STEMS_CACHE_DIR": str(DATA / "models" / "demucs-cache"),
        "STEMS_MODELS": stems_models,
        "CHAIN_STEMS_MODELS": stems_models,
        "GATEWAY_STEMS_ADDRS": f"127.0.0.1:{stems_port}",
        "ANALYSIS_PORT": analysis_port,
        "CHAIN_ANALYSIS_ADDR": f"127.0.0.1:{analysis_port}",
        "GATEWAY_PORT": gateway_port,
        "GATEWAY_CHAIN_ADDR": f"127.0.0.1:{chain_port}",
        "GATEWAY_GENERATION_ADDRS": f"127.0.0.1:{generation_port}",
        "GATEWAY_API_KEYS": entry(key, "local", Tier.PAID),
    }
    env = {**defaults, **{k: v for k, v in os.environ.items() if k in defaults}}
    # Its own lines (a service exited, started again) read like the services' beside them;
    # its polls of the gateway while it starts are not worth a line each.
    setup_logging(service="make-run", fmt=env["SPARROW_LOG_FORMAT"])
    logging.getLogger("httpx").setLevel(logging.WARNING)
    services = [
        ServiceProcess("export", "sparrow_export", env),
        ServiceProcess("generation", "sparrow_generation", env),
        ServiceProcess("stems", "sparrow_stems", env),
        ServiceProcess("analysis", "sparrow_analysis", env),
        ServiceProcess("chain", "sparrow_chain", env),
        ServiceProcess("gateway", "sparrow_gateway", env),
    ]
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        # The model loads in the background; the worker reports why if it can't.
        export, generation, stems, analysis, chain, gateway = services
        export.start()
        generation.start()
        stems.start()
        analysis.start()
        chain.start().wait_until(lambda: grpc_serving(f"127.0.0.1:{chain_port}"))
        url = f"http://{gateway_host}:{gateway_port}"
        gateway.start().wait_until(lambda: http_ok(f"{url}/readyz"))
        print(
            f"\nSparrow is running. Open the editor, signed in with your key:\n  {url}/#key={key}\n"
            f"(API docs: {url}/docs; data in {DATA})\n"
            f"MusicGen: {os.environ.get('GENERATION_MODEL', 'facebook/musicgen-small')}; "
            f"{url}/api/gpu says whether it loaded.\n"
            f"Your API key (paid tier; send it as X-API-Key): {key}\nCtrl-C stops it.\n",
            flush=True,
        )
        keep_running(services, lambda: stopping)
        return 0
    finally:
        # All drain at once: one after another, Ctrl-C took 9 s on a busy machine.
        stop_all(reversed(services))


if __name__ == "__main__":
    sys.exit(main())
