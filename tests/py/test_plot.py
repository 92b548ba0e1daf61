"""mprof plot (C, cairo): PNG, SVG and PDF for single runs, FUNC records
(brackets and flame), children, several files and a window. The PNGs are
decoded here and the curves looked for where the data puts them."""
import glob
import os
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib

import pytest

from test_mprof import MPROF, built, mprof  # noqa: F401 (built: builds mprof)

T0 = 1700000000.0
BLACK = (26, 26, 26)        # first curve
BLUE = (0, 115, 178)        # second curve, first child
PURPLE = (117, 66, 158)     # first function (functions have hues no curve uses)
OLIVE = (128, 128, 0)       # second function
GREY = (89, 89, 89)         # the process tree's total
RED = (217, 26, 26)         # the peak lines


def read_png(path):
    """(width, height, rows of (r, g, b)) for 8-bit RGB/RGBA PNGs."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype = ihdr[:4]
    assert depth == 8 and ctype in (2, 6)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    rows, prev, stride = [], bytearray(w * bpp), w * bpp
    for y in range(h):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(w)])
        prev = line
    return w, h, rows


class Geometry:
    def __init__(self, stderr):
        f = [l for l in stderr.splitlines() if l.startswith("geometry ")][0].split()
        self.width, self.height = int(f[1]), int(f[2])
        self.left, self.top, self.right, self.bottom = map(float, f[4:8])
        self.xmin, self.xmax = float(f[9]), float(f[10])
        self.ymin, self.ymax = float(f[12]), float(f[13])

    def px(self, t, mib):
        x = self.left + (t - self.xmin) / (self.xmax - self.xmin) * (self.right - self.left)
        y = self.bottom - (mib - self.ymin) / (self.ymax - self.ymin) * (self.bottom - self.top)
        return int(round(x)), int(round(y))


def plot(tmp_path, *args):
    env = dict(os.environ, MPROF_PLOT_GEOMETRY="1")
    r = subprocess.run([MPROF, "plot"] + list(args), cwd=str(tmp_path), capture_output=True,
                       text=True, env=env, timeout=60)
    return r


def near(rows, x, y, color, radius=3, tol=40):
    for yy in range(y - radius, y + radius + 1):
        for xx in range(x - radius, x + radius + 1):
            if 0 <= yy < len(rows) and 0 <= xx < len(rows[0]):
                if all(abs(a - b) <= tol for a, b in zip(rows[yy][xx], color)):
                    return True
    return False


def write(path, mem=(), children=(), funcs=(), cmdline="python step.py"):
    with open(str(path), "w") as f:
        f.write("CMDLINE %s\n" % cmdline)
        for t, m in mem:
            f.write("MEM %.6f %.4f\n" % (m, T0 + t))
        for pid, series in children:
            for t, m in series:
                f.write("CHLD %d %.6f %.4f\n" % (pid, m, T0 + t))
        for name, m0, t0, m1, t1, level in funcs:
            f.write("FUNC %s %.4f %.4f %.4f %.4f %d\n" % (name, m0, T0 + t0, m1, T0 + t1, level))


STEP = [(i / 10.0, 100.0 if i < 50 else 300.0) for i in range(101)]  # 0..10 s


def test_single_run_png_curve_is_where_the_data_says(tmp_path):
    write(tmp_path / "run.dat", STEP)
    r = plot(tmp_path, "run.dat", "-o", "run.png")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "run.png\n"
    g = Geometry(r.stderr)
    w, h, rows = read_png(str(tmp_path / "run.png"))
    assert (w, h) == (1260, 540) == (g.width, g.height)
    assert g.xmin == 0 and g.xmax >= 10 and g.ymin <= 100 and g.ymax >= 300
    for t, m in [(1, 100), (2.5, 100), (4, 100), (6, 300), (8, 300), (9.9, 300)]:
        assert near(rows, *g.px(t, m), BLACK), (t, m)
    for t, m in [(2.5, 250), (2.5, 200), (7.5, 150), (7.5, 200)]:
        assert not near(rows, *g.px(t, m), BLACK), (t, m)
    # the dashed peak line at 300 MiB, and its vertical at t = 5
    x, y = g.px(2.0, 300)
    assert sum(near(rows, xx, y, RED, radius=1) for xx in range(x - 20, x + 20)) >= 15
    assert near(rows, *g.px(5.0, 200), RED, radius=2)


def test_png_size_follows_scale_and_dpi(tmp_path):
    write(tmp_path / "run.dat", STEP)
    assert plot(tmp_path, "run.dat", "--scale", "2", "-o", "a.png").returncode == 0
    assert read_png(str(tmp_path / "a.png"))[:2] == (2520, 1080)
    r = plot(tmp_path, "run.dat", "--dpi", "45", "-o", "b.png")
    assert r.returncode == 0
    w, h, rows = read_png(str(tmp_path / "b.png"))
    assert (w, h) == (630, 270)
    g = Geometry(r.stderr)
    assert near(rows, *g.px(2.5, 100), BLACK, radius=2, tol=110)  # thin: antialiased grey


def test_svg_and_pdf(tmp_path):
    write(tmp_path / "run.dat", STEP, funcs=[("__main__.f", 100, 1, 300, 8, 0)])
    assert plot(tmp_path, "run.dat", "-o", "run.svg").returncode == 0
    root = ET.parse(str(tmp_path / "run.svg")).getroot()
    assert root.tag.endswith("svg")
    assert root.get("width").startswith("1260") and root.get("height").startswith("540")
    assert len(list(root.iter())) > 50
    assert plot(tmp_path, "run.dat", "-f", "-o", "RUN.PDF").returncode == 0
    pdf = (tmp_path / "RUN.PDF").read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")


def test_function_brackets_and_flame(tmp_path):
    funcs = [("__main__.outer", 100, 1.0, 300, 9.0, 0), ("__main__.inner", 100, 2.0, 300, 6.0, 1)]
    write(tmp_path / "f.dat", STEP, funcs=funcs)
    r = plot(tmp_path, "f.dat", "-o", "br.png")
    assert r.returncode == 0, r.stderr
    g = Geometry(r.stderr)
    _, _, rows = read_png(str(tmp_path / "br.png"))
    assert near(rows, *g.px(1.0, 100), PURPLE, radius=4)    # "[" of outer at its start
    assert near(rows, *g.px(9.0, 300), PURPLE, radius=4)    # "]" at its end
    assert near(rows, *g.px(2.0, 100), OLIVE, radius=4)
    # -n: no function marks
    r = plot(tmp_path, "f.dat", "-n", "-o", "nof.png")
    _, _, rows = read_png(str(tmp_path / "nof.png"))
    assert not near(rows, *g.px(1.0, 100), PURPLE, radius=4)
    # flame: bars in a strip under the plot, one row per level
    r = plot(tmp_path, "f.dat", "-f", "-o", "fl.png")
    assert r.returncode == 0
    g = Geometry(r.stderr)
    _, h, rows = read_png(str(tmp_path / "fl.png"))
    x_mid, _ = g.px(4.0, 0)
    strip = [rows[y][x_mid] for y in range(int(g.bottom) + 4, h)]

    def pale(color):  # the bar fill: the function's colour mixed with white
        return tuple(int(round(255 * (0.45 * c / 255 + 0.55))) for c in color)

    assert sum(1 for c in strip if near([[c]], 0, 0, pale(PURPLE), radius=0, tol=6)) >= 12
    assert sum(1 for c in strip if near([[c]], 0, 0, pale(OLIVE), radius=0, tol=6)) >= 12
    x_out, _ = g.px(9.5, 0)  # after both calls: no bars
    assert all(rows[y][x_out] == (255, 255, 255) for y in range(int(g.bottom) + 8, int(g.bottom) + 40))


def test_children_curves(tmp_path):
    child = [(i / 10.0, 50.0) for i in range(20, 80)]
    write(tmp_path / "c.dat", STEP, children=[(4321, child)])
    r = plot(tmp_path, "c.dat", "-o", "c.png")
    assert r.returncode == 0
    g = Geometry(r.stderr)
    _, _, rows = read_png(str(tmp_path / "c.png"))
    assert near(rows, *g.px(5.0, 50), BLUE)
    assert not near(rows, *g.px(9.0, 50), BLUE)  # the child ended at 7.9 s


def test_brackets_never_share_a_childs_colour_and_touching_calls_both_show(tmp_path):
    child = [(i / 10.0, 150.0) for i in range(101)]
    funcs = [("m.f", 100, 2.0, 100, 4.0, 0), ("m.g", 100, 4.0, 100, 6.0, 0)]
    write(tmp_path / "b.dat", STEP, children=[(4321, child)], funcs=funcs)
    r = plot(tmp_path, "b.dat", "-o", "b.png")
    assert r.returncode == 0, r.stderr
    g = Geometry(r.stderr)
    _, _, rows = read_png(str(tmp_path / "b.png"))
    x, y = g.px(4.0, 100)
    # f's "]" just left of t = 4 and g's "[" just right of it: both visible.
    left = [rows[yy][xx] for yy in range(y - 6, y + 7) for xx in range(x - 5, x)]
    right = [rows[yy][xx] for yy in range(y - 6, y + 7) for xx in range(x + 1, x + 6)]
    assert any(near([[c]], 0, 0, PURPLE, radius=0) for c in left)
    assert any(near([[c]], 0, 0, OLIVE, radius=0) for c in right)
    assert not any(near([[c]], 0, 0, BLUE, radius=0, tol=30) for c in left + right)


def test_children_get_a_total_curve_and_its_peak(tmp_path):
    child = [(i / 10.0, 150.0 if 20 <= i < 40 else 20.0) for i in range(101)]
    write(tmp_path / "t.dat", STEP, children=[(4321, child)])
    r = plot(tmp_path, "t.dat", "-o", "t.png")
    assert r.returncode == 0, r.stderr
    g = Geometry(r.stderr)
    _, _, rows = read_png(str(tmp_path / "t.png"))
    assert g.ymax >= 320                          # main 300 + child 20 at the end
    assert near(rows, *g.px(3.0, 250), GREY, radius=3)    # 100 + 150
    assert near(rows, *g.px(8.0, 320), GREY, radius=3)    # 300 + 20
    # The total's peak (320 MiB) is marked, not the main curve's (300).
    x, y = g.px(1.0, 320)
    assert sum(near(rows, xx, y, RED, radius=1) for xx in range(x - 20, x + 20)) >= 15
    x, y = g.px(1.0, 300)
    assert sum(near(rows, xx, y, RED, radius=0) for xx in range(x - 20, x + 20)) == 0


def test_several_files_overlay_from_their_own_start(tmp_path):
    write(tmp_path / "mprofile_20240101000000.dat", STEP)
    with open(str(tmp_path / "mprofile_20240101000001.dat"), "w") as f:
        for i in range(101):  # starts an hour later: still drawn from 0
            f.write("MEM %.6f %.4f\n" % (200.0, T0 + 3600 + i / 10.0))
    r = plot(tmp_path, "0", "1", "-o", "two.png")
    assert r.returncode == 0, r.stderr
    g = Geometry(r.stderr)
    assert g.xmax < 20
    _, _, rows = read_png(str(tmp_path / "two.png"))
    assert near(rows, *g.px(2.5, 100), BLACK)
    assert near(rows, *g.px(2.5, 200), BLUE)


def test_window(tmp_path):
    write(tmp_path / "run.dat", STEP)
    r = plot(tmp_path, "run.dat", "-w", "6,9", "-o", "w.png")
    assert r.returncode == 0
    g = Geometry(r.stderr)
    assert (g.xmin, g.xmax) == (6, 9)
    assert g.ymin > 100  # only 300 MiB samples are inside: the y range follows
    _, _, rows = read_png(str(tmp_path / "w.png"))
    assert near(rows, *g.px(7.5, 300), BLACK)
    r = plot(tmp_path, "run.dat", "-w", "20,30", "-o", "empty.png")
    assert r.returncode != 0 and "no samples in the window" in r.stderr
    assert not (tmp_path / "empty.png").exists()


def test_slope_draws_a_trend_line(tmp_path):
    write(tmp_path / "s.dat", [(i / 10.0, 10.0 + i) for i in range(101)])
    r = plot(tmp_path, "s.dat", "-s", "-n", "-o", "s.png")
    assert r.returncode == 0
    g = Geometry(r.stderr)
    _, _, rows = read_png(str(tmp_path / "s.png"))
    CYAN = (0, 191, 191)
    hits = sum(near(rows, *g.px(t, 10.0 + 10 * t), CYAN, radius=3) for t in (1, 2, 3, 4, 6, 7, 8))
    assert hits >= 4  # dashed, over the curve


def test_default_output_is_beside_the_data_file(tmp_path):
    os.mkdir(str(tmp_path / "sub"))
    write(tmp_path / "sub" / "mprofile_20240101000000.dat", STEP)
    r = plot(tmp_path / "sub")
    assert r.returncode == 0
    assert r.stdout == "Using last profile data.\nmprofile_20240101000000.dat.png\n"
    assert read_png(str(tmp_path / "sub" / "mprofile_20240101000000.dat.png"))[:2] == (1260, 540)


def test_text_that_is_not_utf8_still_draws(tmp_path):
    (tmp_path / "u.dat").write_bytes(b"CMDLINE caf\xe9 \xff\xfe\nMEM 10 1.0\n"
                                     b"FUNC m.\xe9f 10 1.2 12 1.8 0\nMEM 20 2.0\n")
    r = subprocess.run([MPROF, "plot", "u.dat", "-o", "u.png", "-t", b"bad \xff title"],
                       cwd=str(tmp_path), capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert read_png(str(tmp_path / "u.png"))[:2] == (1260, 540)
    r = plot(tmp_path, "u.dat", "-o", "v.svg")
    assert r.returncode == 0, r.stderr


def test_a_hundred_thousand_function_names(tmp_path):
    """Per-name work is one pass over the calls (it was names x calls: over 60 s)."""
    with open(str(tmp_path / "many.dat"), "w") as f:
        f.write("CMDLINE x\n")
        for i in range(100000):
            f.write("MEM %d %.3f\nFUNC mod%d.sub.f%d 1 %.3f 2 %.3f 0\n"
                    % (10 + i % 50, 1000 + i * 0.01, i, i, 1000 + i * 0.01, 1000 + i * 0.01 + 0.005))
    r = plot(tmp_path, "many.dat", "-o", "many.png")
    assert r.returncode == 0, r.stderr
    assert read_png(str(tmp_path / "many.png"))[:2] == (1260, 540)


def test_an_output_without_extension_gets_png_as_the_reference_did(tmp_path):
    write(tmp_path / "x.dat", STEP)
    r = plot(tmp_path, "x.dat", "-o", "picture")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "picture.png"
    assert read_png(str(tmp_path / "picture.png"))[:2] == (1260, 540)
    assert not (tmp_path / "picture").exists()


@pytest.mark.parametrize("setup,args,code,text", [
    (None, [], 255, "No input file found."),
    ("empty", ["x.dat"], 6, "no memory samples in x.dat"),
    ("garbage", ["x.dat"], 6, "no memory samples in x.dat"),
    ("good", ["x.dat", "-o", "x.gif"], 2, "unknown picture format for x.gif"),
    ("good", ["x.dat", "-o", "/nonexistent/dir/x.png"], 5, "cannot write /nonexistent/dir/x.png"),
    ("good", ["x.dat", "-w", "5"], 2, "must contain two numbers"),
    ("good", ["x.dat", "--scale", "0"], 2, "argument --scale"),
    ("good", ["x.dat", "--frob"], 2, "unrecognized option: --frob"),
])
def test_plot_errors(tmp_path, setup, args, code, text):
    if setup == "empty":
        (tmp_path / "x.dat").write_text("")
    elif setup == "garbage":
        (tmp_path / "x.dat").write_bytes(os.urandom(4096))
    elif setup == "good":
        write(tmp_path / "x.dat", STEP)
    r = plot(tmp_path, *args)
    assert r.returncode == code
    assert text in r.stdout + r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) <= 1
    leftovers = [p for p in glob.glob(str(tmp_path / "*")) if not p.endswith("x.dat")]
    assert leftovers == []  # no partial picture, no temporary file


def test_reference_files_plot(tmp_path):
    """A file in the reference's own layout (index CHLD keys, 6-field FUNC)."""
    with open(str(tmp_path / "ref.dat"), "w") as f:
        f.write("CMDLINE python r.py\n")
        for i in range(50):
            f.write("MEM %.6f %.4f\n" % (20 + i, T0 + i * 0.1))
            f.write("CHLD 0 %.6f %.4f\n" % (5 + i / 2, T0 + i * 0.1))
        f.write("FUNC __main__.f 20.0000 %.4f 60.0000 %.4f 0\n" % (T0 + 0.5, T0 + 4.0))
    r = plot(tmp_path, "ref.dat", "-o", "ref.png")
    assert r.returncode == 0, r.stderr
    g = Geometry(r.stderr)
    _, _, rows = read_png(str(tmp_path / "ref.png"))
    assert near(rows, *g.px(2.0, 40), BLACK)
    assert near(rows, *g.px(2.0, 15), BLUE)


