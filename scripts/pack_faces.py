"""Pack FER2013 faces small enough to travel to a GPU machine, and unpack them there as the original CSV.

The GPU machine gets the working tree and nothing beside it, at most 64 MiB (docs/training.md). The dataset's
`.csv.gz` is 85.5 MB; the same faces as raw uint8 arrays compressed with xz are far smaller (the 28,709 Training faces
about 49 MiB). `unpack` writes the Kaggle CSV back byte for byte (the same `emotion,pixels,Usage` lines), so a run on
it records the same data sha256 as one on the decompressed original, and the shipped soft targets match its faces.

    .venv/bin/python scripts/pack_faces.py pack ../shared/data/fer2013.csv.gz .pack/train.npz.xz --usage Training
    python scripts/pack_faces.py unpack .pack/train.npz.xz /tmp/fer2013.csv      # on the GPU machine
"""

from __future__ import annotations

import argparse
import io
import lzma
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training.data import CSV_HEADER, load_fer_csv  # noqa: E402


def pack(data: Path, out: Path, usages: list[str] | None = None) -> int:
    """Write the faces (all of them, or those of `usages`) to `out` as an xz-compressed .npz; returns the count."""
    dataset = load_fer_csv(data)  # every emotion: labels are then the FER2013 codes themselves
    keep = np.isin(dataset.usage, usages) if usages else np.ones(len(dataset), dtype=bool)
    buffer = io.BytesIO()
    np.savez(
        buffer, images=dataset.images[keep], labels=dataset.labels[keep].astype(np.uint8), usage=dataset.usage[keep]
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with lzma.open(out, "wb", preset=9 | lzma.PRESET_EXTREME) as handle:
        handle.write(buffer.getvalue())
    return int(keep.sum())


def unpack(packed: Path, out: Path) -> int:
    """Write the packed faces as a FER2013 CSV; returns the count."""
    with lzma.open(packed, "rb") as handle:
        arrays = np.load(io.BytesIO(handle.read()), allow_pickle=False)  # plain arrays only: nothing to unpickle
        images, labels, usage = arrays["images"], arrays["labels"], arrays["usage"]
    with open(out, "w", newline="\n") as handle:
        handle.write(",".join(CSV_HEADER) + "\n")
        for face, label, use in zip(images, labels, usage):
            handle.write(f"{label},{' '.join(map(str, face.ravel()))},{use}\n")
    return len(labels)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    verbs = p.add_subparsers(dest="verb", required=True)
    packing = verbs.add_parser("pack", help="FER2013 CSV (.csv or .csv.gz) -> .npz.xz")
    packing.add_argument("data", type=Path)
    packing.add_argument("out", type=Path)
    packing.add_argument("--usage", action="append", help="only rows of this Usage (repeat for more)")
    unpacking = verbs.add_parser("unpack", help=".npz.xz -> FER2013 CSV")
    unpacking.add_argument("packed", type=Path)
    unpacking.add_argument("out", type=Path)
    args = p.parse_args(argv)
    if args.verb == "pack":
        n = pack(args.data, args.out, args.usage)
        print(f"{n} faces -> {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB)")
    else:
        n = unpack(args.packed, args.out)
        print(f"{n} faces -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
