"""Message templates: Jinja2 in its immutable sandbox, a folder per template, locale variants, shared blocks.

Layout of a template directory (see docs/delivery.md):

    templates/
      _blocks/footer.html            shared content, `{% include "_blocks/footer.html" %}`
      cart-reminder/
        subject.txt                  email subject, push title, inbox title
        email.html  email.txt        email parts (at least one)
        sms.txt  push.txt  inbox.html  webhook.json  offline.txt
        email.fr.html  subject.fr.txt    a locale variant of any part: <part>.<locale>.<ext>

The sandbox refuses access to internals (`''.__class__.__mro__`, `cycler.__init__.__globals__`, ...) and
undefined names are errors (StrictUndefined): either way rendering raises `TemplateError`, for that
customer only, and nothing dangerous is ever output. HTML parts are autoescaped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from rumbo.delivery.errors import TemplateError
from rumbo.delivery.message import SendOrder

# The parts each channel reads; the first group must have at least one present.
CHANNEL_PARTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "email": (("email.txt", "email.html"), ("subject.txt",)),
    "sms": (("sms.txt",), ()),
    "push": (("push.txt",), ("subject.txt",)),
    "inbox": (("inbox.html", "inbox.txt"), ("subject.txt",)),
    "webhook": ((), ("webhook.json", "subject.txt")),
    "offline": ((), ("offline.txt", "subject.txt")),
}


class TemplateSource(Protocol):
    """Where template files come from: `read("cart-reminder/email.html")` is its text, or None if absent."""

    def read(self, path: str) -> str | None: ...

    def describe(self, path: str) -> str:
        """Where a file is, for error messages."""
        ...


class DirectoryTemplates:
    """Templates in a folder, laid out as the module docstring shows."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def read(self, path: str) -> str | None:
        parts = path.split("/")
        if any(p in ("", ".", "..") for p in parts):
            return None
        file = self.root.joinpath(*parts)
        try:
            return file.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def describe(self, path: str) -> str:
        return str(self.root / path)


class MemoryTemplates:
    """Templates held in a dict of path → text: for tests and previews of unsaved edits."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = dict(files)

    def read(self, path: str) -> str | None:
        return self.files.get(path)

    def describe(self, path: str) -> str:
        return f"<memory>/{path}"


class _Loader(jinja2.BaseLoader):
    def __init__(self, source: TemplateSource) -> None:
        self.source = source

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        text = self.source.read(template)
        if text is None:
            raise jinja2.TemplateNotFound(template)
        # Compiled once per renderer: the relay reads templates when it starts (docs/delivery.md).
        return text, self.source.describe(template), lambda: True


def locales(locale: object) -> list[str]:
    """The variants to try for a profile's locale trait, most specific first: "fr-CA" → ["fr-CA", "fr"]."""
    if not isinstance(locale, str) or not locale.strip():
        return []
    tag = locale.strip().replace("_", "-")
    found = [tag]
    if "-" in tag:
        found.append(tag.split("-", 1)[0])
    return found


