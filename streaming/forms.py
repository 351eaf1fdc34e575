"""Validation of what nginx-rtmp posts to the callbacks (anything else is refused with 403)."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator

NODE = RegexValidator(r"^[A-Za-z0-9_-]{1,64}$")
NAME = RegexValidator(r"^[A-Za-z0-9_.~-]{1,200}$")
READER = RegexValidator(r"^[der][0-9]{1,12}$")  # destination, encoder, recorder


class RtmpCallbackForm(forms.Form):
    call = forms.ChoiceField(
        choices=[(c, c) for c in ("publish", "publish_done", "update_publish", "play", "update_play")]
    )
    app = forms.CharField(max_length=64)
    name = forms.CharField(max_length=200, validators=[NAME])
    addr = forms.CharField(max_length=64, required=False)
    clientid = forms.CharField(max_length=32, required=False)
    flashver = forms.CharField(max_length=200, required=False)
    tcurl = forms.CharField(max_length=500, required=False)
    type = forms.CharField(max_length=32, required=False)
    # on_play: which of our readers this is (``?reader=d<pk>``, ``e<pk>``, ``r<pk>`` on the play URL), if one.
    reader = forms.CharField(max_length=16, required=False, validators=[READER])
    node = forms.CharField(max_length=64, validators=[NODE])
