"""Which tree a server's ``watch`` setting stands for, and which changes in it count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.core.config import ServerConfig
from app.core.supervise.sources import NotWatchable, SourceTree, single_file, source_tree


def server(command: str, *args: str, **extra: Any) -> ServerConfig:
    return ServerConfig.model_validate(
        {"command": command, "args": list(args), "watch": True, **extra}
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home folder holding a Python project, a Node project and a lone script."""
    home = tmp_path / "home"
    python_project = home / "code" / "weather"
    (python_project / "src" / "weather").mkdir(parents=True)
    (python_project / "pyproject.toml").write_text("[project]\nname = 'weather'\n")
    (python_project / "src" / "weather" / "server.py").write_text("print('hi')\n")
    node_project = home / "code" / "notes"
    (node_project / "build").mkdir(parents=True)
    (node_project / "src").mkdir()
    (node_project / "package.json").write_text("{}")
    (node_project / "build" / "index.js").write_text("")
    (home / "loose.py").write_text("")
    return home


def tree_of(config: ServerConfig, home: Path) -> SourceTree:
    tree = source_tree(config, home=home)
    assert tree is not None
    return tree


# ----- inferring the tree from the command line


def test_a_script_argument_leads_to_its_project_root(home: Path) -> None:
    script = home / "code/weather/src/weather/server.py"

    tree = tree_of(server("python", str(script)), home)

    assert tree.roots == (home / "code/weather",)


def test_a_relative_script_is_found_from_the_working_directory(home: Path) -> None:
    config = server("uv", "run", "src/weather/server.py", cwd=str(home / "code/weather"))

    assert tree_of(config, home).roots == (home / "code/weather",)


def test_node_running_its_build_output_watches_the_project_including_build(home: Path) -> None:
    project = home / "code/notes"

    tree = tree_of(server("node", str(project / "build/index.js")), home)

    assert tree.roots == (project,)
    assert tree.is_source(project / "build/index.js")
    assert tree.is_source(project / "src/index.ts")


def test_build_output_stays_ignored_when_the_server_does_not_run_from_it(home: Path) -> None:
    project = home / "code/weather"
    tree = tree_of(server("python", str(project / "src/weather/server.py")), home)

    assert not tree.is_source(project / "build/lib/weather/server.py")
    assert not tree.is_source(project / "dist/weather-1.0.tar.gz")
    assert tree.is_source(project / "src/weather/build/helpers.py")  # only the top-level one


def test_uv_directory_names_the_project(home: Path) -> None:
    project = home / "code/weather"

    for args in (("--directory", str(project), "run", "weather"), (f"--directory={project}",)):
        assert tree_of(server("uv", *args), home).roots == (project,)


def test_a_package_runner_watches_nothing_and_says_why(home: Path) -> None:
    for config in (
        server("npx", "-y", "@modelcontextprotocol/server-filesystem", str(home)),
        server("uvx", "mcp-server-fetch"),
        server("/usr/bin/pnpm", "dlx", "some-server"),
        server("uv", "tool", "run", "mcp-server-time"),
    ):
        with pytest.raises(NotWatchable, match="published package"):
            source_tree(config, home=home)


def test_a_module_run_from_its_project_folder_watches_that_project(home: Path) -> None:
    project = home / "code/weather"

    tree = tree_of(server("python", "-m", "weather", cwd=str(project / "src")), home)

    assert tree.roots == (project,)


def test_a_command_that_names_no_local_file_cannot_be_watched(home: Path) -> None:
    with pytest.raises(NotWatchable, match='"paths"'):
        source_tree(server("python", "-m", "weather"), home=home)


def test_a_lone_script_in_the_home_folder_watches_only_that_file(home: Path) -> None:
    tree = tree_of(server("python", str(home / "loose.py")), home)

    assert tree.roots == (home / "loose.py",)
    assert tree.is_source(home / "loose.py")
    assert not tree.is_source(home / "other.py")


def test_watch_false_or_absent_watches_nothing(home: Path) -> None:
    config = ServerConfig.model_validate({"command": "python", "args": ["x.py"]})

    assert source_tree(config, home=home) is None


# ----- explicit trees


