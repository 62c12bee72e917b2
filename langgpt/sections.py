"""The LangGPT section vocabulary: canonical sections, their aliases and their rendered titles.

A section written as ``rules``, ``Rules``, ``规则`` or ``constraints`` is recognised; the canonical
name drives rendering (workflow is numbered, profile is a field list) and checking. Known misspellings
(``Constrains``, ``Workflows``) are accepted with a warning that names the intended section.
"""

from __future__ import annotations

import difflib

#: canonical name -> default Markdown title
TITLES: dict[str, str] = {
    "profile": "Profile",
    "skills": "Skills",
    "background": "Background",
    "goals": "Goals",
    "rules": "Rules",
    "constraints": "Constraints",
    "attention": "Attention",
    "workflow": "Workflow",
    "output_format": "Output Format",
    "examples": "Examples",
    "commands": "Commands",
    "reminder": "Reminder",
    "suggestions": "Suggestions",
    "initialization": "Initialization",
}

#: alias (lower-cased, spaces/underscores/hyphens removed) -> canonical name
_ALIASES: dict[str, str] = {
    "profile": "profile",
    "简介": "profile",
    "角色简介": "profile",
    "个人简介": "profile",
    "skills": "skills",
    "skill": "skills",
    "技能": "skills",
    "能力": "skills",
    "background": "background",
    "背景": "background",
    "goals": "goals",
    "goal": "goals",
    "目标": "goals",
    "rules": "rules",
    "rule": "rules",
    "规则": "rules",
    "constraints": "constraints",
    "constraint": "constraints",
    "约束": "constraints",
    "限制": "constraints",
    "attention": "attention",
    "注意": "attention",
    "注意事项": "attention",
    "workflow": "workflow",
    "工作流程": "workflow",
    "工作流": "workflow",
    "流程": "workflow",
    "outputformat": "output_format",
    "output": "output_format",
    "输出格式": "output_format",
    "输出": "output_format",
    "examples": "examples",
    "example": "examples",
    "示例": "examples",
    "例子": "examples",
    "样例": "examples",
    "commands": "commands",
    "command": "commands",
    "命令": "commands",
    "指令": "commands",
    "reminder": "reminder",
    "提醒": "reminder",
    "suggestions": "suggestions",
    "建议": "suggestions",
    "initialization": "initialization",
    "init": "initialization",
    "初始化": "initialization",
}

#: common misspellings seen in real LangGPT prompts -> canonical name
MISSPELLINGS: dict[str, str] = {
    "constrains": "constraints",
    "contraints": "constraints",
    "workflows": "workflow",
    "initialisation": "initialization",
    "initalization": "initialization",
    "outputformats": "output_format",
    "reminders": "reminder",
}


def _key(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


def section_key(name: str, canonical_name: str | None) -> str:
    """The identity of a section within a role: two sections with one key are the same section
    (duplicates, overrides and ``+=`` all compare keys)."""
    return canonical_name or _key(name)


def canonical(name: str) -> str | None:
    """The canonical section a name denotes, or None for a custom section."""
    key = _key(name)
    return _ALIASES.get(key) or MISSPELLINGS.get(key)


def misspelling_of(name: str) -> str | None:
    """The section a name is a known or near misspelling of (None when it is a correct name)."""
    key = _key(name)
    if key in _ALIASES:
        return None
    if key in MISSPELLINGS:
        return MISSPELLINGS[key]
    close = difflib.get_close_matches(key, [k for k in _ALIASES if k.isascii() and len(k) > 4], n=1, cutoff=0.85)
    return _ALIASES[close[0]] if close else None


def title_for(name: str, canonical_name: str | None, explicit: str | None) -> str:
    """The heading a section renders under: the explicit title, else the name as written when it is
    not plain ASCII lower-case (``规则``, ``Output Style``), else the canonical title, else the name
    with its first letter capitalised and underscores turned into spaces."""
    if explicit is not None:
        return explicit
    if not name.isascii() or any(c.isupper() for c in name):
        return name
    if canonical_name is not None and _key(name) in _ALIASES:
        return TITLES[canonical_name]
    return humanize(name)


def humanize(key: str) -> str:
    """``output_style`` -> ``Output style``; keys in other scripts are left alone."""
    text = key.replace("_", " ")
    return text[:1].upper() + text[1:]
