"""The bench table's inputs column says what the model read, from its config."""

from monde.bench import _model_inputs


def test_inputs_come_from_the_model_config() -> None:
    assert _model_inputs({"model": {"proprio": [], "in_channels": 3}}) == "rgb"
    # a preset may feed proprioception itself, without `monde bench --inputs`
    assert _model_inputs({"model": {"proprio": ["obs2"], "in_channels": 3}}) == "rgb+proprio"
    assert _model_inputs({"model": {"proprio": ["qpos0"], "in_channels": 4}}) == "rgb+proprio+depth"
    assert _model_inputs({"model": {"in_channels": 4}}) == "rgb+depth"
