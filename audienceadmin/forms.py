from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.forms.models import ModelChoiceIterator
from django.http import QueryDict
from django.utils import timezone

from audienceadmin import app_names, names, roles, selectors, wording
from audienceadmin.batch import Secret
from audienceadmin.models import AuditEvent, BatchApp
from audienceadmin.selectors import HISTORY_VIEW_CHOICES, HistoryFilter

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _offer_only(form: forms.BaseForm, field: str, queryset: QuerySet[Any]) -> None:
    """The choices of a model choice field: those the user may pick (set per request)."""
    cast(forms.ModelChoiceField, form.fields[field]).queryset = queryset


def validate_audience_name(value: str) -> None:
    if not names.is_valid(value):
        raise forms.ValidationError(names.refusal(value))


class _AppsByKind(ModelChoiceIterator):
    """The apps grouped by kind: an ``<optgroup>`` "MEP apps", another "CEP projects"."""

    def __iter__(self) -> Any:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        groups: dict[str, list[Any]] = {}
        for obj in self.queryset:
            groups.setdefault(obj.kind, []).append(self.choice(obj))
        for kind, label in ((BatchApp.Kind.MEP, "MEP apps"), (BatchApp.Kind.CEP, "CEP projects")):
            if kind in groups:
                yield (label, groups[kind])

    def __len__(self) -> int:
        return len(list(iter(self)))


class AppChoiceField(forms.ModelChoiceField):
    """An app picker whose options are grouped by kind (MEP apps, CEP projects): the kind shows,
    and each option is the app's name as everywhere else."""

    iterator = _AppsByKind


class AudienceNameField(forms.CharField):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", None)
        kwargs.setdefault("strip", False)
        super().__init__(validators=[validate_audience_name], **kwargs)

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.update({"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"})
        return attrs


