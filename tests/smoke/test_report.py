"""`monde report` on a tiny run, and the page in headless Chromium (skipped without Chromium)."""

import base64
import io
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY  # tests/smoke/conftest.py: the tiny budgets of the smoke tests
from PIL import Image, ImageSequence

from monde.config import RunConfig
from monde.config_io import from_dict
from monde.data.collect import collect
from monde.eval.understanding import UnderstandingConfig
from monde.report.build import ReportOptions, build_report
from monde.report.page import Media, Section, write_report
from monde.train.run import train_run

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Chromium not installed (/usr/bin/chromium; apt-get install chromium)",
)


def chromium(page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium on a local page with a fresh profile."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def load_page(page: Path, tmp: Path) -> tuple[int, int, list[str]]:
    """→ (images loaded, images on the page, console messages) after the load event."""
    run = chromium(page, tmp, "--dump-dom")
    found = re.search(r"<title>(\d+)/(\d+) images</title>", run.stdout)
    assert found, f"the page script did not run; stderr: {run.stderr[-2000:]}"
    console = [ln for ln in run.stderr.splitlines() if ":CONSOLE" in ln]
    return int(found[1]), int(found[2]), console


def gif_panels(data: bytes, n: int = 3, gap: int = 2) -> np.ndarray:
    """A GIF of n side-by-side panels → (T, n, Hp, Wp, 3) uint8 (`monde.report.media`)."""
    frames = [
        np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(Image.open(io.BytesIO(data)))
    ]
    video = np.stack(frames)  # (T, Hp, n·Wp + (n−1)·gap, 3)
    w = (video.shape[2] - (n - 1) * gap) // n
    return np.stack([video[:, :, i * (w + gap) : i * (w + gap) + w] for i in range(n)], 1)


def assert_drawn_like(decoded: np.ndarray, true: np.ndarray, what: str) -> None:
    """Decoded panels (T, Hp, Wp, 3) are not blank and resemble the true panels: the bright
    content (the grey wall, the red agent) is drawn, the image has structure, and the overall
    brightness is that of the true frames. An all-black or uniform-grey panel fails."""
    d, t = decoded.astype(float), true.astype(float)
    assert d.max() >= 0.6 * t.max(), f"{what}: brightest decoded pixel {d.max()} of {t.max()}"
    assert d.std() >= 0.4 * t.std(), f"{what}: decoded std {d.std():.1f}, true {t.std():.1f}"
    assert abs(d.mean() - t.mean()) <= 0.5 * t.mean() + 2, (
        f"{what}: means {d.mean():.1f}, {t.mean():.1f}"
    )


def assert_gifs_show_decoded_frames(gifs: dict[str, bytes]) -> None:
    """Rollout GIFs: true | decoded encoded | decoded imagined; planned: real | imagined | goal."""
    assert any(k.startswith("rollout_") for k in gifs) and any(
        k.startswith("planned_") for k in gifs
    )
    for name, data in gifs.items():
        panels = gif_panels(data)  # (T, 3, Hp, Wp, 3)
        decoded = panels[:, 1:3] if name.startswith("rollout_") else panels[:, 1:2]
        for j in range(decoded.shape[1]):
            assert_drawn_like(decoded[:, j], panels[:, 0], f"{name} panel {j + 1}")


def html_gifs(page: str) -> dict[str, bytes]:
    """The GIFs inlined in a report page (its source, or the DOM a browser dumps), named
    rollout_i / planned_i by their captions."""
    found = re.findall(r'<img src="data:image/gif;base64,([^"]+)" alt="([^"]*)"', page)
    kind = lambda alt: "rollout" if alt.startswith("held-out episode") else "planned"  # noqa: E731
    return {f"{kind(alt)}_{i}": base64.b64decode(uri) for i, (uri, alt) in enumerate(found)}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    cfg = from_dict(RunConfig, TINY)
    run = tmp_path_factory.mktemp("run")
    collect(cfg.env, cfg.data, run / "data", progress=False)
    train_run(cfg, run / "data", run, progress=False)
    opts = ReportOptions(
        gif_episodes=1,
        planned_episodes=1,
        decoder_steps=20,
        decoder_frames=200,
        upscale=2,
        understanding=UnderstandingConfig(
            horizon=2, mlp_steps=30, surprise_pairs=4, surprise_kinds=("teleport", "through_wall")
        ),
    )
    paths = build_report(run, opts=opts, progress=False)
    return run, paths


def test_report_files(report):
    run, paths = report
    html = paths["html"].read_text()
    md = paths["markdown"].read_text()
    for title in ("Probes", "Open-loop rollouts", "Surprise", "Planned episodes", "Training"):
        assert title in html and title in md
    assert html.count("data:image/") == 7  # 3 plots + probes + rollout GIF + planned GIF + goals
    for name in re.findall(r"\]\((media/[^)]+)\)", md):
        assert (paths["markdown"].parent / name).stat().st_size > 0
    assert (run / "decoder" / "decoder.safetensors").exists()
    assert '"surprise"' in paths["understanding"].read_text()
    gifs = {p.name: p.read_bytes() for p in (paths["markdown"].parent / "media").glob("*.gif")}
    assert_gifs_show_decoded_frames(gifs)
    assert sorted(html_gifs(html)) == ["planned_1", "rollout_0"]


def test_report_records_held_out_psnr(report):
    """The decoder's held-out reconstruction PSNR is in the JSON, the HTML and the Markdown."""
    from monde.io import read_json

    _, paths = report
    und = read_json(paths["understanding"])
    held_out = und["decoder"]["held_out"]
    phases = ["load", "understanding", "decoder", "figures and rollout GIFs", "planned episodes"]
    assert list(und["report_phases"]) == [*phases, "write"]
    assert all(p["wall_s"] >= 0 and p["cpu_s"] >= 0 for p in und["report_phases"].values())
    assert held_out["frames"] == 3 * 31  # every frame (30 steps + 1) of the 3 held-out episodes
    assert held_out["psnr_db"] > held_out["psnr_db_black"]
    psnr = f"{held_out['psnr_db']:.1f} dB"
    for text in (paths["html"].read_text(), paths["markdown"].read_text()):
        assert "PSNR" in text and psnr in text and "mean training frame" in text


def test_decoder_is_reused_and_a_first_version_decoder_retrained(report, capsys):
    """A saved decoder of these weights is reused; one of the sigmoid format (v1) is not."""
    import json

    from monde.report.build import ensure_decoder, load_run

    run_dir, _ = report
    run = load_run(run_dir, progress=False)
    opts = ReportOptions(decoder_steps=20, decoder_frames=200)
    saved = (run_dir / "decoder" / "decoder.safetensors").read_bytes()
    _, info = ensure_decoder(run, opts, progress=False)
    assert (run_dir / "decoder" / "decoder.safetensors").read_bytes() == saved
    assert capsys.readouterr().out == ""  # reused: nothing trained
    meta_path = run_dir / "decoder" / "decoder.json"
    meta = json.loads(meta_path.read_text())
    meta["format"] = "monde.LatentDecoder/1"
    meta_path.write_text(json.dumps(meta))
    _, again = ensure_decoder(run, opts, progress=False)
    assert "'monde.LatentDecoder/1'" in capsys.readouterr().out
    assert json.loads(meta_path.read_text())["format"] == "monde.LatentDecoder/2"
    assert again["held_out"] == info["held_out"]  # same seed, same data: the same decoder


@needs_chromium
def test_page_renders_in_headless_chromium(report, tmp_path):
    _, paths = report
    loaded, total, console = load_page(paths["html"], tmp_path)
    assert total == 7 and loaded == total
    assert console == []
    dom = chromium(paths["html"], tmp_path, "--dump-dom").stdout  # the GIFs the browser shows
    assert_gifs_show_decoded_frames(html_gifs(dom))
    shot = tmp_path / "shot.png"
    run = chromium(paths["html"], tmp_path, f"--screenshot={shot}", "--window-size=1200,2400")
    assert shot.exists(), run.stderr[-2000:]
    image = Image.open(shot).convert("L")
    assert image.size == (1200, 2400)
    lo, hi = image.getextrema()
    assert hi - lo > 100  # not a blank page


@needs_chromium
def test_chromium_check_catches_broken_images_and_errors(tmp_path):
    """The checks above can fail: a broken image and a script error are both seen."""
    section = Section("bad", media=[Media("x.png", b"not a png")])
    paths = write_report(tmp_path / "bad", "bad", [section])
    page = paths["html"]
    page.write_text(page.read_text().replace("</body>", "<script>nope();</script></body>"))
    loaded, total, console = load_page(page, tmp_path)
    assert (loaded, total) == (0, 1)
    assert any("nope is not defined" in ln for ln in console)


def test_report_cli_names_a_missing_run(tmp_path, capsys):
    from monde.cli import main

    with pytest.raises(SystemExit) as err:
        main(["report", str(tmp_path / "nope"), "--quiet"])
    assert "nope/config.yaml not found" in str(err.value)


def test_report_help_names_the_default_decoder_steps(capsys):
    from monde.cli import main

    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert f"(default {ReportOptions().decoder_steps};" in " ".join(capsys.readouterr().out.split())


def test_understand_cli_writes_json(report, tmp_path):
    from monde.cli import main
    from monde.io import read_json

    run, _ = report
    out = tmp_path / "u.json"
    main(["understand", str(run), "--out", str(out), "--quick", "--horizon", "2", "--pairs", "2"]
         + ["--quiet"])  # fmt: skip
    data = read_json(out)
    assert data["split"] == {**data["split"], "train_episodes": 3, "test_episodes": 3}
    assert len(data["probes"]["predicted_refit"]["mlp"]) == 2
    assert data["probes"]["encoded_angle_parts"] == {"linear": {}, "mlp": {}}  # TwoRoom: no angle
    train_error = data["rollout_error"]["latent_train"]  # beside the held-out error, per step
    assert len(train_error) == len(data["rollout_error"]["latent"]) == 2
    assert all(np.isfinite(x) and x >= 0 for x in train_error)
    assert set(data["surprise"]) == {"teleport", "vanish", "stop", "reverse", "through_wall"}
    assert 0.0 <= data["surprise"]["teleport"]["auroc"] <= 1.0
