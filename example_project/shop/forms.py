from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError


class CheckoutForm(forms.Form):
    name = forms.CharField(max_length=255)
    email = forms.EmailField(max_length=128)
    phone = forms.CharField(max_length=20, help_text="e.g. 0812 3456 7890")
    address = forms.CharField(max_length=400, widget=forms.Textarea(attrs={"rows": 2}))
    city = forms.CharField(max_length=100)

    def clean_phone(self) -> str:
        phone = self.cleaned_data["phone"]
        digits = re.sub(r"\D", "", phone)
        if not 9 <= len(digits) <= 15 or not digits.startswith(("0", "62")):
            raise ValidationError("Enter an Indonesian phone number such as 0812 3456 7890.")
        return phone
