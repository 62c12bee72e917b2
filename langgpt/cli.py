"""The ``lgpt`` command line: a thin layer over the front door.

It parses arguments, calls ``langgpt.load / check / compile``, prints diagnostics and sets the exit code:
0 success, 1 diagnostics (errors in the input), 2 usage errors. It never prints a Python traceback
for bad input (set LGPT_DEBUG=1 to see one for an internal error).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from langgpt import __version__
from langgpt.errors import Diagnostic, DiagnosticError, LgptError, UsageError, format_diagnostic, sort_diagnostics

app = typer.Typer(
    name="lgpt",
    help="Compile structured prompts written in the .lgpt language.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_DIAGNOSTICS = 1
EXIT_USAGE = 2


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lgpt {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Compile structured prompts written in the .lgpt language."""


# ----------------------------------------------------------------------------- output helpers


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def _print_diagnostics(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic], sources: dict[str, str]) -> None:
    if not diagnostics:
        return
    from rich.markup import escape

    console = _stderr_console()
    for diag in sort_diagnostics(diagnostics):
        text = format_diagnostic(diag, sources)
        head, _, rest = text.partition("\n")
        colour = {"error": "red", "warning": "yellow"}.get(diag.severity.value, "cyan")
        console.print(f"[bold {colour}]{escape(head)}[/]" + ("\n" + escape(rest) if rest else ""))
        console.print()
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = sum(1 for d in diagnostics if d.severity.value == "warning")
    notes = len(diagnostics) - errors - warnings
    console.print(f"[bold]{errors} error(s), {warnings} warning(s)" + (f", {notes} note(s)" if notes else "") + "[/]")


def _usage_error(message: str) -> NoReturn:
    from rich.markup import escape

    _stderr_console().print(f"[bold red]usage error:[/] {escape(message)}")
    raise typer.Exit(EXIT_USAGE)


def write_atomic(path: Path, data: str) -> None:
    """-o: the old file or the new one, never a partial write (see langgpt.atomic)."""
    from langgpt.atomic import write_text

    write_text(path, data)


def _parse_vars(pairs: list[str], vars_file: Path | None) -> tuple[dict[str, Any], frozenset[str]]:
    values: dict[str, Any] = {}
    if vars_file is not None:
        values.update(_read_vars_file(vars_file))
    cli: set[str] = set()
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            _usage_error(f"--var expects NAME=VALUE, got {pair!r}")
        values[name.strip()] = value
        cli.add(name.strip())
    return values, frozenset(cli)


