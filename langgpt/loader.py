"""Loading a program: the main file and everything it imports.

Import paths are relative to the importing file and must stay inside the project root (by default the
current directory when the main file lies under it, else the main file's own folder). Missing files
and cycles are diagnostics pointing at the ``import`` that caused them.
"""

from __future__ import annotations

import os
from pathlib import Path

from langgpt import ast
from langgpt.errors import Diagnostic, DiagnosticError
from langgpt.parser import parse

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_IMPORT_DEPTH = 32  # a chain a -> b -> c ... of imports
MAX_MODULES = 256  # files loaded for one program


class Module:
    """One parsed file and the modules its imports bind (alias -> module). Compared by identity."""

    def __init__(self, document: ast.Document, path: Path | None, imports: dict[str, Module] | None = None) -> None:
        self.document = document
        self.path = path
        self.imports: dict[str, Module] = imports if imports is not None else {}
        self.names: dict[str, object] | None = None  # name table, filled by langgpt.scope on first use

    @property
    def name(self) -> str:
        return self.document.path


class Program:
    """A main module plus every module reachable through imports, with their source texts
    (kept so diagnostics can show the offending line)."""

    def __init__(self, main: Module, modules: list[Module], sources: dict[str, str], root: Path) -> None:
        self.main = main
        self.modules = modules
        self.sources = sources
        self.root = root

    @property
    def document(self) -> ast.Document:
        return self.main.document


def display_path(path: Path) -> str:
    """Paths in spans are relative to the working directory when possible: stable across machines."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def default_root(path: Path) -> Path:
    cwd = Path.cwd().resolve()
    resolved = path.resolve()
    return cwd if resolved.is_relative_to(cwd) else resolved.parent


def read_source(path: Path, span: ast.Span | None = None) -> str:
    """Read a source file as UTF-8 (a BOM is allowed), with readable errors."""
    shown = display_path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DiagnosticError(
                [
                    Diagnostic(
                        "E005",
                        f"{shown} is {size} bytes; the limit is {MAX_FILE_BYTES}",
                        span,
                        hint="split the file and use imports",
                    )
                ]
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise DiagnosticError([Diagnostic("E107", f"file not found: {shown}", span)]) from None
    except IsADirectoryError:
        raise DiagnosticError([Diagnostic("E005", f"{shown} is a directory, not a .lgpt file", span)]) from None
    except OSError as exc:
        raise DiagnosticError([Diagnostic("E005", f"cannot read {shown}: {exc.strerror}", span)]) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        at = ast.Span(file=shown, line=line, col=col, end_line=line, end_col=col + 1)
        raise DiagnosticError(
            [Diagnostic("E005", "file is not valid UTF-8", at, "UTF-8 text", "re-save the file as UTF-8")]
        ) from None


def load(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> Program:
    """Load and parse a file and its imports. Raises DiagnosticError listing every problem found."""
    main_path = Path(path)
    root_path = Path(root).resolve() if root is not None else default_root(main_path)
    loader = _Loader(root_path)
    main = loader.load_file(main_path, None, ())
    return loader.finish(main)


def load_text(text: str, path: str = "<string>", base_dir: str | os.PathLike[str] | None = None) -> Program:
    """Parse source text given in memory; imports resolve against ``base_dir`` (default: cwd)."""
    base = Path(base_dir).resolve() if base_dir is not None else Path.cwd().resolve()
    loader = _Loader(base)
    loader.sources[path] = text
    main = loader.build(parse(text, path), base / "__main__.lgpt", ())
    return loader.finish(main)


class _Loader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[Path, Module] = {}
        self.sources: dict[str, str] = {}
        self.diagnostics: list[Diagnostic] = []

    def finish(self, main: Module) -> Program:
        if self.diagnostics or main is None:
            raise DiagnosticError(self.diagnostics)
        modules = list(dict.fromkeys([main, *self.cache.values()]))
        return Program(main=main, modules=modules, sources=self.sources, root=self.root)

    def load_file(self, path: Path, span: ast.Span | None, stack: tuple[Path, ...]) -> Module:
        resolved = path.resolve()
        if resolved in self.cache:
            return self.cache[resolved]
        shown = display_path(path)
        text = read_source(path, span)
        self.sources[shown] = text
        try:
            document = parse(text, shown)
        except DiagnosticError as exc:
            self.diagnostics.extend(exc.diagnostics)
            document = ast.Document(
                span=ast.Span(file=shown, line=1, col=1, end_line=1, end_col=1),
                path=shown,
                header=None,
                decls=(),
                comments=(),
            )
        return self.build(document, resolved, stack)

    def build(self, document: ast.Document, resolved: Path, stack: tuple[Path, ...]) -> Module:
        module = Module(document=document, path=resolved)
        self.cache[resolved] = module
        stack = (*stack, resolved)
        for imp in document.imports():
            if len(stack) > MAX_IMPORT_DEPTH or len(self.cache) >= MAX_MODULES:
                what = (
                    f"a chain of {len(stack)} imports" if len(stack) > MAX_IMPORT_DEPTH else f"{len(self.cache)} files"
                )
                self.diagnostics.append(
                    Diagnostic(
                        "E122",
                        f"import limit reached ({what})",
                        imp.span,
                        f"at most {MAX_IMPORT_DEPTH} nested imports and {MAX_MODULES} files",
                        "merge files, or import shared declarations from fewer places",
                    )
                )
                break
            alias = imp.alias or Path(imp.path).stem
            target = self.resolve_import(imp, resolved.parent)
            if target is None:
                continue
            if target in stack:
                chain = " -> ".join(display_path(p) for p in (*stack[stack.index(target) :], target))
                self.diagnostics.append(
                    Diagnostic(
                        "E106",
                        f"import cycle: {chain}",
                        imp.span,
                        "imports that form a tree",
                        "move the shared declarations into a third file both can import",
                    )
                )
                continue
            try:
                module.imports[alias] = self.load_file(target, imp.span, stack)
            except DiagnosticError as exc:
                self.diagnostics.extend(exc.diagnostics)
        return module

    def resolve_import(self, imp: ast.Import, base: Path) -> Path | None:
        try:
            target = (base / imp.path).resolve()
            target.is_file()
        except (OSError, ValueError) as exc:  # a NUL byte, a name too long for the file system ...
            self.diagnostics.append(
                Diagnostic(
                    "E107",
                    f"import `{imp.path[:80]}` is not a usable path ({exc})",
                    imp.span,
                    "a relative path to a .lgpt file",
                )
            )
            return None
        if not target.is_relative_to(self.root):
            self.diagnostics.append(
                Diagnostic(
                    "E107",
                    f"import `{imp.path}` resolves outside the project root {display_path(self.root)}",
                    imp.span,
                    "a path inside the project",
                    "pass --root to allow a wider project folder",
                )
            )
            return None
        if not target.is_file():
            self.diagnostics.append(
                Diagnostic(
                    "E107",
                    f"imported file not found: {imp.path}",
                    imp.span,
                    f"a file at {display_path(target)}",
                    "import paths are relative to the importing file",
                )
            )
            return None
        return target
