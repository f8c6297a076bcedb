"""Rewrites a Lambda zip so that its bytes depend on its entries' names and contents alone.

cargo-lambda stamps the zip entry with the binary's modification time and file mode, so the same
binary built twice gives two zips, two content-addressed S3 keys and a function update on every
deploy. Here every entry gets one fixed time and a mode that keeps only whether it is executable,
and the entries are written in name order with one compression level.

    python3 scripts/pipeline/normalize-zip.py IN.zip OUT.zip
"""

import os
import sys
import zipfile

# The earliest time a zip entry can hold (MS-DOS dates start in 1980).
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
UNIX = 3  # create_system: the mode in the high bits of external_attr is a Unix one


def main(source: str, destination: str) -> None:
    partial = destination + ".partial"
    try:
        with zipfile.ZipFile(source) as given, zipfile.ZipFile(partial, "w") as written:
            for entry in sorted(given.infolist(), key=lambda e: e.filename):
                info, data = normalized(entry, given)
                written.writestr(info, data, compresslevel=9)
        os.replace(partial, destination)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def normalized(entry: zipfile.ZipInfo, given: zipfile.ZipFile) -> tuple:
    info = zipfile.ZipInfo(entry.filename, FIXED_TIME)
    info.create_system = UNIX
    if entry.is_dir():
        info.external_attr = (0o040755 << 16) | 0x10  # and MS-DOS's directory bit
        return info, b""
    executable = (entry.external_attr >> 16) & 0o111
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info, given.read(entry)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: normalize-zip.py IN.zip OUT.zip")
    try:
        main(sys.argv[1], sys.argv[2])
    except (OSError, zipfile.BadZipFile) as error:
        sys.exit(f"groupgate: cannot normalize `{sys.argv[1]}`: {error}")
