"""Report building blocks: GIF/PNG bytes, panels, HTML and Markdown pages."""

import io

import numpy as np
import pytest
from PIL import Image

from monde.report.media import gif_bytes, png_bytes, side_by_side, upscale
from monde.report.page import Media, Section, render_html, render_markdown, write_report


def test_gif_round_trip_frames():
    frames = np.zeros((3, 4, 4, 3), np.uint8)
    frames[1, 0, 0] = (255, 0, 0)
    frames[2] = 128
    gif = Image.open(io.BytesIO(gif_bytes(frames, fps=5)))
    assert gif.n_frames == 3 and gif.info["duration"] == 200
    gif.seek(1)
    assert gif.convert("RGB").getpixel((0, 0)) == (255, 0, 0)
    with pytest.raises(ValueError, match="uint8 frames"):
        gif_bytes(np.zeros((0, 4, 4, 3), np.uint8))


def test_png_panels_and_upscale():
    img = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png_bytes(img)))), img)
    big = upscale(img[None], 2)[0]
    assert big.shape == (4, 4, 3) and (big[:2, :2] == img[0, 0]).all()
    strip = side_by_side([np.zeros((1, 2, 2, 3), np.uint8)] * 3, gap=1)
    assert strip.shape == (1, 2, 8, 3) and (strip[0, :, 2] == 255).all()
    with pytest.raises(ValueError, match="differ in shape"):
        side_by_side([np.zeros((1, 2, 2, 3), np.uint8), np.zeros((1, 3, 2, 3), np.uint8)])


def test_pages_inline_media_and_escape_text(tmp_path):
    png = png_bytes(np.zeros((2, 2, 3), np.uint8))
    sections = [
        Section("A <b>", text="x < y\n\nsecond", table="| k | v |\n|---|---|\n| a | 1 |",
                media=[Media("p.png", png, "cap")]),
    ]  # fmt: skip
    html = render_html("T", sections)
    assert "data:image/png;base64," in html and "A &lt;b&gt;" in html and "x &lt; y" in html
    assert "<td>a</td><td>1</td>" in html and html.count("<p>") == 2
    md = render_markdown("T", sections)
    assert "![cap](media/p.png)" in md and "| a | 1 |" in md
    paths = write_report(tmp_path, "T", sections)
    assert (tmp_path / "media" / "p.png").read_bytes() == png and paths["html"].exists()
    with pytest.raises(ValueError, match="unique"):
        write_report(tmp_path, "T", sections + sections)
    with pytest.raises(ValueError, match="only .png and .gif"):
        render_html("T", [Section("s", media=[Media("v.mp4", b"")])])
