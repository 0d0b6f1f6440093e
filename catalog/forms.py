"""Forms for people's edits to the catalog."""

from django import forms


class ListField(forms.CharField):
    """Comma-separated words, shown and taken back as a list."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(value)
        return value


class CatalogEditForm(forms.Form):
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    tags = ListField(required=False, help_text="Comma-separated.")
    owners = ListField(required=False, help_text="People or teams, comma-separated.")

    @classmethod
    def for_object(cls, obj, data=None):
        return cls(
            data=data,
            initial={"description": obj.description, "tags": obj.tags, "owners": obj.owners},
        )
