from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from shop.models import Product

PRODUCTS = [
    ("Kopi Toraja 250g", "KOPI-TORAJA", 85_000, "Single-origin arabica from South Sulawesi."),
    ("Kopi Gayo 250g", "KOPI-GAYO", 90_000, "Bright, fruity arabica from Aceh."),
    ("Teh Melati 100g", "TEH-MELATI", 35_000, "Jasmine tea, the Javanese way."),
    ("Gula Aren 500g", "GULA-AREN", 28_000, "Palm sugar for your es kopi susu."),
]


class Command(BaseCommand):
    help = "Create the demo products and, in DEBUG only, a demo staff user."

    def handle(self, *args: Any, **options: Any) -> None:
        for name, sku, price, description in PRODUCTS:
            Product.objects.update_or_create(
                sku=sku, defaults={"name": name, "price": price, "description": description}
            )
        if settings.DEBUG:
            User = get_user_model()
            if not User.objects.filter(username="admin").exists():
                # Dangerous outside a local demo: a known password. Only created with DEBUG on.
                User.objects.create_superuser("admin", "admin@example.com", "admin")
            self.stdout.write("Demo admin: http://127.0.0.1:8000/admin/ (user admin, password admin)")
        else:
            self.stdout.write("Create a staff user with: python example_project/manage.py createsuperuser")
        self.stdout.write(f"{len(PRODUCTS)} demo products ready.")
