"""The FastAPI app: routes, auth, errors. Planning runs on one planning thread (per server),
behind a Batcher per model, so the event loop keeps answering while a batch plans.

    GET    /health                       liveness, no token
    GET    /health/ready                 readiness (models loaded), no token
    GET    /openapi.json                 the OpenAPI description
    GET    /metrics                      Prometheus text
    GET    /v1/models                    the served models
    POST   /v1/sessions                  start a session: model name + goal image (+ proprio)
    POST   /v1/sessions/{id}/act         observation (+ proprio) → next action, plan, cost, timing
    DELETE /v1/sessions/{id}             close it
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

import numpy as np
from fastapi import Depends, FastAPI, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer

from monde._version import __version__
from monde.serve.batching import Batcher
from monde.serve.config import ServeConfig
from monde.serve.images import FieldError, TooLarge, decode_image
from monde.serve.metrics import ServeMetrics
from monde.serve.middleware import BodyLimitAndMetrics
from monde.serve.planning import ActCall, ActOutcome, ServedPlanner
from monde.serve.schemas import Act, ActResult, ModelInfo, SessionStarted, StartSession, Timing
from monde.serve.security import authorised
from monde.serve.sessions import SessionBusy, SessionLimit, SessionNotFound, SessionStore

SessionId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
bearer = HTTPBearer(auto_error=False, description="the server's token (MONDE_SERVE_TOKEN)")


class Unauthorised(Exception):
    pass


def model_info(name: str, planner: ServedPlanner) -> ModelInfo:
    m, cfg = planner.model, planner.cfg
    return ModelInfo(
        name=name,
        image_shape=list(planner.image_shape),
        action_dim=m.action_dim,
        env_action_dim=m.action_dim // m.frameskip,
        frameskip=m.frameskip,
        proprio=list(planner.proprio),
        horizon=cfg.horizon,
        receding=cfg.receding,
        solver=cfg.solver,
    )


def _floats(values: list[float] | None, size: int, loc: tuple, what: str) -> np.ndarray | None:
    """A list of `size` finite floats → (size,) float32; None stays None when size is 0."""
    if values is None:
        if size:
            raise FieldError(loc, f"required: this model reads {what} ({size} values)")
        return None
    if len(values) != size:
        raise FieldError(loc, f"{len(values)} values; this model takes {size} ({what})")
    return np.asarray(values, np.float32)


def create_app(cfg: ServeConfig, planners: dict[str, ServedPlanner], token: str) -> FastAPI:
    """The app serving `planners` (name → loaded model) with bearer `token`."""
    metrics = ServeMetrics()
    store = SessionStore(cfg.max_sessions, cfg.session_ttl_s)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monde-plan")
    window, max_batch = (cfg.batch_window_ms / 1000, cfg.max_batch) if cfg.batch else (0.0, 1)
    batchers: dict[str, Batcher[ActCall, ActOutcome]] = {}
    for name, planner in planners.items():
        observe = metrics.batch_size.labels(name).observe
        seconds = metrics.batch_seconds.labels(name).observe
        batchers[name] = Batcher(
            planner.act, executor, window, max_batch,
            on_batch=lambda n, s, observe=observe, seconds=seconds: (observe(n), seconds(s)),
            expected=lambda name=name: store.active(name, within_s=1.0),
        )  # fmt: skip
    ready = {"ok": False}

    async def reap() -> None:
        counted = 0  # store.expired_total also counts sessions found expired on a request
        while True:
            await asyncio.sleep(min(5.0, cfg.session_ttl_s / 2))
            store.expire()
            metrics.sessions_expired.inc(store.expired_total - counted)
            counted = store.expired_total
            metrics.sessions.set(len(store))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        reaper = asyncio.get_running_loop().create_task(reap())
        ready["ok"] = True
        try:
            yield
        finally:
            ready["ok"] = False
            reaper.cancel()
            for batcher in batchers.values():
                await batcher.close()
            executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="Monde planning server",
        version=__version__,
        description="Plans actions toward goal images with a Monde world model (docs/serve.md).",
        lifespan=lifespan,
        openapi_url=None,  # served below, behind the token like every route but health
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(BodyLimitAndMetrics, max_bytes=cfg.max_body_bytes, metrics=metrics)

    async def require_token(request: Request, _: Annotated[object, Depends(bearer)]) -> None:
        if not authorised(request.headers.get("authorization"), token):
            raise Unauthorised()

    auth = [Depends(require_token)]

    @app.exception_handler(Unauthorised)
    async def _unauthorised(request: Request, err: Unauthorised):
        return JSONResponse(
            {"detail": "missing or wrong bearer token"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError):
        # location, message and kind only: the input is not echoed (it may be a NaN, which
        # JSON cannot carry, or megabytes of image)
        detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in err.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(FieldError)
    async def _field(request: Request, err: FieldError):
        detail = [{"loc": list(err.loc), "msg": err.message, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(TooLarge)
    async def _too_large(request: Request, err: TooLarge):
        return JSONResponse({"detail": str(err)}, status_code=413)

    @app.exception_handler(SessionNotFound)
    async def _not_found(request: Request, err: SessionNotFound):
        return JSONResponse({"detail": "unknown or expired session"}, status_code=404)

    @app.exception_handler(SessionLimit)
    async def _limit(request: Request, err: SessionLimit):
        return JSONResponse({"detail": str(err)}, status_code=429)

    @app.exception_handler(SessionBusy)
    async def _busy(request: Request, err: SessionBusy):
        return JSONResponse({"detail": str(err)}, status_code=409)

    @app.get("/health", tags=["health"])
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"], responses={503: {"description": "not ready"}})
    async def readiness() -> JSONResponse:
        ok = ready["ok"]
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    @app.get("/openapi.json", dependencies=auth, include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/metrics", dependencies=auth, response_class=Response)
    async def prometheus() -> Response:
        metrics.sessions.set(len(store))
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models", dependencies=auth)
    async def models() -> list[ModelInfo]:
        return [model_info(name, p) for name, p in planners.items()]

    @app.post("/v1/sessions", dependencies=auth, status_code=201)
    async def start_session(body: StartSession) -> SessionStarted:
        planner = planners.get(body.model)
        if planner is None:
            raise FieldError(("body", "model"), f"unknown model; served: {sorted(planners)}")
        goal = decode_image(body.goal, planner.image_shape, cfg.max_image_bytes, ("body", "goal"))
        what = f"proprioception {list(planner.proprio)}"
        goal_p = _floats(body.goal_proprio, len(planner.proprio), ("body", "goal_proprio"), what)
        store.reserve()  # 429 before any encoding when the server is full
        loop = asyncio.get_running_loop()
        session = await loop.run_in_executor(executor, planner.start, goal, goal_p)
        store.add(session)
        metrics.sessions.set(len(store))
        return SessionStarted(
            session_id=session.id,
            model=model_info(body.model, planner),
            expires_after_s=cfg.session_ttl_s,
        )

    @app.post("/v1/sessions/{session_id}/act", dependencies=auth)
    async def act(session_id: SessionId, body: Act) -> ActResult:
        start = time.perf_counter()
        session = store.get(session_id)
        planner = planners[session.model]
        frame = decode_image(
            body.observation, planner.image_shape, cfg.max_image_bytes, ("body", "observation")
        )
        what = f"proprioception {list(planner.proprio)}"
        proprio = _floats(body.proprio, len(planner.proprio), ("body", "proprio"), what)
        executed = None
        if body.executed is not None:
            a_dim = planner.model.action_dim
            executed = _floats(body.executed, a_dim, ("body", "executed"), "model actions")
        if session.busy:
            raise SessionBusy("an act call of this session is still in flight")
        session.busy = True
        try:
            out = await batchers[session.model].submit(ActCall(session, frame, proprio, executed))
        finally:
            session.busy = False
            session.last_used = store.clock()
        total_ms = 1000 * (time.perf_counter() - start)
        fs = planner.model.frameskip
        return ActResult(
            action=out.action.tolist(),
            env_actions=out.action.reshape(fs, -1).tolist(),
            plan=out.plan.tolist(),
            cost=out.cost,
            replanned=out.replanned,
            step=out.step,
            timing=Timing(
                queue_ms=max(0.0, total_ms - out.plan_ms),
                plan_ms=out.plan_ms,
                total_ms=total_ms,
                batch_size=out.batch_size,
            ),
        )

    @app.delete("/v1/sessions/{session_id}", dependencies=auth, status_code=204)
    async def close_session(session_id: SessionId) -> Response:
        store.remove(session_id)
        metrics.sessions.set(len(store))
        return Response(status_code=204)

    app.state.store, app.state.metrics = store, metrics
    return app
