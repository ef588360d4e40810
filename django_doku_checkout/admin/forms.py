"""The order form: DOKU's address objects and channel list as fields a person fills in, not JSON."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy

from django_doku_checkout import payment_methods
from django_doku_checkout.models import Order

#: DOKU's address object, in the order its checkout page shows it.
ADDRESS_PARTS = {
    "first_name": gettext_lazy("first name"),
    "last_name": gettext_lazy("last name"),
    "address": gettext_lazy("address"),
    "city": gettext_lazy("city"),
    "postal_code": gettext_lazy("postal code"),
    "phone": gettext_lazy("phone"),
    "country_code": gettext_lazy("country code, e.g. IDN"),
}


class AddressWidget(forms.MultiWidget):
    template_name = "admin/django_doku_checkout/order/address_widget.html"

    def __init__(self) -> None:
        super().__init__([forms.TextInput(attrs={"placeholder": label}) for label in ADDRESS_PARTS.values()])

    def decompress(self, value: Any) -> list[Any]:
        value = value if isinstance(value, dict) else {}
        return [value.get(part, "") for part in ADDRESS_PARTS]


class AddressField(forms.MultiValueField):
    """DOKU's ``shipping_address`` or ``billing_address``: empty parts are left out."""

    widget = AddressWidget

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("encoder", None)
        kwargs.pop("decoder", None)
        fields = [forms.CharField(required=False, max_length=400) for _ in ADDRESS_PARTS]
        super().__init__(fields=fields, require_all_fields=False, required=False, **kwargs)

    def compress(self, data_list: list[Any]) -> dict[str, str]:
        return {part: value for part, value in zip(ADDRESS_PARTS, data_list or [], strict=False) if value}


class OrderForm(forms.ModelForm):  # type: ignore[type-arg]
    shipping_address = AddressField(label=gettext_lazy("shipping address"))
    billing_address = AddressField(label=gettext_lazy("billing address"))
    payment_method_types = forms.MultipleChoiceField(
        label=gettext_lazy("payment methods"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None ticked offers every channel active on your DOKU account."),
    )

    class Meta:
        model = Order
        fields = "__all__"  # noqa: DJ007 - the admin shows every editable field of the order

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields.get("payment_method_types")
        if isinstance(field, forms.MultipleChoiceField):
            # DOKU's codes, and any other an order already has (DOKU adds channels over time).
            current = list(self.instance.payment_method_types or []) if self.instance.pk else []
            codes = sorted(set(payment_methods.KNOWN_METHODS) | set(current), key=payment_methods.label)
            field.choices = [(code, payment_methods.label(code)) for code in codes]
            field.initial = current
