"""DOKU's rules for a checkout form's fields, as Django validators.

``create_order`` refuses what DOKU would refuse; these let a shop's form say so next to the
input instead::

    from django_doku_checkout.validators import validate_customer_email, validate_customer_phone

    class CheckoutForm(forms.Form):
        email = forms.CharField(validators=[validate_customer_email])
        phone = forms.CharField(validators=[validate_customer_phone])
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError

from django_doku_checkout.payloads import CustomerData, LineItemData, check_order_data


def _customer_rule(field: str) -> Callable[[str], None]:
    def validate(value: str) -> None:
        errors = check_order_data(CustomerData(**{field: value}), [])
        if errors:
            raise ValidationError(errors, code="doku")

    validate.__name__ = f"validate_customer_{field}"
    validate.__doc__ = f"DOKU's rules for ``customer.{field}``."
    return validate


validate_customer_name = _customer_rule("name")
validate_customer_email = _customer_rule("email")
validate_customer_phone = _customer_rule("phone")
validate_customer_address = _customer_rule("address")


def validate_item_name(value: str) -> None:
    """DOKU's rules for a line item's name: filled, at most 255 characters."""
    errors = check_order_data(None, [LineItemData(name=value, price=0, quantity=1)])
    if errors:
        raise ValidationError([error.replace("order.line_items[0]", "line item") for error in errors], code="doku")
