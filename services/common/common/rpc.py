"""RPC proxies whose every call is bounded in time (SPEC, Hardening rules: "Time limits").

``RpcProxy("pricing")`` from here instead of nameko's: a call that gets no reply within
``RPC_TIMEOUT_SECONDS`` (default 10) raises ``ServiceTimeout`` naming the service (the gateway
answers 504) instead of waiting for as long as the service is stalled. A reply that arrives later is
dropped by nameko's reply listener (no caller waits for its correlation id any more).
"""
from __future__ import annotations

import time

import eventlet
from nameko import rpc as nameko_rpc

from common.config import setting
from common.errors import ServiceTimeout

DEFAULT_TIMEOUT = 10.0
DEADLINE = "deadline"  # context key: when the caller stops waiting (Unix seconds)


def expired(context_data: dict, now: float | None = None) -> bool:
    deadline = context_data.get(DEADLINE)
    return deadline is not None and (time.time() if now is None else now) > float(deadline)


class TimedMethod:
    def __init__(self, method: nameko_rpc.MethodProxy, service: str, timeout: float):
        self.method, self.service, self.timeout = method, service, timeout

    def __call__(self, *args, **kwargs):
        self.set_deadline()
        return self.wait(self.method.call_async(*args, **kwargs))

    def set_deadline(self) -> None:
        """The callee is told when its caller stops waiting (``deadline``, Unix seconds, carried in
        the call's context like the request id, so nested calls inherit the earliest); a service
        that gets the call later — it was stalled, or its queue was long — drops it unrun instead
        of doing work nobody waits for, which a client's retry would then do a second time."""
        data = self.method.worker_ctx.data
        deadline = time.time() + self.timeout
        inherited = data.get(DEADLINE)
        data[DEADLINE] = min(deadline, float(inherited)) if inherited else deadline

    def call_async(self, *args, **kwargs):
        return self.method.call_async(*args, **kwargs)

    def wait(self, reply):
        timer = eventlet.Timeout(self.timeout)
        try:
            return reply.result()
        except eventlet.Timeout as exc:
            if exc is not timer:
                raise
            raise ServiceTimeout(f"the {self.service} service did not answer within "
                                 f"{self.timeout:g} s") from None
        finally:
            timer.cancel()


class TimedServiceProxy(nameko_rpc.ServiceProxy):
    def __init__(self, *args, timeout: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.timeout = timeout

    def __getattr__(self, name):
        return TimedMethod(super().__getattr__(name), self.service_name, self.timeout)


class RpcProxy(nameko_rpc.RpcProxy):
    def setup(self):
        super().setup()
        self.timeout = float(setting(self.container.config, "RPC_TIMEOUT_SECONDS", DEFAULT_TIMEOUT))

    def get_dependency(self, worker_ctx):
        return TimedServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener,
                                 timeout=self.timeout, **self.options)