@dataclass(frozen=True, slots=True)
class Rendered:
    """A template rendered for one customer and channel; `parts` maps each file stem to its text."""

    template: str
    channel: str
    locale: str | None
    parts: dict[str, str]

    def part(self, name: str, default: str = "") -> str:
        return self.parts.get(name, default)


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, with each template's globals as a plain dict rather than a ChainMap over the
    environment's: Jinja copies and iterates them for every template rendered, and iterating a ChainMap
    was a tenth of the time a send took to render. Nothing changes the globals once templates load."""

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **(d or {})}


class Renderer:
    """Renders templates from a source in Jinja's immutable sandbox. Safe to share between threads."""

    def __init__(self, source: TemplateSource) -> None:
        self.source = source
        self.env = _Environment(
            loader=_Loader(source),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm"), default=False),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
        )
        self.env.filters["tojson"] = lambda value: json.dumps(value, ensure_ascii=False)
        self._picked: dict[tuple[str, str, tuple[str, ...]], tuple[str, str | None] | None] = {}
        # Compiled templates by path, looked up without Jinja's cache (a lock and an up-to-date check each).
        self._templates: dict[str, jinja2.Template] = {}

    def _pick(self, template: str, part: str, tags: list[str]) -> tuple[str, str | None] | None:
        key = (template, part, tuple(tags))
        if key not in self._picked:
            self._picked[key] = self._find(template, part, tags)
        return self._picked[key]

    def _find(self, template: str, part: str, tags: list[str]) -> tuple[str, str | None] | None:
        stem, _, ext = part.rpartition(".")
        for tag in tags:
            path = f"{template}/{stem}.{tag}.{ext}"
            if self.source.read(path) is not None:
                return path, tag
        path = f"{template}/{part}"
        return (path, None) if self.source.read(path) is not None else None

    def render(
        self, template: str, channel: str, context: Mapping[str, Any], *, locale: object = None
    ) -> Rendered:
        """Render the parts `channel` reads; raise TemplateError naming the file and line on any failure."""
        if channel not in CHANNEL_PARTS:
            raise TemplateError(template, f"no template parts are defined for channel {channel!r}")
        if "/" in template or template.startswith((".", "_")) or not template:
            raise TemplateError(template, "a template name is one folder name, not a path")
        needed, optional = CHANNEL_PARTS[channel]
        tags = locales(locale)
        parts: dict[str, str] = {}
        chosen: str | None = None
        for part in (*needed, *optional):
            picked = self._pick(template, part, tags)
            if picked is None:
                continue
            path, tag = picked
            chosen = chosen or tag
            parts[part.rpartition(".")[0] if part.endswith(".txt") else part] = self._render_file(
                template, path, context
            )
        if needed and not any((p.rpartition(".")[0] if p.endswith(".txt") else p) in parts for p in needed):
            where = self.source.describe(template)
            raise TemplateError(
                template, f"has none of {', '.join(needed)} for channel {channel!r} — add one under {where}"
            )
        return Rendered(template, channel, chosen, parts)

    def _render_file(self, template: str, path: str, context: Mapping[str, Any]) -> str:
        try:
            compiled = self._templates.get(path)
            if compiled is None:
                compiled = self._templates[path] = self.env.get_template(path)
            return str(compiled.render(context)).strip()
        except SecurityError as exc:
            raise TemplateError(
                template,
                f"refused by the sandbox: {exc} — templates may only use the data they are given",
                file=self.source.describe(path),
                line=_line(exc),
            ) from exc
        except jinja2.UndefinedError as exc:
            raise TemplateError(
                template,
                f"{exc} — guard optional data with `{{% if ... is defined %}}` or `|default(...)`",
                file=self.source.describe(path),
                line=_line(exc),
            ) from exc
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                template, f"syntax error: {exc.message}", file=exc.filename, line=exc.lineno
            ) from exc
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(
                template, f"includes {exc.name!r}, which does not exist", file=self.source.describe(path)
            ) from exc
        except jinja2.TemplateError as exc:
            raise TemplateError(template, str(exc), file=self.source.describe(path), line=_line(exc)) from exc
        except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
            # Errors raised by the data itself (a division by zero, a bad format spec): this customer only.
            raise TemplateError(
                template, f"{type(exc).__name__}: {exc}", file=self.source.describe(path), line=_line(exc)
            ) from exc


def _line(exc: BaseException) -> int | None:
    """The template line an error was raised at, from Jinja's rewritten traceback."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith((".html", ".txt", ".json", ".htm")):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def context_for(order: SendOrder, links: Any = None) -> dict[str, Any]:
    """What a template sees: profile, traits, event, journey, offer, send, and the message's links.

    `links` is a `rumbo.delivery.tokens.Links` or None (then the URLs are empty and `track` is identity).
    """
    s = order.send
    ws = order.workspace
    if links is not None:

        def track(url: str) -> str:
            return str(links.click_url(ws, s.key, str(url)))

        unsubscribe, preferences = links.preference_urls(ws, s.key)
    else:

        def track(url: str) -> str:
            return str(url)

        unsubscribe = preferences = ""
    return {
        "customer": s.customer,
        "profile": {
            "traits": order.profile.traits,
            "consent": order.profile.consent,
            "tags": list(order.profile.tags),
        },
        "traits": order.profile.traits,
        "event": order.event or {},
        "journey": {
            "name": s.journey,
            "version": s.version,
            "run": s.run,
            "node": s.node,
            "variant": s.variant,
        },
        "offer": s.offer,
        "send": {"key": s.key, "channel": s.channel, "template": s.template, "topic": s.topic},
        "unsubscribe_url": unsubscribe,
        "preferences_url": preferences,
        "track": track,
    }


def preview(renderer: Renderer, template: str, channel: str, order: SendOrder, links: Any = None) -> Rendered:
    """Render a template for a given profile (and event) as the relay would, without sending anything."""
    return renderer.render(
        template, channel, context_for(order, links), locale=order.profile.traits.get("locale")
    )