def _read_vars_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        _usage_error(f"cannot read --vars file {path}: {exc.strerror}")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except json.JSONDecodeError as exc:
        _usage_error(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON in --vars file: {exc.msg}")
    except Exception as exc:  # yaml.YAMLError and friends: report, never a traceback
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        _usage_error(f"{where}: invalid YAML in --vars file: {getattr(exc, 'problem', exc)}")
    if not isinstance(data, dict):
        _usage_error(f"{path}: a --vars file must hold an object of name -> value")
    return data


def _require_writable(output: Path | None) -> None:
    """-o replaces a file atomically (rename over it), so it must name a regular file or nothing:
    renaming over /dev/null, a FIFO or a directory would destroy it."""
    if output is None:
        return
    if output.is_dir():
        _usage_error(f"-o {output} is a directory; give a file name")
    if output.exists() and not output.is_file():
        _usage_error(f"-o {output} is not a regular file; write to a file, or leave out -o to print")


def _require_file(path: Path) -> None:
    if not path.exists():
        _usage_error(f"no such file: {path}")
    if path.is_dir():
        _usage_error(f"{path} is a directory; give a .lgpt file")


# ----------------------------------------------------------------------------- commands


@app.command("compile")
def compile_command(
    file: Annotated[Path, typer.Argument(help="The .lgpt file to compile.")],
    target: Annotated[
        str,
        typer.Option(
            "--target", "-t", help="text | messages | markdown | json | yaml | ast | verbalizer | peft | dataset"
        ),
    ] = "text",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (atomically) instead of stdout.")
    ] = None,
    var: Annotated[list[str] | None, typer.Option("--var", help="NAME=VALUE, repeatable.")] = None,
    vars_file: Annotated[Path | None, typer.Option("--vars", help="JSON or YAML file of variable values.")] = None,
    entry: Annotated[
        str | None,
        typer.Option("--entry", "-e", help="Role or template to compile (default: first template, else first role)."),
    ] = None,
    answer: Annotated[
        str | None, typer.Option("--answer", help="Fill the template's answer slot with this text.")
    ] = None,
    root: Annotated[
        Path | None, typer.Option("--root", help="Project root that imports and data paths must stay inside.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Model folder, `minilm` (default) or a cached hub name, for token counts and training targets.",
        ),
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="Fit the prompt in N tokens of --model's tokenizer.")
    ] = None,
    trust_remote_code: Annotated[
        bool, typer.Option("--trust-remote-code", help="Allow a model folder's own Python code (off by default).")
    ] = False,
    guard_roles: Annotated[
        bool,
        typer.Option("--guard-roles", help="Refuse values that carry chat role markers (<|im_start|>, 'assistant:')."),
    ] = False,
    block: Annotated[
        str | None, typer.Option("--block", help="verbalizer / soft_prompt block to compile (default: the only one).")
    ] = None,
    config_only: Annotated[
        bool, typer.Option("--config-only", help="peft: write the adapter config and init text, no weights.")
    ] = False,
    data: Annotated[Path | None, typer.Option("--data", help="dataset: JSONL, CSV, TSV or HF datasets folder.")] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="dataset: put bad rows in a rejects file instead of stopping.")
    ] = False,
    rejects: Annotated[Path | None, typer.Option("--rejects", help="dataset: where rejected rows go.")] = None,
    output_format: Annotated[str, typer.Option("--format", help="dataset: jsonl | hf")] = "jsonl",
) -> None:
    """Compile FILE to a target and print it (or write it with -o)."""
    from langgpt.compiler import TEXT_TARGETS, compile, load

    if target in TRAINING_TARGETS:
        _compile_training(
            file,
            target,
            output,
            var,
            vars_file,
            entry,
            root,
            model,
            block,
            config_only,
            data,
            skip_bad,
            rejects,
            output_format,
        )
        return
    if target not in TEXT_TARGETS:
        choices = ", ".join((*TEXT_TARGETS, *TRAINING_TARGETS))
        _usage_error(f"unknown target `{target}` (choose from {choices})")
    if max_tokens is not None and target not in ("text", "messages"):
        _usage_error("--max-tokens applies to the text and messages targets")
    _require_file(file)
    _require_writable(output)
    values, cli_values = _parse_vars(var or [], vars_file)
    sources: dict[str, str] = {}
    try:
        program = load(file, root)
        sources = program.sources
        if guard_roles:
            from langgpt.guard import check_values

            check_values(values)
        if max_tokens is not None:
            result = _compile_within(program, target, values, entry, cli_values, model, max_tokens, trust_remote_code)
        else:
            result = compile(
                program, target, values, entry=entry, answer=answer, cli_values=cli_values, guard_roles=guard_roles
            )
    except UsageError as exc:
        _usage_error(str(exc))
    except DiagnosticError as exc:
        _print_diagnostics(exc.diagnostics, sources or _sources_of(exc))
        raise typer.Exit(EXIT_DIAGNOSTICS) from None
    _print_diagnostics(result.warnings, sources)
    if output is not None:
        write_atomic(output, result.output)
    else:
        sys.stdout.write(result.output)
        if sys.stdout.isatty() and not result.output.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()


TRAINING_TARGETS = ("verbalizer", "peft", "dataset")


def _compile_training(
    file: Path,
    target: str,
    output: Path | None,
    var: list[str] | None,
    vars_file: Path | None,
    entry: str | None,
    root: Path | None,
    model: str | None,
    block: str | None,
    config_only: bool,
    data: Path | None,
    skip_bad: bool,
    rejects: Path | None,
    output_format: str,
) -> None:
    """The targets that need a tokenizer or a model (they import transformers, only here)."""
    from langgpt.compiler import load

    _require_file(file)
    if target in ("peft", "dataset") and output is None:
        _usage_error(f"--target {target} writes files: give -o OUTPUT")
    if target == "dataset" and data is None:
        _usage_error("--target dataset needs --data FILE")
    if target == "verbalizer":
        _require_writable(output)
    values, _ = _parse_vars(var or [], vars_file)
    sources: dict[str, str] = {}
    console = _stderr_console()
    try:
        program = load(file, root)
        sources = program.sources
        if target == "verbalizer":
            from langgpt.training import compile_verbalizer

            verbalizer = compile_verbalizer(program, name=block, model=model)
            _print_diagnostics(verbalizer.warnings, sources)
            if output is not None:
                write_atomic(output, verbalizer.output)
            else:
                sys.stdout.write(verbalizer.output)
        elif target == "peft":
            from langgpt.training import compile_peft

            assert output is not None
            adapter = compile_peft(
                program, output=output, name=block, model=model, config_only=config_only, variables=values
            )
            _print_diagnostics(adapter.warnings, sources)
            console.print(
                f"wrote {adapter.method} adapter ({adapter.tokens} virtual tokens, init {adapter.init_kind}) to {output}"
            )
        else:
            from langgpt.training import compile_dataset

            assert output is not None and data is not None
            if output_format not in ("jsonl", "hf"):
                _usage_error("--format must be jsonl or hf")
            result = compile_dataset(
                program,
                data=data,
                output=output,
                entry=entry,
                model=model,
                output_format=output_format,
                skip_bad=skip_bad,
                rejects=rejects,
                variables=values,
                progress=sys.stderr.isatty(),
            )
            console.print(result.summary())
    except UsageError as exc:
        _usage_error(str(exc))
    except DiagnosticError as exc:
        _print_diagnostics(exc.diagnostics, sources or _sources_of(exc))
        raise typer.Exit(EXIT_DIAGNOSTICS) from None


