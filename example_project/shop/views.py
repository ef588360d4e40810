from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from django_doku_checkout.exceptions import DokuValidationError
from django_doku_checkout.models import Order
from django_doku_checkout.payloads import LineItemData
from django_doku_checkout.services import create_order
from shop import cart as session_cart
from shop.forms import CheckoutForm
from shop.models import Product


def product_list(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/products.html", {"products": Product.objects.all()})


@require_POST
def add_to_cart(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=product_id)
    cart = session_cart.contents(request)
    cart[str(product.pk)] = cart.get(str(product.pk), 0) + 1
    session_cart.save(request, cart)
    messages.success(request, f"{product.name} added to your cart.")
    return redirect("shop:products")


@require_http_methods(["GET", "POST"])
def cart_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        cart = session_cart.parse_quantities(request.POST)
        if cart is None:
            return HttpResponseBadRequest("Each quantity must be a whole number from 0 to 99.")
        session_cart.save(request, cart)
        return redirect("shop:cart")
    lines = session_cart.lines(request)
    return render(request, "shop/cart.html", {"lines": lines, "total": sum(line.total for line in lines)})


@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    lines = session_cart.lines(request)
    if not lines:
        return redirect("shop:products")
    form = CheckoutForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            order = create_order(
                line_items=[
                    LineItemData(
                        id=line.product.sku,
                        name=line.product.name,
                        price=line.product.price,
                        quantity=line.quantity,
                        sku=line.product.sku,
                        category=line.product.category,
                    )
                    for line in lines
                ],
                customer_name=data["name"],
                customer_email=data["email"],
                customer_phone=data["phone"],
                customer_address=data["address"],
                customer_city=data["city"],
                customer_country="ID",
            )
        except DokuValidationError as err:
            # The form applied DOKU's rules to each field; what is left is the cart (a product DOKU refuses).
            form.add_error(None, err.errors)
        else:
            session_cart.save(request, {})
            return redirect("shop:order", public_id=order.public_id)
    total = sum(line.total for line in lines)
    return render(request, "shop/checkout.html", {"form": form, "lines": lines, "total": total})


def order_detail(request: HttpRequest, public_id: UUID) -> HttpResponse:
    order = get_object_or_404(Order.objects.prefetch_related("line_items"), public_id=public_id)
    return render(request, "shop/order.html", {"order": order})