class DeleteAudienceForm(forms.Form):
    app = AppChoiceField(queryset=BatchApp.objects.none(), empty_label="Choose an app…")
    name = AudienceNameField(label="Audience name", help_text=wording.NAME_RULE)

    def __init__(self, *args: Any, apps: QuerySet[BatchApp], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer_only(self, "app", apps)


def _reason_field() -> forms.CharField:
    """The two-person rule's reason (required in an app under it: ``_require_reason``)."""
    return forms.CharField(
        label="Why is this deletion needed?",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="This app requires a second person's approval: the approver reads this.",
    )


def _require_reason(form: forms.Form) -> None:
    app = form.cleaned_data.get("app")
    if app is not None and app.needs_approval and not form.cleaned_data.get("reason", "").strip():
        form.add_error("reason", wording.REASON_REQUIRED)


class ConfirmDeleteForm(DeleteAudienceForm):
    confirm_name = forms.CharField(label="Type the audience name to confirm", strip=False, max_length=300)
    api_version = forms.ChoiceField(
        label="Delete it through",
        choices=[
            ("1.1", "Custom Audience API 1.1 (install IDs)"),
            ("1.0", "API 1.0 (custom user IDs, advertising IDs)"),
        ],
        initial="1.1",
        required=False,  # asked only where the preview could not tell (``Preview.choose_version``)
        widget=forms.RadioSelect,
        help_text=wording.VERSION_CHOICE_HELP,
    )
    ticket = forms.CharField(required=False, max_length=4000)  # signed by the page (audienceadmin.confirmation)
    reason = _reason_field()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["app"].widget = forms.HiddenInput()
        self.fields["name"].widget = forms.HiddenInput()
        self.fields["confirm_name"].widget.attrs.update(
            {"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none", "autofocus": True}
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        name, typed = cleaned.get("name"), cleaned.get("confirm_name")
        if name and typed is not None and typed != name:
            self.add_error(
                "confirm_name",
                "The name you typed does not match the audience to delete (names are case-sensitive).",
            )
        _require_reason(self)
        return cleaned


class SecretField(forms.CharField):
    """A key typed into a form: cleaned into a ``Secret``, so no frame after this one holds it in clear."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strip=True, widget=SecretInput(), max_length=200, **kwargs)

    def clean(self, value: Any) -> Secret | str:
        text = super().clean(value)
        if not text:
            return ""
        if len(text) < 12 or any(c.isspace() for c in text):
            raise forms.ValidationError("This does not look like a Batch key: at least 12 characters, no spaces.")
        return Secret(text)


class SecretInput(forms.PasswordInput):
    """Never renders a value back, whatever the form holds."""

    def __init__(self) -> None:
        super().__init__(render_value=False, attrs={"autocomplete": "new-password"})


class AppForm(forms.Form):
    name = forms.CharField(label="Display name", max_length=100)
    kind = forms.ChoiceField(
        label="Kind",
        choices=BatchApp.Kind.choices,
        initial=BatchApp.Kind.MEP,
        required=False,  # not sent (a script written before there were two kinds): an MEP app
        widget=forms.RadioSelect,
        help_text=wording.APP_KIND_HELP,
    )
    api_key = SecretField(label=wording.API_KEY_FIELD_LABEL, help_text=wording.API_KEY_FIELD_HELP)
    rest_api_key = SecretField(label=wording.REST_API_KEY_LABEL, help_text=wording.REST_KEY_FIELD_HELP)

    approval_policy = forms.ChoiceField(
        label="Approval policy",
        choices=BatchApp.ApprovalPolicy.choices,
        initial=BatchApp.ApprovalPolicy.NONE,
        required=False,  # left out: unchanged (a new app: no approval)
        widget=forms.RadioSelect,
        help_text="With a second person: every deletion (single or bulk) waits for another operator's approval.",
    )
    allowed_operators: forms.ModelMultipleChoiceField[User] = forms.ModelMultipleChoiceField(
        label="Restrict to these operators",
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked: every operator may delete audiences in this app.",
    )

    def __init__(self, *args: Any, operators: QuerySet[User], instance: BatchApp | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer_only(self, "allowed_operators", operators)
        self.instance = instance
        if instance is not None:
            # The kind is chosen once: the stored keys mean what it says.
            self.fields["kind"].disabled = True
            self.fields["kind"].initial = instance.kind
            self.fields["api_key"].label = wording.api_key_label(instance.kind)
            for field, hint in (
                ("api_key", instance.api_key_hint),
                ("rest_api_key", instance.rest_api_key_hint),
            ):
                self.fields[field].required = False
                self.fields[
                    field
                ].help_text = f"Stored key ends in {hint}. Leave empty to keep it; type a new one to replace it."

    def clean_kind(self) -> str:
        return str(self.cleaned_data.get("kind") or BatchApp.Kind.MEP)

    def clean_approval_policy(self) -> str:
        policy: str = self.cleaned_data.get("approval_policy") or ""
        if not policy:
            return self.instance.approval_policy if self.instance is not None else BatchApp.ApprovalPolicy.NONE
        return policy

    def clean_name(self) -> str:
        """A new or changed name is normalised and checked (``app_names``); an unchanged one is kept."""
        name: str = self.cleaned_data["name"]
        if self.instance is not None and name == self.instance.name:
            return name
        name = app_names.normalised(name)
        why = selectors.app_name_refusal(name, by_another_than=self.instance)
        if why is not None:
            raise forms.ValidationError(why)
        return name


# The days the history's date filters accept: a day's start and end, in any timezone, stay
# within what a datetime (and so the database) can hold.
FIRST_DAY = date.min + timedelta(days=1)
LAST_DAY = date.max - timedelta(days=1)


class HistoryFilterForm(forms.Form):
    """The history's filters, read from the query string so that every view is a bookmarkable URL.

    The page and its CSV export read the same form: the same filters give the same rows, and a
    filter that is not valid is an error for both (the export never falls back to other rows)."""

    view = forms.ChoiceField(choices=HISTORY_VIEW_CHOICES, required=False, widget=forms.HiddenInput)
    app = AppChoiceField(queryset=BatchApp.objects.none(), required=False, empty_label="All apps", label="App")
    actor = forms.CharField(label="Who", required=False, max_length=150)
    outcome = forms.ChoiceField(
        choices=[("", "All outcomes"), *AuditEvent.Outcome.choices], required=False, label="Outcome"
    )
    audience = forms.CharField(label="Audience", required=False, max_length=255)
    # Form.prefix is not shadowed: the form's metaclass moves declared fields off the class (mypy cannot see it).
    prefix = forms.BooleanField(label="Names starting with this", required=False)  # type: ignore[assignment]
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To (inclusive)", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, apps: QuerySet[BatchApp], **kwargs: Any) -> None:
        """``apps``: those whose events the user may read (``selectors.apps_in_history``)."""
        super().__init__(*args, **kwargs)
        _offer_only(self, "app", apps)

    def _clean_day(self, field: str) -> date | None:
        day: date | None = self.cleaned_data.get(field)
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            # A day's bounds in any timezone must be datetimes the database can hold.
            raise forms.ValidationError(f"Choose a date between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}.")
        return day

    def clean_since(self) -> date | None:
        return self._clean_day("since")

    def clean_until(self) -> date | None:
        return self._clean_day("until")

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("since") and cleaned.get("until") and cleaned["since"] > cleaned["until"]:
            self.add_error("until", "“To” is before “From”.")
        return cleaned

    def error_text(self) -> str:
        """Every error, one line each, named by its field: the CSV export's refusal."""
        return "\n".join(
            f"{self.fields[name].label or name}: {message}" if name in self.fields else str(message)
            for name, messages in self.errors.items()
            for message in messages
        )

    def to_filter(self) -> HistoryFilter:
        """The filter of the valid fields (all of them when the form is valid). The days are turned
        into times here, in the operator's timezone, while the request has it active: a streamed CSV
        body runs after the timezone middleware has reset it."""
        self.is_valid()
        data = self.cleaned_data
        app, since, until = data.get("app"), data.get("since"), data.get("until")
        zone = timezone.get_current_timezone()
        return HistoryFilter(
            view=data.get("view") or "deletions",
            app=app.pk if app else None,
            actor=(data.get("actor") or "").strip(),
            outcome=data.get("outcome") or "",
            audience=(data.get("audience") or "").strip(),
            prefix=bool(data.get("prefix")),
            since=since,
            until=until,
            start=datetime.combine(since, time.min, tzinfo=zone) if since else None,
            end=datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone) if until else None,
        )


class BulkNamesForm(forms.Form):
    app = AppChoiceField(queryset=BatchApp.objects.none(), empty_label="Choose an app…")
    names = forms.CharField(
        label="Audience names",
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "autocomplete": "off"}),
        help_text="One per line (commas work too).",
    )
    file = forms.FileField(label="…or a .txt or .csv file", required=False, help_text="At most 1 MB, UTF-8.")

    def __init__(
        self, *args: Any, apps: QuerySet[BatchApp], refused_files: frozenset[str] = frozenset(), **kwargs: Any
    ) -> None:
        """``refused_files``: the file fields whose upload was stopped for its size (``uploads``)."""
        super().__init__(*args, **kwargs)
        _offer_only(self, "app", apps)
        self.refused_files = refused_files
        self.file_is_csv = False

    def clean_file(self) -> str:
        upload = self.cleaned_data.get("file")
        if "file" in self.refused_files or (upload and upload.size > settings.UPLOAD_MAX_BYTES):
            raise forms.ValidationError("The file is larger than 1 MB.")
        if not upload:
            return ""
        if not upload.name.lower().endswith((".txt", ".csv")):
            raise forms.ValidationError("Upload a .txt or .csv file.")
        self.file_is_csv = upload.name.lower().endswith(".csv")
        try:
            text: str = upload.read().decode("utf-8-sig")
            return text
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        text = "\n".join(filter(None, [cleaned.get("names", ""), cleaned.get("file", "")]))
        if not text.strip():
            if not self.errors:
                raise forms.ValidationError("Type or paste some audience names, or upload a file.")
            return cleaned
        file_text = cleaned.get("file", "")
        csv_text = file_text if self.file_is_csv else ""
        pasted = "\n".join(filter(None, [cleaned.get("names", ""), "" if csv_text else file_text]))
        cleaned["report"] = report = names.bulk_names_check(pasted, detect_header=True, csv_text=csv_text)
        problems = [f"“{name}”: {why}." for name, why in report.invalid[:10]]
        if report.invalid:
            more = f" (the first 10 of {len(report.invalid)})" if len(report.invalid) > 10 else ""
            problems.insert(0, f"Fix or remove these names{more}: Batch would refuse them.")
        if report.too_many:
            problems.append(f"{len(report.valid)} names: at most {settings.BULK_MAX_ITEMS} per job. Split the list.")
        if problems:
            if cleaned.get("file"):  # what the file held goes in the box, to be fixed there
                self.data = cast(QueryDict, self.data).copy()
                self.data["names"] = text
            self.add_error("names", problems)
        return cleaned