def _compile_within(
    program: Any,
    target: str,
    values: dict[str, Any],
    entry: str | None,
    cli_values: frozenset[str],
    model: str | None,
    max_tokens: int,
    trust_remote_code: bool,
) -> Any:
    """--max-tokens: compile within the budget and report what gave way."""
    from langgpt.budget import compile_within
    from langgpt.compiler import CompileResult
    from langgpt.hf import load_tokenizer

    tokenizer = load_tokenizer(model, trust_remote_code=trust_remote_code)
    fitted = compile_within(
        program, max_tokens, tokenizer, target=target, variables=values, entry=entry, cli_values=cli_values
    )
    console = _stderr_console()
    for line in fitted.dropped:
        console.print(f"[yellow]budget:[/] {line}")
    console.print(f"budget: {fitted.tokens} of {fitted.max_tokens} tokens")
    return CompileResult(fitted.output, target, entry, fitted.warnings)


@app.command("check")
def check_command(
    files: Annotated[list[Path], typer.Argument(help="One or more .lgpt files.")],
    output_format: Annotated[str, typer.Option("--format", help="text | json")] = "text",
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    root: Annotated[
        Path | None, typer.Option("--root", help="Project root that imports and data paths must stay inside.")
    ] = None,
) -> None:
    """Check files and report every diagnostic; exit 1 if any file has errors."""
    from langgpt.compiler import check, load

    if output_format not in ("text", "json"):
        _usage_error("--format must be text or json")
    for file in files:
        _require_file(file)
    all_diags: list[Diagnostic] = []
    sources: dict[str, str] = {}
    for file in files:
        try:
            program = load(file, root)
            sources.update(program.sources)
            all_diags.extend(check(program))
        except DiagnosticError as exc:
            sources.update(_sources_of(exc))
            all_diags.extend(exc.diagnostics)
    all_diags = sort_diagnostics(all_diags)
    failed = any(d.is_error or strict for d in all_diags)
    if output_format == "json":
        sys.stdout.write(json.dumps([d.to_dict() for d in all_diags], ensure_ascii=False, indent=2) + "\n")
    elif all_diags:
        _print_diagnostics(all_diags, sources)
    else:
        _stderr_console().print(f"[green]ok[/]: {len(files)} file(s), no problems")
    if failed:
        raise typer.Exit(EXIT_DIAGNOSTICS)


@app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="A LangGPT Markdown/JSON/YAML prompt, an OpenPrompt template or a PromptSource templates.yaml."
        ),
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the .lgpt here (atomically) instead of stdout.")
    ] = None,
    source_format: Annotated[
        str | None,
        typer.Option("--from", help="markdown | json | yaml | openprompt | promptsource (default: from the file name)"),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print warnings and a summary, not every note.")] = False,
) -> None:
    """Convert a prompt from another format into .lgpt source, reporting what was inferred."""
    from langgpt.compiler import check, parse
    from langgpt.importers import detect_format, import_text

    _require_file(file)
    try:
        raw = file.read_bytes()
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        _usage_error(f"{file} is not valid UTF-8")
    except OSError as exc:
        _usage_error(f"cannot read {file}: {exc.strerror}")
    _require_writable(output)
    try:
        fmt = source_format or detect_format(file, text)
        result = import_text(text, str(file), fmt)
    except UsageError as exc:
        _usage_error(str(exc))
    except DiagnosticError as exc:
        _print_diagnostics(exc.diagnostics, {str(file): text})
        raise typer.Exit(EXIT_DIAGNOSTICS) from None
    shown = str(output) if output is not None else f"<imported {file.name}>"
    base = (output.parent if output is not None else Path.cwd()).resolve()
    try:  # what an importer writes must itself compile cleanly
        problems = [d for d in check(parse(result.source, shown, base)) if d.is_error]
    except DiagnosticError as exc:
        problems = list(exc.errors)
    if problems:
        _print_diagnostics(problems, {shown: result.source})
        raise LgptError(f"the importer produced invalid .lgpt for {file}; this is a bug in lgpt")
    shown_notes = [n for n in result.notes if n.severity.value != "note"] if quiet else list(result.notes)
    _print_diagnostics(shown_notes, {str(file): text})
    roles = sum(1 for line in result.source.splitlines() if line.startswith("role "))
    verbatim = sum(1 for n in result.notes if "verbatim" in n.message)
    _stderr_console().print(f"imported {file} ({fmt}): {roles} role(s), {verbatim} part(s) kept as verbatim text")
    if output is not None:
        write_atomic(output, result.source)
    else:
        sys.stdout.write(result.source)


