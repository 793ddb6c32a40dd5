"""Request and response bodies (pydantic; FastAPI derives the OpenAPI description from them).

Images travel as base64 in JSON, either raw uint8 bytes with their shape (H, W, C), or a PNG
file: never as lists of numbers. Proprioception is a short list of finite floats.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
MAX_IMAGE_B64 = 1_000_000  # characters; the byte limit proper is ServeConfig.max_image_bytes


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Image(Strict):
    encoding: Literal["raw", "png"] = Field(
        description="raw: uint8 bytes in (H, W, C) order; png: a PNG file"
    )
    data: str = Field(max_length=MAX_IMAGE_B64, description="base64 of the bytes")
    shape: list[Annotated[int, Field(ge=1, le=4096)]] | None = Field(
        default=None, min_length=3, max_length=3, description="(H, W, C), required for raw"
    )


class StartSession(Strict):
    model: str = Field(max_length=128, description="a name from GET /v1/models")
    goal: Image
    goal_proprio: list[FiniteFloat] | None = Field(
        default=None, max_length=256, description="the goal's proprioception, model order"
    )


class Act(Strict):
    observation: Image
    proprio: list[FiniteFloat] | None = Field(default=None, max_length=256)
    executed: list[FiniteFloat] | None = Field(
        default=None,
        max_length=1024,
        description="the model action executed since the last call; default: the one returned",
    )


class ModelInfo(BaseModel):
    name: str
    image_shape: list[int]
    action_dim: int
    env_action_dim: int
    frameskip: int
    proprio: list[str]
    horizon: int
    receding: int
    solver: str


class SessionStarted(BaseModel):
    session_id: str
    model: ModelInfo
    expires_after_s: float


class Timing(BaseModel):
    queue_ms: float = Field(description="waiting for the batch and the planning thread")
    plan_ms: float = Field(description="encoding and planning of the whole batch")
    total_ms: float
    batch_size: int


class ActResult(BaseModel):
    action: list[float] = Field(description="the next model action (frameskip env actions)")
    env_actions: list[list[float]] = Field(description="the same, as (frameskip, env_action_dim)")
    plan: list[list[float]] = Field(description="the current plan, model actions (H, A)")
    cost: float | None = Field(description="the plan's cost (latent distance to the goal)")
    replanned: bool
    step: int = Field(description="model steps taken in this session, this one included")
    timing: Timing
