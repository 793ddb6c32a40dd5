"""The bench table's inputs column says what the model read, from its config."""

from monde.bench import _model_inputs


def test_inputs_come_from_the_model_config() -> None:
    assert _model_inputs({"model": {"proprio": [], "in_channels": 3}}) == "rgb"
    # a preset may feed proprioception itself, without `monde bench --inputs`
    assert _model_inputs({"model": {"proprio": ["obs2"], "in_channels": 3}}) == "rgb+proprio"
    assert _model_inputs({"model": {"proprio": ["qpos0"], "in_channels": 4}}) == "rgb+proprio+depth"
    assert _model_inputs({"model": {"in_channels": 4}}) == "rgb+depth"


def test_model_column_names_encoder_predictor_tokens_and_pretraining() -> None:
    from monde.bench import _model_kind

    assert _model_kind({"model": {"predictor": "mlp"}, "train": {}}) == "cnn / mlp"
    grid = {"encoder": "cnn_grid", "latent_tokens": 16, "predictor": "token_transformer"}
    assert _model_kind({"model": grid, "train": {}}) == "cnn_grid (16 tokens) / token_transformer"
    vit = {"model": {"encoder": "vit", "predictor": "gru"},
           "train": {"encoder_init": "runs/p/encoder", "freeze_encoder": True}}  # fmt: skip
    assert _model_kind(vit) == "vit, pretrained frozen / gru"


def test_stacked_frames_are_named_and_their_depth_still_read():
    assert _model_inputs({"env": {"frame_stack": 2}, "model": {"in_channels": 6}}) == (
        "rgb (2 frames)"
    )
    stacked_depth = {"env": {"frame_stack": 2}, "model": {"proprio": ["x"], "in_channels": 8}}
    assert _model_inputs(stacked_depth) == "rgb+proprio+depth (2 frames)"
