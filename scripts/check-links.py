"""Fails on a broken relative link in the project's Markdown: the README, CONTRIBUTING, CHANGELOG
and the book's sources (docs/src). A link must name a file or folder that exists, and its
`#anchor` a heading of the Markdown file it names (by GitHub's rule for heading ids, which
mdBook follows: lower case, punctuation dropped, spaces to hyphens, `-1` on a repeat). A link in
the book must stay inside docs/src, since mdBook publishes nothing else: name a source file in
code (`scripts/test.sh`) instead. Links with a scheme (https:, mailto:) are not followed.

    python3 scripts/check-links.py [FILE.md...]     (default: the files above)
    python3 scripts/check-links.py --html DIR       also: mdBook's heading ids in DIR (the built
                                                    book) are the ones this script computes
    python3 scripts/check-links.py --self-test      shows that it catches each kind of break
"""

import os
import re
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOOK = os.path.join("docs", "src")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def default_files(root):
    files = [name for name in ("README.md", "CONTRIBUTING.md", "CHANGELOG.md") if os.path.isfile(os.path.join(root, name))]
    for folder, _, names in os.walk(os.path.join(root, BOOK)):
        files += [os.path.relpath(os.path.join(folder, n), root) for n in sorted(names) if n.endswith(".md")]
    return sorted(files)


def lines_outside_code(text):
    """(line number, line) for every line outside fenced code blocks, code spans blanked."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, CODE_SPAN.sub(lambda m: m.group(2) if line.lstrip().startswith("#") else "", line)


def slug(heading):
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link reads as its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path, cache={}):
    if path not in cache:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        found, seen = set(), {}
        for _, line in lines_outside_code(text):
            found.update(HTML_ANCHOR.findall(line))
            match = HEADING.match(line)
            if match:
                base = slug(match.group(2))
                count = seen.get(base, 0)
                seen[base] = count + 1
                found.add(base if count == 0 else f"{base}-{count}")
        cache[path] = found
    return cache[path]


def links(text):
    for number, line in lines_outside_code(text):
        for match in INLINE_LINK.finditer(line):
            yield number, match.group(1)
        match = REFERENCE.match(line)
        if match:
            yield number, match.group(1)


def check_file(root, name):
    problems = []
    path = os.path.join(root, name)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    in_book = os.path.commonpath([os.path.abspath(path), os.path.join(root, BOOK)]) == os.path.join(root, BOOK)
    for number, target in links(text):
        if not target or SCHEME.match(target):
            continue
        where = f"{name}:{number}: `{target}`"
        file_part, _, fragment = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        if not os.path.exists(resolved):
            problems.append(f"{where}: no such file or folder ({os.path.relpath(resolved, root)})")
            continue
        if in_book and os.path.commonpath([resolved, os.path.join(root, BOOK)]) != os.path.join(root, BOOK):
            problems.append(f"{where}: leaves the book (docs/src), which mdBook does not publish; name the file in code instead")
            continue
        if fragment:
            if not resolved.endswith(".md"):
                problems.append(f"{where}: an anchor into a file that is not Markdown")
            elif fragment not in anchors(resolved):
                problems.append(f"{where}: no heading `#{fragment}` in {os.path.relpath(resolved, root)}")
    return problems


def check_html(root, html_dir):
    """Every heading id this script computes for a book page is an id in mdBook's page."""
    problems = []
    for name in default_files(root):
        if not name.startswith(BOOK + os.sep) or os.path.basename(name) == "SUMMARY.md":
            continue
        page = os.path.join(html_dir, os.path.relpath(name, BOOK))[: -len(".md")] + ".html"
        if not os.path.isfile(page):
            problems.append(f"{name}: mdBook wrote no {os.path.relpath(page, root)} (is it in SUMMARY.md?)")
            continue
        with open(page, encoding="utf-8") as f:
            ids = set(re.findall(r"<h[1-6] id=\"([^\"]+)\"", f.read()))
        for anchor in sorted(anchors(os.path.join(root, name)) - ids - set(HTML_ANCHOR.findall(open(page).read()))):
            problems.append(f"{name}: mdBook's page has no id `{anchor}` (GitHub's rule gives it): reword the heading")
    return problems


def run(root, files, html_dir=None):
    problems = [p for name in files for p in check_file(root, name)]
    if html_dir:
        problems += check_html(root, html_dir)
    return problems


def self_test():
    """Each kind of break is reported, and a good link of each kind is not."""
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, BOOK, "operating"))
        os.makedirs(os.path.join(root, "scripts"))
        open(os.path.join(root, "scripts", "test.sh"), "w").close()
        files = {
            "README.md": "# Title\n\n## How a `request` flows\n\n"
            "[ok](docs/src/intro.md#the-book) [ok](#how-a-request-flows) [ok](scripts/test.sh)\n"
            "[gone](docs/src/missing.md) [bad anchor](docs/src/intro.md#nowhere)\n"
            "```\n[in code](nowhere.md)\n```\n`[in a span](nowhere.md)` [web](https://example.com/x)\n",
            os.path.join(BOOK, "intro.md"): "# The book\n\n## Twice\n\n## Twice\n\n"
            "[ok](operating/deploy.md#deploying) [ok](#twice-1) [out](../../scripts/test.sh)\n"
            "[ref]: operating/nowhere.md\n",
            os.path.join(BOOK, "operating", "deploy.md"): "# Deploying\n\n[ok](../intro.md) [bad](../intro.md#twice-2)\n",
        }
        for name, text in files.items():
            with open(os.path.join(root, name), "w") as f:
                f.write(text)
        problems = run(root, sorted(files))
        expected = [
            "README.md:6: `docs/src/missing.md`: no such file",
            "README.md:6: `docs/src/intro.md#nowhere`: no heading",
            f"{os.path.join(BOOK, 'intro.md')}:7: `../../scripts/test.sh`: leaves the book",
            f"{os.path.join(BOOK, 'intro.md')}:8: `operating/nowhere.md`: no such file",
            f"{os.path.join(BOOK, 'operating', 'deploy.md')}:3: `../intro.md#twice-2`: no heading",
        ]
        missing = [e for e in expected if not any(p.startswith(e) for p in problems)]
        extra = [p for p in problems if not any(p.startswith(e) for e in expected)]
        for line in missing:
            print(f"self-test: not reported: {line}", file=sys.stderr)
        for line in extra:
            print(f"self-test: reported, but fine: {line}", file=sys.stderr)
        print(f"self-test: {len(expected) - len(missing)} passed, {len(missing) + len(extra)} failed")
        return 1 if missing or extra else 0


def main(args):
    if args == ["--self-test"]:
        return self_test()
    html_dir = None
    if args[:1] == ["--html"]:
        if len(args) < 2:
            print("check-links: --html needs the built book's folder", file=sys.stderr)
            return 2
        html_dir, args = args[1], args[2:]
    files = args or default_files(ROOT)
    problems = run(ROOT, files, html_dir)
    for problem in problems:
        print(problem)
    print(f"links: {len(files)} files checked, {len(problems)} broken")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