@app.command("fmt")
def fmt_command(
    paths: Annotated[list[Path], typer.Argument(help=".lgpt files, or folders to search for them.")],
    check: Annotated[
        bool, typer.Option("--check", help="Change nothing; list files that would change and exit 1 if any.")
    ] = False,
    diff: Annotated[
        bool, typer.Option("--diff", help="Print a unified diff of the changes instead of writing them.")
    ] = False,
) -> None:
    """Rewrite files in the canonical layout (comments kept; compiled output never changes)."""
    import difflib

    from langgpt.fmt import format_source
    from langgpt.loader import read_source

    files = _lgpt_files(paths)
    changed: list[Path] = []
    problems: list[Diagnostic] = []
    sources: dict[str, str] = {}
    for file in files:
        shown = str(file)
        try:
            text = read_source(file)
            sources[shown] = text
            formatted = format_source(text, shown)
        except DiagnosticError as exc:
            problems.extend(exc.diagnostics)
            continue
        if formatted == text:
            continue
        changed.append(file)
        if diff:
            lines = difflib.unified_diff(
                text.splitlines(True), formatted.splitlines(True), shown, f"{shown} (formatted)"
            )
            sys.stdout.writelines(lines)
        elif not check:
            write_atomic(file, formatted)
    console = _stderr_console()
    for file in changed:
        console.print(f"{'would reformat' if check or diff else 'reformatted'} {file}")
    if problems:
        _print_diagnostics(problems, sources)
    unchanged = len(files) - len(changed) - len({d.span.file for d in problems if d.span})
    console.print(f"{len(changed)} file(s) {'would be ' if check or diff else ''}reformatted, {unchanged} unchanged")
    if problems or (check and changed):
        raise typer.Exit(EXIT_DIAGNOSTICS)


def _lgpt_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.lgpt") if p.is_file()))
        elif path.exists():
            files.append(path)
        else:
            _usage_error(f"no such file or folder: {path}")
    return files


def _sources_of(exc: DiagnosticError) -> dict[str, str]:
    """Read the files a diagnostic points into, so the excerpt can be shown even when loading failed."""
    out: dict[str, str] = {}
    for diag in exc.diagnostics:
        if diag.span is not None and diag.span.file not in out:
            with contextlib.suppress(OSError, UnicodeDecodeError):
                out[diag.span.file] = Path(diag.span.file).read_text(encoding="utf-8-sig")
    return out


# lgpt run / eval / predict live in their own module (registered on `app` when imported).
from langgpt import cli_runtime  # noqa: E402, F401


def _escape(text: str) -> str:
    """Messages are data, not rich markup (a path like `run-[lora]` must print as written)."""
    from rich.markup import escape

    return escape(text)


def main() -> None:
    """Console-script entry point: runs the app and turns stray errors into exit codes, not tracebacks."""
    try:
        app()
    except UsageError as exc:
        _stderr_console().print(f"[bold red]usage error:[/] {_escape(str(exc))}")
        sys.exit(EXIT_USAGE)
    except DiagnosticError as exc:
        _print_diagnostics(exc.diagnostics, _sources_of(exc))
        sys.exit(EXIT_DIAGNOSTICS)
    except LgptError as exc:
        _stderr_console().print(f"[bold red]error:[/] {_escape(str(exc))}")
        sys.exit(EXIT_DIAGNOSTICS)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("LGPT_DEBUG"):
            raise
        _stderr_console().print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {_escape(str(exc))}\nThis is a bug in lgpt; rerun with LGPT_DEBUG=1 for details."
        )
        sys.exit(3)


if __name__ == "__main__":
    # `python -m langgpt.cli`: this file runs as __main__, but cli_runtime registered the runtime
    # commands on the `langgpt.cli` module's app, so run that one
    from langgpt.cli import main as _module_main

    _module_main()
