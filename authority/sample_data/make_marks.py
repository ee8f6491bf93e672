"""Generate the demo's sample seal (SVG) and emblem (PNG): made up, no real school's marks.

The seal is six characters, 示範大學校印, set in three columns read from the right, their
outlines taken from the system's Noto Serif CJK Bold and written as SVG paths (so the renderer
needs no font to draw it), inside a double square frame. The emblem is a ring with the school's
made-up initials and a star, drawn with Pillow.

    .venv/bin/python authority/sample_data/make_marks.py
"""

from __future__ import annotations

import math
from pathlib import Path

from fontTools.pens.svgPathPen import SVGPathPen
from fontTools.pens.transformPen import TransformPen
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).parent
BOLD = Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc")
SEAL_RED = "#b22222"
EMBLEM_BLUE = (22, 52, 110, 255)


def seal_svg(text: str = "示範大學校印", size: int = 1000) -> str:
    """The seal: columns of two characters from the right, each glyph filling its cell."""
    font = TTFont(BOLD, fontNumber=3, lazy=True)
    glyphs = font.getGlyphSet()
    cmap = font.getBestCmap()
    units = font["head"].unitsPerEm
    frame, inner, pad = 60.0, 90.0, 120.0
    cell_w = (size - 2 * pad) / 3
    cell_h = (size - 2 * pad) / 2
    paths = []
    for n, char in enumerate(text):
        column, row = divmod(n, 2)
        x0 = size - pad - (column + 1) * cell_w
        y0 = pad + row * cell_h
        # Glyph units (y up, baseline at 0, about -120..880) to the cell (y down), stretched
        # taller as seal script is.
        sx, sy = cell_w / units * 1.06, cell_h / units * 1.0
        pen = SVGPathPen(glyphs)
        transform = (sx, 0, 0, -sy, x0 - 0.03 * cell_w, y0 + 0.88 * cell_h)
        glyphs[cmap[ord(char)]].draw(TransformPen(pen, transform))
        paths.append(f'<path d="{pen.getCommands()}"/>')
    font.close()
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'width="{size}" height="{size}">\n'
        f'<rect x="{frame / 2}" y="{frame / 2}" width="{size - frame}" height="{size - frame}" '
        f'fill="none" stroke="{SEAL_RED}" stroke-width="{frame}"/>\n'
        f'<rect x="{inner}" y="{inner}" width="{size - 2 * inner}" height="{size - 2 * inner}" '
        f'fill="none" stroke="{SEAL_RED}" stroke-width="8"/>\n'
        f'<g fill="{SEAL_RED}">\n' + "\n".join(paths) + "\n</g>\n</svg>\n"
    )


def emblem_png(size: int = 360) -> Image.Image:
    """A blue ring with 'N D U' and a five-pointed star: a made-up university's emblem."""
    image = Image.new("LA", (size, size), (255, 0))
    draw = ImageDraw.Draw(image)
    ink = (EMBLEM_BLUE[0],)  # grey level unused: the colour comes from the alpha over blue
    c = size / 2
    draw.ellipse((6, 6, size - 6, size - 6), outline=(*ink, 255), width=14)
    draw.ellipse((34, 34, size - 34, size - 34), outline=(*ink, 255), width=4)
    star = []
    for k in range(10):
        r = size * (0.22 if k % 2 == 0 else 0.09)
        a = -math.pi / 2 + k * math.pi / 5
        star.append((c + r * math.cos(a), c * 0.92 + r * math.sin(a)))
    draw.polygon(star, fill=(*ink, 255))
    font = ImageFont.truetype(str(BOLD), 52, index=3)
    draw.text((c, size * 0.76), "N D U", font=font, fill=(*ink, 255), anchor="mm")
    # Colour it: blue where drawn, transparent elsewhere.
    rgba = Image.new("RGBA", (size, size), EMBLEM_BLUE)
    rgba.putalpha(image.getchannel("A"))
    return rgba.quantize(colors=16, method=Image.Quantize.FASTOCTREE).convert("RGBA")


def main() -> None:
    (HERE / "seal.svg").write_text(seal_svg(), "utf-8")
    emblem_png().save(HERE / "emblem.png", optimize=True)


if __name__ == "__main__":
    main()
