"""The email form's designer fields: the design itself (JSON the editor writes, and that the
page falls back to without scripts), where a new email starts from, a block to add without
scripts, and the one-way switch to raw HTML."""

import json

from django import forms

from . import designs
from .designs import BLOCKS, InvalidDesign, blank_design
from .designs.starters import STARTERS
from .models import Email

RAW_HTML = "raw"
BLANK = "blank"


def start_choices() -> list[tuple[str, object]]:
    others = [
        (f"email:{pk}", name)
        for pk, name in Email.objects.filter(design__isnull=False).order_by("name").values_list("pk", "name")
    ]
    choices: list[tuple[str, object]] = [
        (BLANK, "A blank design"),
        ("Templates", [(f"starter:{key}", starter.name) for key, starter in STARTERS.items()]),
    ]
    if others:
        choices.append(("A copy of another email's design", others))
    choices.append((RAW_HTML, "Raw HTML (expert mode, no designer)"))
    return choices


class DesignField(forms.JSONField):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 12, "cols": 100, "class": "vLargeTextField"}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, str):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


class EmailForm(forms.ModelForm):
    design = DesignField(
        required=False,
        label="Design (JSON)",
        help_text="The designer above edits this; without scripts, edit the blocks here.",
    )
    start_from = forms.ChoiceField(
        required=False, initial=BLANK, help_text="A template or another email's design can be changed freely after."
    )
    add_block = forms.ChoiceField(
        required=False,
        label="Add a block",
        choices=[("", "---------"), *((kind.type, kind.label) for kind in BLOCKS.values())],
        help_text="Added at the end when you save (the designer adds blocks without saving).",
    )
    switch_to_raw_html = forms.BooleanField(
        required=False,
        label="Switch to raw HTML",
        help_text="One-way: the design is dropped and its current HTML becomes editable by hand. "
        "The designer cannot read HTML back.",
    )

    class Meta:
        model = Email
        fields = (
            "name",
            "key",
            "purpose",
            "description",
            "subject",
            "preheader",
            "from_name",
            "from_email",
            "reply_to",
            "html_body",
            "text_body",
            "design",
            "custom_text",
        )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "start_from" in self.fields:
            self.fields["start_from"].choices = start_choices()  # type: ignore[attr-defined]  # a ChoiceField

    def clean_design(self):
        design = self.cleaned_data.get("design")
        if design is None:  # emptied: the blocks are gone, the email stays designed
            return blank_design() if self.instance.design is not None else None
        try:
            return designs.clean_design(design)
        except InvalidDesign as invalid:
            raise forms.ValidationError([str(error) for error in invalid.errors]) from invalid

    def save(self, commit: bool = True):
        email = super().save(commit=False)
        data = self.cleaned_data
        if self.instance._state.adding and "start_from" in self.fields:
            self._start(email, data.get("start_from") or BLANK)
        if data.get("add_block") and email.design is not None:
            email.design = {**email.design, "blocks": [*email.design["blocks"], BLOCKS[data["add_block"]].default()]}
        if data.get("switch_to_raw_html") and email.design is not None:
            # The HTML rendered from the design stays, now the marketer's to edit.
            email.design = None
            email.custom_text = False
        if commit:
            email.save()
        return email

    def _start(self, email: Email, start_from: str) -> None:
        # HTML typed on the add page with no template chosen is raw HTML too.
        if start_from == RAW_HTML or (start_from == BLANK and email.html_body.strip()):
            email.design = None
            return
        if start_from.startswith("starter:") and start_from[8:] in STARTERS:
            starter = STARTERS[start_from[8:]]
            email.design = starter.design
            email.subject = email.subject or starter.subject
            email.preheader = email.preheader or starter.preheader
        elif start_from.startswith("email:"):
            source = Email.objects.filter(pk=start_from[6:], design__isnull=False).first()
            email.design = source.design if source else blank_design()
        else:
            email.design = blank_design()
