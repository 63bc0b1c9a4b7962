"""The README's Python example runs as written, against a store created as the README creates it."""
import os
import re
import subprocess
import sys
import tempfile

from servers import REPOSITORY, lshc, serve


def readme_example() -> str:
    with open(os.path.join(REPOSITORY, "README.md"), encoding="utf-8") as f:
        section = f.read().split("## From Python", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def readme_create_arguments() -> list:
    with open(os.path.join(REPOSITORY, "README.md"), encoding="utf-8") as f:
        section = f.read().split("## From Python", 1)[1].split("\n## ", 1)[0]
    line = re.search(r"^lshc create --store \S+ (.*)$", section, re.M).group(1)
    return line.split()


def test_the_readme_example_runs_as_written() -> None:
    with tempfile.TemporaryDirectory(prefix="lshc-py-readme-") as directory:
        store = f"sqlite:{os.path.join(directory, 'py.db')}"
        lshc("create", "--store", store, *readme_create_arguments())
        process, url = serve(store)
        try:
            done = subprocess.run([sys.executable, "-c", readme_example()], capture_output=True, text=True, timeout=300,
                                  env={**os.environ, "LSHC_URL": url}, cwd=directory)
        finally:
            process.stop()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("5,000 of 10,000 are new; the first duplicate: Verdict(id='img-5000'"), done.stdout
    assert "kind='duplicate'" in done.stdout and "best_match_id='img-0'" in done.stdout, done.stdout
