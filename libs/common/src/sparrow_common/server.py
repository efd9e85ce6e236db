"""gRPC server bootstrap shared by every service.

Each service builds its servicers and calls `start_server`; the server comes up
with grpc.health.v1 (NOT_SERVING until the service says it is ready),
reflection, and the interceptor that maps domain errors to status codes.
`wait_for_shutdown` turns SIGTERM/SIGINT into a graceful stop: health goes
NOT_SERVING first so balancers drain us, then in-flight calls get a grace period.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from sparrow_common import request_id
from sparrow_common.errors import SparrowError
from sparrow_common.metrics import RPC_SECONDS, RPCS

log = logging.getLogger(__name__)

# Audio travels in chunks well below this; the limit only guards against abuse.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
GRPC_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
]
# How often a client pings a quiet connection, in seconds: the one number both
# ends read, so what servers allow is what clients send (every service and
# the gateway, from the same variable).
KEEPALIVE_ENV = "SPARROW_KEEPALIVE_S"
DEFAULT_KEEPALIVE_S = 30.0


def keepalive_s() -> float:
    """Seconds between a client's pings on a quiet connection (SPARROW_KEEPALIVE_S)."""
    raw = os.environ.get(KEEPALIVE_ENV, "")
    try:
        seconds = float(raw) if raw else DEFAULT_KEEPALIVE_S
    except ValueError:
        raise ValueError(f"{KEEPALIVE_ENV} must be a number of seconds, not {raw!r}") from None
    if not seconds > 0:
        raise ValueError(f"{KEEPALIVE_ENV} must be above 0 seconds, not {raw!r}")
    return seconds


