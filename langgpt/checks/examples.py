"""Few-shot example sets: every field a format uses must exist in every record (inline) or in the
data file's rows; the data file must exist inside the project and be readable."""

from __future__ import annotations

from pathlib import Path

from langgpt import ast
from langgpt.data import DataError, read_rows
from langgpt.errors import Diagnostic
from langgpt.loader import Module, Program, display_path
from langgpt.scope import lookup, walk_segments

MAX_CHECKED_ROWS = 10_000


def check(program: Program) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for module in program.modules:
        for examples in module.document.example_sets():
            fields, var_named = _format_fields(module, examples)
            if examples.source is not None:
                out.extend(_check_source(program, module, examples, fields, var_named))
            for record in examples.records:
                have = {f.name for f in record.fields}
                for name, span in fields.items():
                    if name not in have:
                        out.append(
                            Diagnostic(
                                "E109",
                                f"example record lacks field `{name}` used by the format of `{examples.name}`",
                                record.span,
                                f"a `{name}: ...` field",
                                f"the format uses {{{name}}} at line {span.line}",
                            )
                        )
            if examples.records and examples.source is not None:
                out.append(
                    Diagnostic(
                        "E119",
                        f"example set `{examples.name}` has inline records and a `from` file",
                        examples.records[0].span,
                        'either inline records or `from "file"`',
                        "move the records into the data file, or declare a second example set",
                    )
                )
            if not examples.records and examples.source is None:
                out.append(
                    Diagnostic(
                        "E109",
                        f"example set `{examples.name}` has no records and no `from` file",
                        examples.span,
                        'inline records `{ field: value }` or `from "file.jsonl"`',
                    )
                )
    return out


def _format_fields(module: Module, examples: ast.Examples) -> tuple[dict[str, ast.Span], dict[str, ast.Span]]:
    """Field names the format strings use, and names that are also file variables (a variable
    is a row field when the rows have it, so the data decides for those)."""
    fields: dict[str, ast.Span] = {}
    var_named: dict[str, ast.Span] = {}
    for setting in examples.settings:
        loops: set[str] = set()
        for seg in walk_segments(setting.value.segments):
            if isinstance(seg, ast.ForSeg):
                loops.add(seg.var)
            if isinstance(seg, ast.InterpSeg):
                head = seg.name.split(".", 1)[0]
                found = lookup(module, head)
                record_field = any(head == f.name for r in examples.records for f in r.fields)
                if head in loops:
                    continue
                if found is not None and isinstance(found.decl, ast.VarDecl) and not record_field:
                    var_named.setdefault(head, seg.span)
                    continue
                fields.setdefault(head, seg.span)
    return fields, var_named


def data_path(program: Program, module: Module, source: ast.ExampleSource) -> tuple[Path | None, str | None]:
    """Where an example file lives, or why it may not be read."""
    base = module.path.parent if module.path is not None else program.root
    try:
        target = (base / source.path).resolve()
        target.is_file()
    except (OSError, ValueError) as exc:  # a NUL byte, a name too long for the file system ...
        return None, f"`{source.path[:80]}` is not a usable path ({exc})"
    if not target.is_relative_to(program.root):
        return None, f"`{source.path}` resolves outside the project root {display_path(program.root)}"
    if not target.is_file():
        return None, f"example data file not found: {source.path}"
    return target, None


def _check_source(
    program: Program,
    module: Module,
    examples: ast.Examples,
    fields: dict[str, ast.Span],
    var_named: dict[str, ast.Span],
) -> list[Diagnostic]:
    source = examples.source
    assert source is not None
    path, problem = data_path(program, module, source)
    if path is None:
        return [
            Diagnostic(
                "E115",
                problem or "cannot read data",
                source.span,
                "a JSONL, CSV or TSV file inside the project",
                "paths are relative to the .lgpt file",
            )
        ]
    try:
        rows = read_rows(path, display_path(path))[:MAX_CHECKED_ROWS]
    except DataError as exc:
        return [Diagnostic("E115", str(exc), source.span, "a JSONL, CSV or TSV file inside the project")]
    out = []
    wanted = dict(fields)
    # a name some rows have is a field for every row: a row without it must not fall back to the
    # variable of the same name (that would leak e.g. the gold label into the shots)
    wanted.update({name: span for name, span in var_named.items() if any(name in row for row in rows)})
    if source.balanced_by:
        wanted.setdefault(source.balanced_by, source.span)
    for name in wanted:
        missing = next((i for i, row in enumerate(rows, start=1) if name not in row), None)
        if missing is not None:
            out.append(
                Diagnostic(
                    "E109",
                    f"row {missing} of {source.path} lacks field `{name}` used by `{examples.name}`",
                    source.span,
                    f"every row to have `{name}`",
                )
            )
    if not rows:
        out.append(Diagnostic("E115", f"{source.path} has no rows", source.span, "at least one example row"))
    return out
