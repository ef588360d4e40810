"""The order admin's forms: the order (DOKU's address objects, channels and tenors as fields a
person fills in, not JSON), its line items' total, and the Refund button's form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from django_doku_checkout import payment_methods
from django_doku_checkout.formatting import format_rupiah
from django_doku_checkout.models import Order, Refund

#: The instalment tenors DOKU offers, in months (0: the full amount at once).
TENORS = (
    (0, gettext_lazy("full payment")),
    (3, gettext_lazy("3 months")),
    (6, gettext_lazy("6 months")),
    (12, gettext_lazy("12 months")),
)

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
    allow_tenor = forms.TypedMultipleChoiceField(
        label=gettext_lazy("instalment tenors"),
        choices=TENORS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Card instalments to offer; none ticked offers DOKU's default."),
    )

    class Meta:
        model = Order
        fields = "__all__"  # noqa: DJ007 - the admin shows every editable field of the order

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self._meta.exclude or ():
            # The admin excludes its read-only fields; the ones declared above would stay and be checked.
            self.fields.pop(name, None)
        field = self.fields.get("payment_method_types")
        if isinstance(field, forms.MultipleChoiceField):
            # DOKU's codes, and any other an order already has (DOKU adds channels over time).
            current = list(self.instance.payment_method_types or []) if self.instance.pk else []
            codes = sorted(set(payment_methods.KNOWN_METHODS) | set(current), key=payment_methods.label)
            field.choices = [(code, payment_methods.label(code)) for code in codes]
            field.initial = current


class LineItemFormSet(BaseInlineFormSet):  # type: ignore[type-arg]
    """Checks the order's amount against its line items, so DOKU never rejects the sum."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        total = sum(
            form.cleaned_data["price"] * form.cleaned_data["quantity"]
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        )
        amount = self.instance.amount
        if total and amount != total:
            raise ValidationError(
                _(
                    "The order's amount (%(amount)s) does not equal its line items' total (%(total)s). "
                    "DOKU refuses a payment whose items do not add up; correct the amount or the items."
                )
                % {"amount": format_rupiah(amount), "total": format_rupiah(total)},
                code="amount_mismatch",
            )


class RefundForm(forms.Form):
    """The Refund button's form: how much, and why; for channels without a refund API, DOKU's reference.

    ``key`` is issued when the form is rendered; the refund it makes is found by it again.
    """

    amount = forms.IntegerField(label=gettext_lazy("Amount"), min_value=1, help_text=gettext_lazy("Whole rupiah."))
    reason = forms.CharField(label=gettext_lazy("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    reference = forms.CharField(
        label=gettext_lazy("DOKU's refund reference"),
        required=False,
        max_length=128,
        help_text=gettext_lazy("DOKU's reference for the refund, from its support's answer, for the books."),
    )
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    #: The newest of the order's refunds when the form was rendered (0: none): one made since,
    #: in another tab or by another staff member, makes the service refuse until staff confirm.
    seen = forms.IntegerField(widget=forms.HiddenInput, min_value=0, required=False)

    def __init__(self, *args: Any, left: int, recent: list[Refund], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].validators.append(MaxValueValidator(left))
        self.fields["amount"].widget.attrs["max"] = left
        if recent:
            # A form rendered again (Back, which fetches the page anew; a second tab) has a new
            # key: a refund made minutes ago must be confirmed as another one, never repeated by habit.
            self.fields["again"] = forms.BooleanField(
                label=gettext_lazy("This is another refund"),
                help_text=gettext_lazy("Not a repeat of the recent refund above."),
                error_messages={
                    "required": gettext_lazy("This order was refunded minutes ago; tick the box to refund it again.")
                },
            )
