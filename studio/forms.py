from __future__ import annotations

from django import forms

from core.quality import PRESET_NAMES


class RevealKeyForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput, strip=False)

    def __init__(self, user: object, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):  # type: ignore[attr-defined]
            raise forms.ValidationError("That is not your password.")
        return password


class QualityForm(forms.Form):
    quality = forms.ChoiceField(choices=[(name, name) for name in PRESET_NAMES])


class StopForm(forms.Form):
    session = forms.IntegerField(min_value=1)
