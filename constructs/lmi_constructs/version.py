"""The package's one version: pyproject.toml reads it (hatch's version source) and `lmi --version`
prints it. Bump it with a CHANGELOG.md entry; constructs/README.md says what each part means."""

__version__ = "0.1.0"