class BulkConfirmForm(forms.Form):
    app = forms.ModelChoiceField(queryset=BatchApp.objects.none(), widget=forms.HiddenInput)
    names = forms.CharField(widget=forms.HiddenInput)
    count = forms.IntegerField(label="Type the number of audiences to delete", min_value=1)
    reason = _reason_field()

    def __init__(self, *args: Any, apps: QuerySet[BatchApp], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer_only(self, "app", apps)
        self.fields["count"].widget.attrs.update({"autocomplete": "off", "inputmode": "numeric", "autofocus": True})

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        name_list = [n for n in cleaned.get("names", "").split("\n") if n]
        cleaned["name_list"] = name_list
        if cleaned.get("count") is not None and cleaned["count"] != len(name_list):
            self.add_error("count", f"That is not the number of audiences in the list ({len(name_list)}).")
        _require_reason(self)
        return cleaned


def _role_field() -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label="Roles",
        choices=[(name, name) for name in roles.ROLES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="No role: the person can sign in and see nothing.",
    )


class InviteForm(forms.Form):
    username = forms.CharField(label="Username", max_length=150)
    email = forms.EmailField(
        label="E-mail address", help_text="The invitation, with a link to set a password, goes here."
    )
    role_names = _role_field()

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"].strip()
        if selectors.username_taken(username):
            raise forms.ValidationError("That username is taken.")
        return username

    def clean_email(self) -> str:
        email: str = self.cleaned_data["email"].strip().lower()
        if selectors.email_taken(email):
            raise forms.ValidationError("Someone already has this e-mail address.")
        return email


class PersonRolesForm(forms.Form):
    role_names = _role_field()
