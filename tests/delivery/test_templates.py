"""Templates: sandbox, strict undefined, autoescape, shared blocks, locale variants, preview."""

from __future__ import annotations

from pathlib import Path

import pytest

from rumbo.delivery.errors import TemplateError
from rumbo.delivery.message import Profile, SendOrder
from rumbo.delivery.templates import DirectoryTemplates, MemoryTemplates, Renderer, locales, preview
from rumbo.delivery.tokens import Links
from tests.delivery.orders import make_send, write_templates

INJECTIONS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ '{0.__class__}'.format(traits) }}",
    "{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ traits.__class__ }}",
    "{{ traits.update({'x': 1}) }}",
    "{% set x = traits.pop('email') %}{{ x }}",
]


@pytest.mark.parametrize("source", INJECTIONS)
def test_injection_attempts_render_nothing_and_are_reported(source: str) -> None:
    renderer = Renderer(MemoryTemplates({"evil/sms.txt": source}))
    traits = {"email": "a@example.com"}
    with pytest.raises(TemplateError) as caught:
        renderer.render("evil", "sms", {"traits": traits})
    assert "evil" in str(caught.value) and "sms.txt" in str(caught.value)
    assert traits == {"email": "a@example.com"}  # the immutable sandbox changed nothing


def test_missing_data_is_an_error_with_file_line_and_advice(tmp_path: Path) -> None:
    renderer = Renderer(DirectoryTemplates(write_templates(tmp_path)))
    with pytest.raises(TemplateError) as caught:
        renderer.render("broken", "email", {"traits": {}, "preferences_url": ""})
    message = str(caught.value)
    assert "broken/email.txt:1" in message and "missing_trait" in message and "default" in message


def test_syntax_errors_and_missing_parts_name_the_file() -> None:
    renderer = Renderer(MemoryTemplates({"bad/sms.txt": "Hi {{ name ", "partial/subject.txt": "S"}))
    with pytest.raises(TemplateError, match=r"bad/sms.txt:1\): syntax error"):
        renderer.render("bad", "sms", {})
    with pytest.raises(TemplateError, match=r"has none of email\.txt, email\.html"):
        renderer.render("partial", "email", {})
    with pytest.raises(TemplateError, match="one folder name"):
        renderer.render("../etc", "sms", {})


def test_html_is_autoescaped_text_is_not_and_blocks_are_shared(tmp_path: Path) -> None:
    renderer = Renderer(DirectoryTemplates(write_templates(tmp_path)))
    context = {
        "traits": {"first_name": "<b>Zoë & co</b>"},
        "track": str,
        "preferences_url": "https://p/x?a=1&b=2",
    }
    html = renderer.render("welcome", "email", context).parts
    assert "&lt;b&gt;Zoë &amp; co&lt;/b&gt;" in html["email.html"]
    assert 'href="https://p/x?a=1&amp;b=2"' in html["email.html"]  # the shared footer block, escaped
    assert html["email"].startswith("Hello <b>Zoë & co</b>")
    assert "Manage your preferences: https://p/x?a=1&b=2" in html["email"]  # the same block, text flavour


def test_locale_variants_fall_back_from_region_to_language_to_default(tmp_path: Path) -> None:
    assert locales("es_MX") == ["es-MX", "es"] and locales(None) == [] and locales(3) == []
    renderer = Renderer(DirectoryTemplates(write_templates(tmp_path)))
    context = {"traits": {"first_name": "Lu"}, "track": str, "preferences_url": ""}
    spanish = renderer.render("welcome", "email", context, locale="es-MX")
    assert spanish.locale == "es" and spanish.parts["subject"] == "Bienvenida, Lu"
    assert spanish.parts["email"].startswith("Hola Lu")
    french = renderer.render("welcome", "email", context, locale="fr")
    assert french.locale is None and french.parts["subject"] == "Welcome, Lu"


def test_preview_renders_a_template_for_a_profile_with_signed_links(tmp_path: Path) -> None:
    renderer = Renderer(DirectoryTemplates(write_templates(tmp_path)))
    order = SendOrder(
        "acme", make_send(1), Profile(traits={"first_name": "Ana"}), {"event": "cart_abandoned"}
    )
    rendered = preview(renderer, "welcome", "email", order, Links("https://shop.example/d", b"k"))
    assert rendered.parts["subject"] == "Welcome, Ana"
    assert "https://shop.example/d/c?t=" in rendered.parts["email.html"]
    assert "https://shop.example/d/preferences?t=" in rendered.parts["email"]
