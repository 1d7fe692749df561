"""``python -m airflow_live_provider.simulator --port 8999``: run the simulator in the foreground."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading

from airflow_live_provider.simulator.server import (
    FAULT_KINDS,
    SimRequest,
    SimResponse,
    SimulatorServer,
    is_loopback,
)

#: Liveness probe for container health checks (docker-compose.yaml); no vendor has this path.
HEALTH_PATH = "/_simulator/health"


def _health(_req: SimRequest) -> SimResponse:
    """Answer the container health check: the server accepts and routes requests."""
    return SimResponse(200, {"status": "ok"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_live_provider.simulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8999, help="TCP port (0 = any free port)")
    parser.add_argument(
        "--bind",
        default="127.0.0.1",
        help="address to bind: 127.0.0.1 (default), ::1, or with --allow-remote any",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --bind such as 0.0.0.0 (inside a container network only: the "
        "simulator has no real security)",
    )
    parser.add_argument(
        "--fault-rate", type=float, default=0.0, help="fraction of requests that fail retryably"
    )
    parser.add_argument("--fault-kinds", default=",".join(FAULT_KINDS), help="comma-separated fault kinds")
    parser.add_argument("--seed", type=int, default=0, help="random seed for injected faults")
    parser.add_argument(
        "--public-url",
        default=None,
        help="base URL to print in AIRFLOW_CONN_* lines (default: the bound address)",
    )
    parser.add_argument(
        "--polyv-sub-accounts", type=int, default=None, help="number of Polyv group sub-accounts to serve"
    )
    parser.add_argument(
        "--no-polyv-ip-limit",
        action="store_true",
        help="disable Polyv's 1500 requests/10 s IP limit (benchmarks that measure client overhead)",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="delay before every response (a vendor's round trip)"
    )
    args = parser.parse_args(argv)
    kinds = tuple(kind.strip() for kind in args.fault_kinds.split(",") if kind.strip())
    unknown = sorted(set(kinds) - set(FAULT_KINDS))
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is not 0-65535")
    if not is_loopback(args.bind) and not args.allow_remote:
        parser.error(f"--bind {args.bind!r} is not a loopback address; add --allow-remote to mean it")
    if not 0 <= args.fault_rate <= 1:
        parser.error(f"--fault-rate {args.fault_rate} is not a fraction from 0 to 1")
    if unknown or not kinds:
        parser.error(
            f"--fault-kinds: unknown {unknown or 'empty list'}; choose from {', '.join(FAULT_KINDS)}"
        )
    if args.latency_ms < 0 or (args.polyv_sub_accounts is not None and args.polyv_sub_accounts < 0):
        parser.error("--latency-ms and --polyv-sub-accounts must be >= 0")

    try:
        server = SimulatorServer(args.port, host=args.bind, allow_non_loopback=args.allow_remote)
    except OSError as exc:
        parser.error(f"cannot listen on {args.bind}:{args.port}: {exc.strerror or exc}")
    server.routes[("GET", HEALTH_PATH)] = _health
    server.latency = args.latency_ms / 1000
    if args.no_polyv_ip_limit:
        server.polyv.qps_window = None
    if args.polyv_sub_accounts is not None:
        server.polyv.set_sub_account_count(args.polyv_sub_accounts)
    if args.fault_rate:
        server.faults.set_random(args.fault_rate, kinds=kinds, seed=args.seed)
    server.start()
    base_url = args.public_url or server.base_url
    print(f"# vendor simulator listening on {args.bind}:{server.port} (clients use {base_url})", flush=True)
    print("# export these to point Airflow's default connections at it:")
    for name, value in server.connection_env(base_url).items():
        print(f"export {name}={shlex.quote(value)}")
    sys.stdout.flush()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