def _scenarios(tmp_path):
    """Data files for each kind of picture: name -> mprof plot arguments."""
    write(tmp_path / "single.dat", STEP)
    write(tmp_path / "funcs.dat", STEP, funcs=[("m.outer", 100, 1.0, 300, 9.0, 0),
                                               ("m.inner", 100, 2.0, 300, 6.0, 1)])
    write(tmp_path / "kids.dat", STEP, children=[(7, [(i / 10.0, 50.0) for i in range(20, 80)])])
    write(tmp_path / "other.dat", [(i / 10.0, 200.0) for i in range(50)])
    return {
        "single": ["single.dat"],
        "brackets": ["funcs.dat"],
        "flame": ["-f", "funcs.dat"],
        "children": ["kids.dat"],
        "several": ["single.dat", "other.dat"],
        "window": ["-w", "2,6", "single.dat"],
    }


@pytest.mark.parametrize("ext", ["png", "svg", "pdf"])
def test_every_kind_of_picture_in_every_format(tmp_path, ext):
    for name, args in _scenarios(tmp_path).items():
        out = "%s.%s" % (name, ext)
        r = plot(tmp_path, *(args + ["-o", out]))
        assert r.returncode == 0, (name, r.stderr)
        data = (tmp_path / out).read_bytes()
        if ext == "png":
            w, h, rows = read_png(str(tmp_path / out))
            assert (w, h) == (1260, 540)
            assert any(px != (255, 255, 255) for row in rows[100:400:20] for px in row[100:900:10])
        elif ext == "svg":
            root = ET.fromstring(data)
            assert root.tag.endswith("svg") and len(list(root.iter())) > 50, name
        else:
            assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF"), name
