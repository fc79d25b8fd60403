"""A corpus of N real source files for the scale benchmark (issue 15 item 5), copied from sources
every machine of this project has:
- the crates of this workspace's Cargo.lock in cargo's registry (`cargo fetch --locked` puts them
  there), Rust; the `windows*` crates are left out: 1,400 files and 180 MB of generated Win32
  bindings that would make any sample holding them a different kind of corpus;
- this machine's Python standard library with its tests and site-packages (copied under `pypi/`,
  and without the stdlib's `venv`: folders named so are pruned as vendored code), Python;
- the JDK's own sources (`src.zip` of a JDK under /usr/lib/jvm), Java.

    python3 bench/scale_corpus.py N DEST

Files are taken package by package (a crate, a top-level Python module or site-package, a Java
package), in an order fixed by a hash of the package's name, so every size is a similar mix of
the three languages and a smaller corpus is a prefix of a bigger one; the last package is cut to
make exactly N files. Only files of the languages the indexer parses and at most 1 MiB (its
default `max_file_bytes`) are taken, so both tools see the same files. Prints the counts per
language.
"""

import hashlib
import os
import sys
import sysconfig
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

EXTENSIONS = {".rs", ".py", ".go", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx", ".java"}
MAX_FILE_BYTES = 1 << 20
SKIP_DIRS = {"__pycache__", ".git", "node_modules", "target"}


def wanted(name: str, size: int) -> bool:
    return Path(name).suffix.lower() in EXTENSIONS and size <= MAX_FILE_BYTES


def directory_package(root: Path):
    """(relative path, reader) of the wanted files under a directory, or of one file."""
    if root.is_file():
        return [(root.name, root.read_bytes)] if wanted(root.name, root.stat().st_size) else []
    found = []
    for top, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(names):
            f = Path(top) / name
            if not f.is_symlink() and wanted(name, f.stat().st_size):
                found.append((str(f.relative_to(root)), f.read_bytes))
    return found


def packages():
    """(package key, lazily listed files) of every package of the three sources."""
    cargo_home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
    for index in sorted((cargo_home / "registry" / "src").glob("*")):
        for crate in sorted(index.iterdir()):
            if crate.is_dir() and not crate.name.startswith("windows"):
                yield f"crates/{crate.name}", lambda c=crate: directory_package(c)
    paths = sysconfig.get_paths()
    for top in sorted(Path(paths["stdlib"]).iterdir()):
        if top.name not in {"site-packages", "__pycache__", "venv"}:
            yield f"python/{top.name}", lambda t=top: directory_package(t)
    if Path(paths["purelib"]).is_dir():
        for top in sorted(Path(paths["purelib"]).iterdir()):
            if top.name != "__pycache__":
                # Not under a folder named site-packages: both tools prune such folders.
                yield f"pypi/{top.name}", lambda t=top: directory_package(t)
    jdk = next(iter(sorted(Path("/usr/lib/jvm").glob("*/lib/src.zip"), reverse=True)), None)
    if jdk:
        archive = zipfile.ZipFile(jdk)
        by_package = defaultdict(list)
        for info in archive.infolist():
            if wanted(info.filename, info.file_size):
                by_package[info.filename.rsplit("/", 1)[0]].append(info)
        for name, infos in sorted(by_package.items()):
            yield f"jdk/{name}", lambda i=infos: [
                (x.filename.rsplit("/", 1)[1], lambda x=x: archive.read(x)) for x in i]


def main() -> None:
    want, dest = int(sys.argv[1]), Path(sys.argv[2])
    order = sorted(packages(), key=lambda p: hashlib.sha1(p[0].encode()).hexdigest())
    taken, langs = 0, Counter()
    for key, listing in order:
        if taken >= want:
            break
        for relative, read in listing():
            if taken >= want:
                break
            target = dest / key / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(read())
            taken += 1
            langs[Path(relative).suffix.lower()] += 1
    if taken < want:
        sys.exit(f"only {taken} source files found, {want} wanted (run `cargo fetch --locked` first)")
    print(" ".join(f"{ext[1:]}={n}" for ext, n in langs.most_common()))


if __name__ == "__main__":
    main()
