from django import forms


class RecordingPreferenceForm(forms.Form):
    enabled = forms.BooleanField(required=False)
