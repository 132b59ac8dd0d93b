"""How fast is the printed map book, against Mapnik drawing the same map pages bare.

For the sample campus (``data/samples/lincoln_ridge``, with its synthetic imagery under the
overview) and each paper size, rounds alternate two measurements:

* ``book``: :func:`tiles.book.make_book`, the whole PDF (maps, page furniture, indexes, merge,
  georeferencing);
* ``maps``: the peer, Mapnik drawing only the book's map pages, the same views with the same
  threads (:func:`tiles.book.map_sheet_pdf`), imagery under the overview drawn by Mapnik's
  own raster layer; nothing else. (The book itself places the photo as a JPEG, see
  :mod:`tiles.book_imagery`, which is why it can beat its own maps on large paper.)

Printed per size: pages per book, book pages per second and seconds per book (medians), the
bare maps' pages per second, and the ratio book time / maps time (median of per-round
ratios, so both sides of a ratio are measured seconds apart). The issue's bar: a whole book
for the sample campus in under 3 s.

Run: ``python -m bench.bench_book`` (``make bench``); ``--rounds`` to tune.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from gridmap.model import Campus  # noqa: E402
from importers.campus import import_campus  # noqa: E402
from tiles.book import PAPER_SIZES, RENDER_THREADS, make_book, map_sheet_pdf  # noqa: E402
from tiles.book_sheets import MapSheet, PaperSize, paper_size, plan_map_sheets  # noqa: E402

SAMPLE = REPO / "data" / "samples" / "lincoln_ridge"
#: the issue's bar for a whole book of the sample campus
BOOK_BUDGET_S = 3.0


def sample_imagery(campus: Campus, folder: Path) -> Path | None:
    """The sample's orthophoto prepared as the service stores it (EPSG:3857), or None."""
    source = SAMPLE / "imagery.tif"
    if not source.is_file():
        return None
    try:
        from importers.imagery import prepare_imagery
    except ImportError:
        return None
    prepared = prepare_imagery(source, campus, max_bytes=200 * 2**20)
    path = folder / f"{prepared.digest}.tif"
    path.write_bytes(prepared.data)
    return path


def book(campus: Campus, size: PaperSize, imagery: Path | None) -> bytes:
    """The whole book, as the service makes it."""
    return make_book(campus, size=size, level=None, revision=1, imagery=imagery,
                     printed_on=date.today())


def maps(campus: Campus, sheets: list[MapSheet], imagery: Path | None) -> list[bytes]:
    """The peer: only the book's map pages, drawn the way the book draws them."""
    with ThreadPoolExecutor(RENDER_THREADS) as pool:
        return list(pool.map(lambda s: map_sheet_pdf(campus, s, imagery), sheets))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", nargs="*", default=list(PAPER_SIZES))
    args = parser.parse_args(argv)
    campus = import_campus(SAMPLE / "campus.toml").campus
    with tempfile.TemporaryDirectory(prefix="gridmap-bench-book-") as tmp:
        imagery = sample_imagery(campus, Path(tmp))
        print(f"map book of {campus.id} ({len(campus.units)} rooms, "
              f"{'with' if imagery else 'no'} imagery), {args.rounds} rounds, "
              f"maps drawn {RENDER_THREADS} at a time")
        over = False
        for name in args.sizes:
            size = paper_size(name)
            sheets = plan_map_sheets(campus, size, None)

            from pypdf import PdfReader

            # the first book also warms caches and fonts
            pages = len(PdfReader(io.BytesIO(book(campus, size, imagery))).pages)
            maps(campus, sheets, imagery)
            book_s: list[float] = []
            maps_s: list[float] = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                book(campus, size, imagery)
                t1 = time.perf_counter()
                maps(campus, sheets, imagery)
                t2 = time.perf_counter()
                book_s.append(t1 - t0)
                maps_s.append(t2 - t1)
            per_book = statistics.median(book_s)
            per_maps = statistics.median(maps_s)
            ratio = statistics.median(b / m for b, m in zip(book_s, maps_s, strict=True))
            verdict = "ok" if per_book < BOOK_BUDGET_S else "OVER"
            over |= per_book >= BOOK_BUDGET_S
            print(f"  {size:8} {pages:2d} pages ({len(sheets)} maps): "
                  f"{pages / per_book:6.1f} book pages/s, {per_book:5.2f} s per book "
                  f"[{verdict}, bar {BOOK_BUDGET_S:g} s] | bare Mapnik maps "
                  f"{len(sheets) / per_maps:6.1f} pages/s, {per_maps:5.2f} s | "
                  f"book/maps time {ratio:4.2f}x")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
