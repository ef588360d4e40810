from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.urls import reverse

from django_doku_checkout.models import Order
from django_doku_checkout.payloads import LineItemData
from django_doku_checkout.services import create_order
from shop.models import Product

PRODUCTS = [
    ("Kopi Toraja 250g", "KOPI-TORAJA", 85_000, "Single-origin arabica from South Sulawesi."),
    ("Kopi Gayo 250g", "KOPI-GAYO", 90_000, "Bright, fruity arabica from Aceh."),
    ("Teh Melati 100g", "TEH-MELATI", 35_000, "Jasmine tea, the Javanese way."),
    ("Gula Aren 500g", "GULA-AREN", 28_000, "Palm sugar for your es kopi susu."),
]

# Orders staff took by phone or chat: the admin's "Create DOKU payment links" turns them
# into links to paste to the customer. Nothing is paid here; payments happen at the simulator.
PHONE_ORDERS = [
    ("DEMO-PHONE-1", "Budi Santoso", "budi@example.com", "0812-1111-2222", [("KOPI-TORAJA", 2), ("GULA-AREN", 1)]),
    ("DEMO-PHONE-2", "Ani Wijaya", "ani@example.com", "0813-3333-4444", [("TEH-MELATI", 3)]),
    ("DEMO-CHAT-3", "Dewi Lestari", "dewi@example.com", "0857-5555-6666", [("KOPI-GAYO", 1), ("TEH-MELATI", 1)]),
]


class Command(BaseCommand):
    help = "Create the demo products, a few phone orders and, in DEBUG only, a demo staff user."

    def handle(self, *args: Any, **options: Any) -> None:
        for name, sku, price, description in PRODUCTS:
            Product.objects.update_or_create(
                sku=sku, defaults={"name": name, "price": price, "description": description}
            )
        products = {product.sku: product for product in Product.objects.all()}
        for invoice_number, name, email, phone, lines in PHONE_ORDERS:
            if Order.objects.filter(invoice_number=invoice_number).exists():
                continue
            create_order(
                invoice_number=invoice_number,
                customer_name=name,
                customer_email=email,
                customer_phone=phone,
                line_items=[
                    LineItemData(name=products[sku].name, price=products[sku].price, quantity=quantity, sku=sku)
                    for sku, quantity in lines
                ],
            )
        if settings.DEBUG:
            User = get_user_model()
            if not User.objects.filter(username="admin").exists():
                # Dangerous outside a local demo: a known password. Only created with DEBUG on.
                User.objects.create_superuser("admin", "admin@example.com", "admin")
            # SITE_URL is where the shop runs (dev.py shop --port sets it), so the address works as printed.
            admin = settings.SITE_URL.rstrip("/") + reverse("admin:index")
            self.stdout.write(f"Demo admin: {admin} (user admin, password admin)")
        else:
            self.stdout.write("Create a staff user with: python example_project/manage.py createsuperuser")
        self.stdout.write(f"{len(PRODUCTS)} demo products and {len(PHONE_ORDERS)} phone orders ready.")