def server_options() -> list[tuple[str, int]]:
    """What every server is built with. Servers close each connection after a
    few minutes (calls in flight finish first, for up to an hour), so clients
    resolve a headless Service again and find the pods an autoscaler added.

    Pings: gRPC's default server takes a ping more often than every 5 minutes
    on a connection that sends nothing as a strike, and after two strikes
    answers GOAWAY "too_many_pings" and closes the connection with every call
    on it (an idle event watch broke after 151 s, an export hung 210 s). So
    servers allow pings at half the clients' interval (timers drift; a ping
    that comes early is still welcome), on connections without calls too.
    gRPC core's keepalive doc names the limit GRPC_ARG_HTTP2_MIN_RECV_PING_
    INTERVAL_WITHOUT_DATA_MS; its string is the one below (a server given
    "grpc.http2.min_recv_ping_interval_without_data_ms" still sent GOAWAY
    after 3 s of pings a second: grpcio 1.85, measured)."""
    keepalive_ms = int(keepalive_s() * 1000)
    return [
        *GRPC_OPTIONS,
        ("grpc.max_connection_age_ms", 5 * 60 * 1000),
        ("grpc.max_connection_age_grace_ms", 60 * 60 * 1000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", keepalive_ms // 2),
    ]


def _status_code(error: SparrowError) -> grpc.StatusCode:
    return getattr(grpc.StatusCode, error.code_name)


async def _abort_for(error: BaseException, context: grpc.aio.ServicerContext, method: str) -> None:
    if isinstance(error, SparrowError):
        trailers = []
        retry_after = getattr(error, "retry_after_s", None)
        if retry_after is not None:
            trailers.append(("retry-after", str(int(retry_after))))
        if error.reason:
            trailers.append(("reason", error.reason))
        if trailers:
            context.set_trailing_metadata(tuple(trailers))
        await context.abort(_status_code(error), str(error))
    log.exception("unhandled error in %s", method, exc_info=error)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error; the service log has the details")


class _Call:
    """One call as the interceptor sees it: its request id for the logs and its
    outcome for the metrics."""

    def __init__(self, method: str, context: grpc.aio.ServicerContext):
        self.method = method
        self.context = context
        self.code = grpc.StatusCode.OK
        self.started = time.perf_counter()
        self.ended = False
        # grpc.aio runs each call in a task of its own, so this stays with the call.
        request_id.use(request_id.from_metadata(context.invocation_metadata()))

    def failed(self, error: BaseException) -> None:
        # A streaming call whose caller left ends with GeneratorExit.
        if isinstance(error, (asyncio.CancelledError, GeneratorExit)):
            self.code = grpc.StatusCode.CANCELLED
        elif isinstance(error, SparrowError):
            self.code = _status_code(error)
        elif isinstance(error, grpc.aio.AbortError):
            self.code = self.context.code() or grpc.StatusCode.UNKNOWN
        else:
            self.code = grpc.StatusCode.INTERNAL

    def end(self) -> None:
        """Count and time the call, once."""
        if self.ended:
            return
        self.ended = True
        code = self.code.name if isinstance(self.code, grpc.StatusCode) else str(self.code)
        RPCS.labels(self.method, code).inc()
        RPC_SECONDS.labels(self.method).observe(time.perf_counter() - self.started)


class DomainErrorInterceptor(grpc.aio.ServerInterceptor):
    """Maps SparrowError subclasses to their status codes, and logs anything else
    and answers INTERNAL without leaking the traceback. It also takes the caller's
    request id for the call's logs, and counts and times every call."""

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method

        def unary_response(behavior):
            async def wrapped(request, context):
                call = _Call(method, context)
                try:
                    return await behavior(request, context)
                except (grpc.aio.AbortError, asyncio.CancelledError) as error:
                    call.failed(error)
                    raise
                except Exception as error:  # noqa: BLE001 - mapped, logged
                    call.failed(error)
                    call.end()  # before the status goes out: a caller who saw it finds it counted
                    await _abort_for(error, context, method)
                finally:
                    call.end()

            return wrapped

        def stream_response(behavior):
            if not inspect.isasyncgenfunction(behavior):
                # A handler that streams with context.write(), like health's Watch.
                return unary_response(behavior)

            async def wrapped(request, context):
                call = _Call(method, context)
                try:
                    async for response in behavior(request, context):
                        yield response
                except (grpc.aio.AbortError, asyncio.CancelledError, GeneratorExit) as error:
                    call.failed(error)
                    raise
                except Exception as error:  # noqa: BLE001 - mapped, logged
                    call.failed(error)
                    call.end()  # before the status goes out: a caller who saw it finds it counted
                    await _abort_for(error, context, method)
                finally:
                    call.end()

            return wrapped

        kwargs = dict(
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(unary_response(handler.unary_unary), **kwargs)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(unary_response(handler.stream_unary), **kwargs)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(stream_response(handler.unary_stream), **kwargs)
        return grpc.stream_stream_rpc_method_handler(stream_response(handler.stream_stream), **kwargs)


@dataclass
class RunningServer:
    """A started server, its health servicer and the port it bound."""

    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int
    service_names: tuple[str, ...]

    async def set_serving(self, serving: bool) -> None:
        """Report SERVING (or NOT_SERVING) for every service and for the server as a whole."""
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in (*self.service_names, ""):
            await self.health.set(name, status)


async def start_server(
    *,
    host: str,
    port: int,
    register: Callable[[grpc.aio.Server], None],
    service_names: Iterable[str],
    interceptors: Iterable[grpc.aio.ServerInterceptor] = (),
) -> RunningServer:
    """Build and start a grpc.aio server; `port` 0 binds a free port (read it back
    from the result). Health starts NOT_SERVING."""
    server = grpc.aio.server(
        interceptors=[*interceptors, DomainErrorInterceptor()], options=server_options()
    )
    register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = tuple(service_names)
    reflection.enable_server_reflection(
        (*names, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"could not bind {host}:{port}")
    await server.start()
    running = RunningServer(server, health_servicer, bound, names)
    await running.set_serving(False)
    log.info("serving on %s:%d", host, bound)
    return running


async def wait_for_shutdown(
    running: RunningServer,
    grace_s: float,
    before_stop: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT, then stop gracefully: NOT_SERVING first,
    then `before_stop`, then up to `grace_s` seconds for calls in flight."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stopped = asyncio.ensure_future(running.server.wait_for_termination())
    signalled = asyncio.ensure_future(stop.wait())
    await asyncio.wait({stopped, signalled}, return_when=asyncio.FIRST_COMPLETED)
    if signalled.done():
        log.info("stopping: health NOT_SERVING, %.0fs grace", grace_s)
        await running.health.enter_graceful_shutdown()
        if before_stop is not None:
            await before_stop()
        await running.server.stop(grace_s)
    stopped.cancel()
    signalled.cancel()
