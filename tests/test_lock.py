"""The hashed locks that every install reads (README.md#installs): they hold every
dependency pyproject.toml names, at versions its bounds allow, each with its hashes, and
the Docker image is built from them. `make lock` rewrites them after pyproject.toml
changes; these tests fail until it has."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"

# "name==version ; markers \" then its "--hash=sha256:..." lines.
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(path: Path) -> dict[str, tuple[Version, int]]:
    """Each locked package: its version and how many hashes it carries."""
    locked: dict[str, tuple[Version, int]] = {}
    name: str | None = None
    for line in path.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            name = canonicalize_name(match[1])
            assert name not in locked, f"{name} is locked twice in {path.name}"
            locked[name] = (Version(match[2]), 0)
        elif name is not None and line.strip().startswith("--hash=sha256:"):
            version, hashes = locked[name]
            locked[name] = (version, hashes + 1)
    return locked


def declared() -> tuple[list[Requirement], list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = [Requirement(text) for text in project["dependencies"]]
    dev = [Requirement(text) for text in project["optional-dependencies"]["dev"]]
    return runtime, dev


def assert_locked(requirements: list[Requirement], lock: dict[str, tuple[Version, int]]) -> None:
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{requirement} is not in the lock: run `make lock`"
        version, _ = lock[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{name}=={version} is locked but pyproject.toml asks {requirement}: run `make lock`"
        )


def test_runtime_lock_holds_every_runtime_dependency() -> None:
    runtime, _ = declared()
    assert_locked(runtime, pins(RUNTIME_LOCK))


def test_dev_lock_holds_runtime_and_dev_dependencies_at_the_runtime_versions() -> None:
    runtime, dev = declared()
    runtime_lock, dev_lock = pins(RUNTIME_LOCK), pins(DEV_LOCK)
    assert_locked(runtime + dev, dev_lock)
    # The tests run the versions the image ships.
    differ = {
        name: (version, dev_lock.get(name, (None, 0))[0])
        for name, (version, _) in runtime_lock.items()
        if dev_lock.get(name, (None, 0))[0] != version
    }
    assert differ == {}


def test_every_pin_is_exact_and_hashed() -> None:
    for path in (RUNTIME_LOCK, DEV_LOCK):
        locked = pins(path)
        assert len(locked) > 10
        unhashed = sorted(name for name, (_, hashes) in locked.items() if hashes == 0)
        assert unhashed == [], f"{path.name}: no hashes for {unhashed}"
        text = path.read_text()
        # Nothing but pins: no index URLs, no editable or unpinned requirement.
        loose = [
            line
            for line in text.splitlines()
            if line and not line.startswith(("#", " ")) and not _PIN.match(line)
        ]
        assert loose == [], f"{path.name}: {loose}"


def test_installs_read_the_locks() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes -r $(DEV_LOCK)" in makefile
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes -r /tmp/requirements.lock" in dockerfile
    # Whatever the image copies is in the build context (.dockerignore is an allow-list).
    allowed = {
        line[1:].strip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    copied = {
        match[1].strip("./")
        for match in re.finditer(r"^COPY (?!--from)(\S+) ", dockerfile, flags=re.MULTILINE)
    }
    assert copied and copied <= allowed, copied - allowed


def test_the_image_checks_readiness_trusts_named_proxies_and_keeps_keys_out_of_logs() -> None:
    """No Docker engine runs the tests: what the Dockerfile promises (README.md#docker) is
    read off it."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    healthcheck = dockerfile.split("\nHEALTHCHECK ", 1)[1].split("\n#", 1)[0]
    assert "/readyz" in healthcheck and "PORT" in healthcheck
    command = dockerfile.split("\nCMD ", 1)[1]
    assert '--forwarded-allow-ips \\"$MSP_FORWARDED_ALLOW_IPS\\"' in command
    assert '--port \\"$PORT\\"' in command
    assert "MSP_FORWARDED_ALLOW_IPS=127.0.0.1" in dockerfile
    assert "MSP_BOOTSTRAP_KEY_FILE=/srv/msp/var/" in dockerfile
    assert "\nUSER msp\n" in dockerfile