def test_a_list_of_globs_is_anchored_at_the_working_directory(home: Path) -> None:
    project = home / "code/weather"
    config = ServerConfig.model_validate(
        {"command": "python", "cwd": str(project), "watch": ["src/**/*.py", "*.toml"]}
    )

    tree = tree_of(config, home)

    assert tree.roots == (project,)
    assert tree.is_source(project / "src/weather/server.py")
    assert tree.is_source(project / "pyproject.toml")
    assert not tree.is_source(project / "README.md")
    assert not tree.is_source(project / "src/weather/__pycache__/server.cpython-311.pyc")


def test_explicit_paths_include_exclude_and_debounce(home: Path) -> None:
    project = home / "code/weather"
    config = ServerConfig.model_validate(
        {
            "command": "python",
            "cwd": str(project),
            "watch": {
                "paths": ["src", "~/shared.yaml"],
                "exclude": ["*_test.py"],
                "debounceMs": 50,
            },
        }
    )

    tree = tree_of(config, home)

    assert tree.roots == (project / "src", Path("~/shared.yaml").expanduser())
    assert tree.debounce_s == 0.05
    assert tree.is_source(project / "src/weather/server.py")
    assert not tree.is_source(project / "src/weather/server_test.py")
    assert not tree.is_source(project / "pyproject.toml")  # outside the listed paths


def test_an_options_object_without_paths_infers_the_project(home: Path) -> None:
    project = home / "code/weather"
    config = server("python", str(project / "src/weather/server.py"), watch={"include": ["*.py"]})

    tree = tree_of(config, home)

    assert tree.roots == (project,)
    assert tree.is_source(project / "src/weather/server.py")
    assert not tree.is_source(project / "pyproject.toml")


# ----- what counts as a change


IGNORED = [
    ".git/index",
    ".git/refs/heads/main",
    "node_modules/left-pad/index.js",
    ".venv/lib/python3.11/site-packages/x.py",
    "venv/bin/python",
    "src/weather/__pycache__/server.cpython-311.pyc",
    "src/weather/server.pyc",
    ".mypy_cache/3.11/x.json",
    ".pytest_cache/v/cache/lastfailed",
    ".ruff_cache/0.5/123",
    "src/weather/.server.py.swp",
    "src/weather/server.py~",
    "src/weather/.#server.py",
    "src/weather/#server.py#",
    "src/weather/4913",
    "src/weather/server.py___jb_tmp___",
    "server.log",
    "notes.sqlite3",
]


@pytest.mark.parametrize("relative", IGNORED)
def test_default_ignores_never_count_as_source_changes(home: Path, relative: str) -> None:
    project = home / "code/weather"
    tree = tree_of(server("python", str(project / "src/weather/server.py")), home)

    assert not tree.is_source(project / relative)


def test_ignored_folders_are_not_even_watched(home: Path) -> None:
    project = home / "code/weather"
    tree = tree_of(server("python", str(project / "src/weather/server.py")), home)

    assert not tree.watches(project / "node_modules")
    assert not tree.watches(project / ".git")
    assert not tree.watches(project / "src/weather/__pycache__")
    assert tree.watches(project / "src")
    assert not tree.is_source(project / "src/weather/__pycache__", directory=True)
    assert tree.is_source(project / "src/weather/handlers", directory=True)


def test_gitignore_is_honoured_and_can_keep_a_file_back(home: Path) -> None:
    project = home / "code/weather"
    (project / ".gitignore").write_text("generated/\n*.cache\n!keep.cache\n")

    tree = tree_of(server("python", str(project / "src/weather/server.py")), home)

    assert not tree.is_source(project / "generated/schema.py")
    assert not tree.is_source(project / "src/x.cache")
    assert tree.is_source(project / "src/keep.cache")
    assert tree.is_source(project / ".gitignore")


def test_a_gitignored_build_folder_still_counts_when_the_server_runs_from_it(home: Path) -> None:
    project = home / "code/notes"
    (project / ".gitignore").write_text("build/\nnode_modules/\n")

    tree = tree_of(server("node", str(project / "build/index.js")), home)

    assert tree.is_source(project / "build/index.js")


def test_a_single_file_tree_counts_only_that_file(tmp_path: Path) -> None:
    config = tmp_path / "config.json"

    tree = single_file(config)

    assert tree.roots == (config,)
    assert tree.is_source(config)
    assert not tree.is_source(tmp_path / "config.json.tmp")
    assert not tree.is_source(tmp_path / "other.json")
