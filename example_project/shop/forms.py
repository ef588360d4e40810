from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError

from django_doku_checkout.validators import (
    validate_customer_address,
    validate_customer_email,
    validate_customer_name,
    validate_customer_phone,
)


class CheckoutForm(forms.Form):
    """The shopper's details, checked against DOKU's rules (the app's validators) field by field.

    ``create_order`` applies the same rules, so what this form accepts is an order, and what
    DOKU would refuse is an error next to its field rather than a failed checkout.
    """

    name = forms.CharField(max_length=255, validators=[validate_customer_name])
    email = forms.EmailField(max_length=128, validators=[validate_customer_email])
    phone = forms.CharField(max_length=20, help_text="e.g. 0812 3456 7890", validators=[validate_customer_phone])
    address = forms.CharField(
        max_length=400, widget=forms.Textarea(attrs={"rows": 2}), validators=[validate_customer_address]
    )
    city = forms.CharField(max_length=100)

    def clean_phone(self) -> str:
        # The shop's own rule on top of DOKU's: it sells in Indonesia only.
        phone = self.cleaned_data["phone"]
        digits = re.sub(r"\D", "", phone)
        if not 9 <= len(digits) <= 15 or not digits.startswith(("0", "62")):
            raise ValidationError("Enter an Indonesian phone number such as 0812 3456 7890.")
        return phone
